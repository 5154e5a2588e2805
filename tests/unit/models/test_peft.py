"""PEFT methods on the backbone (stock peft save/reload, only adapters train) and on plain modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from peft import PeftModel
from torch import nn

from embodied.models.backbones.base import BACKBONES, Backbone
from embodied.models.backbones.tiny import TINY_BACKBONE_CONFIGS
from embodied.models.context import BuildContext
from embodied.models.freezing import apply_policy, build_method

ADAPTER_MARKS = ("lora_", "prompt_encoder", "ln_tuning_layers", "trainable_tokens_delta")
NEW_TOKENS = ["<|act_0|>", "<|act_1|>", "<|act_2|>"]


def tiny_backbone(family: str = "llama", seed: int = 0) -> Backbone:
    entry, settings = BACKBONES.resolve(
        {"kind": "hf-causal-lm", "config": TINY_BACKBONE_CONFIGS[family], "tokenizer": {"vocab_size": 300}}
    )
    torch.manual_seed(seed)
    backbone = entry.target.from_config(settings, BuildContext(embed_dim=0))
    backbone.add_special_tokens(NEW_TOKENS)  # tokens first, PEFT second
    return backbone


def inputs(backbone: Backbone, steps: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    """Token embeddings ``[2, T, D]`` (the last rows are new tokens) and a left-padded mask."""
    ids = torch.randint(10, 290, (2, steps), generator=torch.Generator().manual_seed(3))
    ids[:, -1] = torch.tensor(backbone.added_token_ids[:2])
    mask = torch.ones(2, steps, dtype=torch.long)
    mask[0, :3] = 0
    return backbone.input_embeddings(ids), mask


def apply(backbone: Backbone, policy: Any) -> None:
    apply_policy({"backbone": [backbone]}, {"backbone": policy}, backbone)


POLICIES = {
    "lora": {"method": "lora", "r": 4},
    "lora-new-tokens": {"method": "lora", "r": 4, "trainable_token_indices": "new"},
    "prefix": {"method": "prefix", "num_virtual_tokens": 3},
    "ln": "ln",
}
CASES = [(p, f) for p in POLICIES for f in ("llama", "qwen2")] + [("prefix", "gpt2"), ("lora", "phi3")]


@pytest.mark.filterwarnings("ignore:Unsupported layer type:UserWarning")  # stock LN-tuning reload
@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")  # stock PeftModel.from_pretrained
@pytest.mark.parametrize(("policy", "family"), CASES)
def test_only_adapters_train_and_stock_peft_reloads(policy: str, family: str, tmp_path: Path) -> None:
    backbone = tiny_backbone(family)
    apply(backbone, POLICIES[policy])
    assert isinstance(backbone.model, PeftModel)
    embeds, mask = inputs(backbone)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    optimizer = torch.optim.AdamW([p for p in backbone.parameters() if p.requires_grad], lr=0.05)
    hidden = backbone(embeds, mask).hidden
    backbone.logits(hidden).logsumexp(-1).mean().backward()
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    with_grad = {n for n, p in backbone.named_parameters() if p.grad is not None}
    assert trainable and with_grad == trainable
    assert all(any(mark in n for mark in ADAPTER_MARKS) for n in trainable), trainable
    assert any("trainable_tokens_delta" in n for n in trainable) == (policy == "lora-new-tokens")
    optimizer.step()
    changed = {k for k, v in backbone.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(any(mark in k for mark in ADAPTER_MARKS) for k in changed), changed
    # stock peft: save the adapter, load it into a freshly built (identically seeded) backbone
    backbone.model.save_pretrained(tmp_path)
    assert (tmp_path / "adapter_model.safetensors").is_file()
    fresh = tiny_backbone(family)
    fresh.model = PeftModel.from_pretrained(fresh.model, tmp_path)
    backbone.eval()
    fresh.eval()
    with torch.no_grad():
        assert torch.equal(backbone(embeds, mask).hidden, fresh(embeds, mask).hidden)
        assert not torch.equal(backbone(embeds, mask).hidden, tiny_backbone(family).eval()(embeds, mask).hidden)


@pytest.mark.filterwarnings("ignore:`past_key_values` is deprecated:FutureWarning")  # peft's own forward
@pytest.mark.parametrize("family", ["llama", "gemma", "gemma2", "gpt2"])
def test_prefix_tuning_respects_left_padding_and_kv_cache(family: str) -> None:
    backbone = tiny_backbone(family)
    apply(backbone, POLICIES["prefix"])
    with torch.no_grad():
        for p in backbone.model.prompt_encoder.parameters():
            p.normal_()  # a prefix that matters
    backbone.eval()
    embeds, mask = inputs(backbone)
    with torch.no_grad():
        padded = backbone(embeds, mask).hidden
        # row 0 without its 3 pad columns gives the same states: padding is masked, positions start at 0
        # (not with a sliding window: transformers slides it over cache columns, pads included)
        if not TINY_BACKBONE_CONFIGS[family].get("sliding_window"):
            alone = backbone(embeds[:1, 3:], mask[:1, 3:]).hidden
            torch.testing.assert_close(padded[0, 3:], alone[0], atol=1e-5, rtol=0)
        # incremental decoding from the cache (which begins with the prefix) equals the full pass
        out = backbone(embeds[:, :5], mask[:, :5], use_cache=True)
        for t in range(5, embeds.shape[1]):
            out = backbone(embeds[:, t : t + 1], mask[:, : t + 1], past_key_values=out.past_key_values, use_cache=True)
        torch.testing.assert_close(out.hidden[:, -1], padded[:, -1], atol=1e-5, rtol=0)
        # and it matches peft's own forward on an unpadded row (same prefix, same position offset)
        reference = backbone.model(inputs_embeds=embeds[1:], attention_mask=mask[1:], output_hidden_states=True)
        torch.testing.assert_close(padded[1:], reference.hidden_states[-1], atol=1e-5, rtol=0)


def test_new_token_rows_train_through_lora_untied_and_tied() -> None:
    for family in ("llama", "qwen2"):
        backbone = tiny_backbone(family)
        apply(backbone, POLICIES["lora-new-tokens"])
        embeds, mask = inputs(backbone)
        backbone.logits(backbone(embeds, mask).hidden).logsumexp(-1).mean().backward()
        deltas = [n for n, p in backbone.named_parameters() if "trainable_tokens_delta" in n and p.grad is not None]
        # llama: input rows and the untied head's rows; qwen2: one delta shared by the tied pair
        assert len(deltas) == (2 if family == "llama" else 1), deltas


def test_adding_tokens_after_peft_is_an_error() -> None:
    backbone = tiny_backbone()
    apply(backbone, POLICIES["lora"])
    assert backbone.add_special_tokens(NEW_TOKENS[:1]) == backbone.added_token_ids[:1]  # existing: fine
    with pytest.raises(RuntimeError, match="add special tokens first"):
        backbone.add_special_tokens(["<|brand_new|>"])


class Block(nn.Module):
    """A non-backbone module: two linear layers around a LayerNorm, and a conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 8)
        self.norm = nn.LayerNorm(8)
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(8, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(self.fc(x)))


@pytest.mark.parametrize(
    ("method", "marks", "wrapped"),
    [
        ("lora", ("lora_A", "lora_B"), {"fc", "out.1"}),
        ("ln", ("ln_tuning_layers",), {"norm"}),
    ],
)
def test_methods_inject_into_plain_modules(method: str, marks: tuple[str, ...], wrapped: set[str]) -> None:
    torch.manual_seed(0)
    block = Block()
    x = torch.randn(5, 4)
    reference = block(x).detach()
    _, peft_method = build_method(method)
    block.requires_grad_(False)
    peft_method.apply_to_module(block, "heads")
    assert {n.rsplit(".base_layer", 1)[0] for n, _ in block.named_modules() if n.endswith("base_layer")} == wrapped
    trainable = [n for n, p in block.named_parameters() if p.requires_grad]
    assert trainable and all(any(m in n for m in marks) for n in trainable)
    torch.testing.assert_close(block(x), reference)  # adapters start as the identity
    block(x).sum().backward()
    assert {n for n, p in block.named_parameters() if p.grad is not None} == set(trainable)


def test_prefix_and_empty_targets_are_errors() -> None:
    _, prefix = build_method("prefix")
    assert prefix.applies_to_any_module is False
    with pytest.raises(ValueError, match="only to the LLM backbone"):
        prefix.apply_to_module(Block(), "projector")
    _, lora = build_method("lora")
    with pytest.raises(ValueError, match=r"has no nn\.Linear"):
        lora.apply_to_module(nn.Sequential(nn.Conv2d(3, 3, 1)), "encoders")
    _, ln = build_method("ln")
    with pytest.raises(ValueError, match="no normalisation layer"):
        ln.apply_to_module(nn.Linear(2, 2), "projector")
