"""Contract of every registered backbone, over the tiny configs of every family.

Shapes of hidden states and logits, ``add_special_tokens`` (old ids and rows untouched, new rows at the mean,
tied heads stay tied), KV-cache decoding equal to a full pass, and ``hf_config_dict`` rebuilding the same model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from embodied.models.backbones.base import BACKBONES, Backbone
from embodied.models.backbones.tiny import TINY_BACKBONE_CONFIGS
from embodied.models.context import BuildContext

#: registered name → spec of a tiny instance for a family; a new backbone must add its entry here
SPECS: dict[str, Callable[[str], dict[str, Any]]] = {
    "hf-causal-lm": lambda family: {
        "kind": "hf-causal-lm",
        "config": TINY_BACKBONE_CONFIGS[family],
        "tokenizer": {"vocab_size": 320},
    },
}
CASES = [(name, family) for name in BACKBONES.names() for family in TINY_BACKBONE_CONFIGS]


def build(spec: dict[str, Any], tokenizer: Any = None) -> Backbone:
    entry, settings = BACKBONES.resolve(spec)
    ctx = BuildContext(embed_dim=0)
    ctx.extras["tokenizer"] = tokenizer
    torch.manual_seed(0)
    return entry.target.from_config(settings, ctx).eval()


def test_every_registered_backbone_has_a_spec() -> None:
    assert set(SPECS) == set(BACKBONES.names())
    assert len(TINY_BACKBONE_CONFIGS) >= 5


@pytest.fixture(params=CASES, ids=[f"{n}-{f}" for n, f in CASES])
def backbone(request: pytest.FixtureRequest) -> Backbone:
    name, family = request.param
    return build(SPECS[name](family))


def left_padded(backbone: Backbone, steps: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of real token ids ``[2, T, D]`` and a mask whose first row is left-padded by 2."""
    ids = torch.randint(10, len(backbone.tokenizer), (2, steps), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, steps, dtype=torch.long)
    mask[0, :2] = 0
    return backbone.input_embeddings(ids).detach(), mask


def test_forward_and_logits_shapes(backbone: Backbone) -> None:
    embeds, mask = left_padded(backbone)
    with torch.no_grad():
        out = backbone(embeds, mask)
        logits = backbone.logits(out.hidden)
    vocab = backbone.input_embeddings.weight.shape[0]
    assert out.hidden.shape == (2, 6, backbone.embed_dim)
    assert logits.shape == (2, 6, vocab)
    assert out.past_key_values is None
    assert torch.isfinite(out.hidden).all()
    # hidden + LM head is exactly what the wrapped causal LM computes on an unpadded row
    with torch.no_grad():
        reference = backbone.model(inputs_embeds=embeds[1:], attention_mask=mask[1:]).logits
    torch.testing.assert_close(logits[1:], reference, atol=1e-5, rtol=1e-5)


def test_add_special_tokens_keeps_old_ids_and_rows(backbone: Backbone) -> None:
    tok = backbone.tokenizer
    text = "pick up the red cube"
    old_ids = tok(text, add_special_tokens=False)["input_ids"]
    old_rows = backbone.input_embeddings.weight.detach().clone()
    old_head = backbone.output_embeddings.weight.detach().clone()
    tied = backbone.output_embeddings.weight is backbone.input_embeddings.weight
    ids = backbone.add_special_tokens(["<|act_0|>", "<|act_1|>", "<|user|>"])
    vocab = old_rows.shape[0]
    assert ids[:2] == [vocab, vocab + 1]
    assert ids[2] == tok.convert_tokens_to_ids("<|user|>") < vocab
    assert tok(text, add_special_tokens=False)["input_ids"] == old_ids
    assert tok("<|act_1|>", add_special_tokens=False)["input_ids"] == [ids[1]]
    rows = backbone.input_embeddings.weight.detach()
    assert rows.shape == (vocab + 2, backbone.embed_dim)
    assert torch.equal(rows[:vocab], old_rows)
    assert torch.equal(backbone.output_embeddings.weight.detach()[:vocab], old_head)
    torch.testing.assert_close(rows[vocab], old_rows.mean(dim=0))
    assert (backbone.output_embeddings.weight is backbone.input_embeddings.weight) == tied
    # asking again adds nothing and returns the same ids
    assert backbone.add_special_tokens(["<|act_1|>", "<|act_0|>"]) == [ids[1], ids[0]]
    assert backbone.input_embeddings.weight.shape[0] == vocab + 2
    assert backbone.added_token_ids == ids  # type: ignore[attr-defined]


def test_kv_cache_decoding_equals_full_forward(backbone: Backbone) -> None:
    embeds, mask = left_padded(backbone)
    with torch.no_grad():
        full = backbone(embeds, mask).hidden
        out = backbone(embeds[:, :3], mask[:, :3], use_cache=True)
        steps = [out.hidden]
        for t in range(3, 6):
            out = backbone(embeds[:, t : t + 1], mask[:, : t + 1], past_key_values=out.past_key_values, use_cache=True)
            steps.append(out.hidden)
    incremental = torch.cat(steps, dim=1)
    real = mask.bool()
    torch.testing.assert_close(incremental[real], full[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(out.hidden[:, -1], full[:, -1], atol=1e-5, rtol=0)


def test_hf_config_dict_rebuilds_the_same_architecture(backbone: Backbone) -> None:
    backbone.add_special_tokens(["<|act_0|>"])
    config = backbone.hf_config_dict()
    again = build({"kind": "hf-causal-lm", "config": config}, tokenizer=backbone.tokenizer)
    shapes = {k: v.shape for k, v in backbone.state_dict().items()}
    assert {k: v.shape for k, v in again.state_dict().items()} == shapes
    assert again.hf_config_dict() == config
    again.load_state_dict(backbone.state_dict())
    embeds, mask = left_padded(backbone)
    with torch.no_grad():
        assert torch.equal(again(embeds, mask).hidden, backbone(embeds, mask).hidden)


def test_default_peft_targets_name_existing_modules(backbone: Backbone) -> None:
    targets = backbone.default_peft_targets
    assert targets and "all-linear" not in targets
    names = [n for n, _ in backbone.model.named_modules()]
    for target in targets:
        assert any(n == target or n.endswith("." + target) for n in names), target
