"""``hf-causal-lm`` specifics: settings, loading from a local path, rebuilding a saved model's backbone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel

from embodied.models.backbones.base import BACKBONES, Backbone
from embodied.models.backbones.hf_causal_lm import HFCausalLMSettings
from embodied.models.backbones.tiny import DEFAULT_BACKBONE_CONFIG, TINY_BACKBONE_CONFIGS
from embodied.models.context import BuildContext
from embodied.models.freezing import apply_policy
from embodied.models.tokenizer import CHAT_TEMPLATE, ROLE_TOKENS, train_bpe_tokenizer


def build(given: Any = None, seed: int = 0, **spec: Any) -> Backbone:
    """A backbone from ``spec``; ``given`` is a tokenizer handed in as a saved model's would be."""
    entry, settings = BACKBONES.resolve({"kind": "hf-causal-lm", **spec})
    ctx = BuildContext(embed_dim=0)
    ctx.extras["tokenizer"] = given
    torch.manual_seed(seed)
    return entry.target.from_config(settings, ctx).eval()


def hidden(backbone: Backbone, text: str = "pick up the red cube") -> torch.Tensor:
    ids = torch.tensor([backbone.tokenizer(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        return backbone(backbone.input_embeddings(ids), torch.ones_like(ids)).hidden


def test_settings_need_one_source() -> None:
    assert HFCausalLMSettings().config == DEFAULT_BACKBONE_CONFIG  # neither: the small default
    with pytest.raises(ValidationError, match="not both"):
        HFCausalLMSettings(config=TINY_BACKBONE_CONFIGS["llama"], path="/models/x")
    with pytest.raises(ValidationError, match="model_type"):
        HFCausalLMSettings(config={"hidden_size": 32})
    with pytest.raises(ValidationError, match="brings its own tokenizer"):
        HFCausalLMSettings(path="/models/x", tokenizer={"vocab_size": 300})
    with pytest.raises(ValidationError, match="extra"):
        HFCausalLMSettings(config=TINY_BACKBONE_CONFIGS["llama"], tokenizer={"vocab": 300})


def test_vocabulary_and_special_ids_come_from_the_trained_tokenizer() -> None:
    backbone = build(config={**TINY_BACKBONE_CONFIGS["gpt2"], "vocab_size": 50257}, tokenizer={"vocab_size": 333})
    config = backbone.hf_config_dict()
    assert len(backbone.tokenizer) == 333 == config["vocab_size"] == backbone.input_embeddings.weight.shape[0]
    assert (config["pad_token_id"], config["bos_token_id"], config["eos_token_id"]) == (0, 1, 2)
    assert backbone.embed_dim == 32
    assert "transformers_version" not in config


def test_a_saved_backbone_rebuilds_from_its_config_and_tokenizer() -> None:
    # what MMLLM.save_pretrained/from_pretrained do: pin the config, hand the saved tokenizer back in
    original = build(config=TINY_BACKBONE_CONFIGS["qwen2"], tokenizer={"vocab_size": 300})
    ids = original.add_special_tokens(["<|image|>", "<|act_0|>"])
    again = build(given=original.tokenizer, seed=1, config=original.hf_config_dict())
    assert again.add_special_tokens(["<|image|>", "<|act_0|>"]) == ids == again.added_token_ids
    again.load_state_dict(original.state_dict())
    assert torch.equal(hidden(again), hidden(original))


def test_too_small_pinned_vocabulary_is_an_error() -> None:
    tokenizer = train_bpe_tokenizer(400)
    with pytest.raises(ValueError, match="400 tokens but the config's vocab_size is 300"):
        build(given=tokenizer, config={**TINY_BACKBONE_CONFIGS["llama"], "vocab_size": 300})


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_load_from_local_path(family: str, tmp_path: Path) -> None:
    source = build(config=TINY_BACKBONE_CONFIGS[family], tokenizer={"vocab_size": 300})
    source.model.save_pretrained(tmp_path)
    source.tokenizer.save_pretrained(tmp_path)
    assert list(tmp_path.glob("*.safetensors")) and not list(tmp_path.glob("*.bin"))
    loaded = build(path=str(tmp_path))
    assert loaded.tokenizer.get_vocab() == source.tokenizer.get_vocab()
    assert loaded.tokenizer.chat_template == CHAT_TEMPLATE
    assert loaded.hf_config_dict() == source.hf_config_dict()
    assert torch.equal(hidden(loaded), hidden(source))


def test_path_tokenizer_without_template_gets_ours_and_its_role_tokens(tmp_path: Path) -> None:
    corpus = ["plain words only"] * 10
    tokenizer = train_bpe_tokenizer(280, corpus, special_tokens=("<|pad|>", "<|bos|>", "<|eos|>"))
    tokenizer.chat_template = None
    source = build(given=tokenizer, config=TINY_BACKBONE_CONFIGS["llama"])
    source.model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = build(path=str(tmp_path))
    role_ids = [loaded.tokenizer.convert_tokens_to_ids(t) for t in ROLE_TOKENS]
    assert role_ids == [len(tokenizer), len(tokenizer) + 1, len(tokenizer) + 2]
    assert loaded.input_embeddings.weight.shape[0] == len(tokenizer) + 3
    assert loaded.added_token_ids == []  # grown for the template, not requested by a component
    text = loaded.tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert loaded.tokenizer(text, add_special_tokens=False)["input_ids"][:2] == [1, role_ids[1]]


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing is ever downloaded"):
        build(path=str(tmp_path / "absent"))


def test_attention_implementations_agree() -> None:
    auto = build(config=TINY_BACKBONE_CONFIGS["llama"], tokenizer={"vocab_size": 300})
    eager = build(config=TINY_BACKBONE_CONFIGS["llama"], tokenizer={"vocab_size": 300}, attn_implementation="eager")
    assert auto.model.config._attn_implementation == "sdpa"
    assert eager.model.config._attn_implementation == "eager"
    torch.testing.assert_close(hidden(auto), hidden(eager), atol=1e-5, rtol=1e-5)
    gemma2 = build(config=TINY_BACKBONE_CONFIGS["gemma2"], tokenizer={"vocab_size": 300})
    assert gemma2.model.config._attn_implementation == "eager"  # no sdpa in transformers for gemma2


class HolderConfig(PretrainedConfig):
    model_type = "embodied-test-holder"

    def __init__(self, spec: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.spec = spec or {}
        super().__init__(**kwargs)


class Holder(PreTrainedModel):
    """The pattern MMLLM follows: a PreTrainedModel that builds the backbone, adds tokens, applies a policy."""

    config_class = HolderConfig
    base_model_prefix = "holder"
    _supports_param_buffer_assignment = False

    def __init__(self, config: HolderConfig, tokenizer: Any = None) -> None:
        super().__init__(config)
        entry, settings = BACKBONES.resolve(config.spec["backbone"])
        ctx = BuildContext(embed_dim=0)
        ctx.extras["tokenizer"] = tokenizer
        self.backbone = entry.target.from_config(settings, ctx)
        self.backbone.add_special_tokens(["<|image|>", "<|act_0|>"])
        apply_policy({"backbone": self.backbone}, {"backbone": config.spec["policy"]}, self.backbone)
        self.post_init()  # collects the backbone's tied weights (all_tied_weights_keys)

    def _init_weights(self, module: nn.Module) -> None:
        """Components initialise themselves; loading overwrites them."""

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(self.backbone.input_embeddings(ids), torch.ones_like(ids)).hidden
        return self.backbone.logits(hidden)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
@pytest.mark.parametrize("policy", ["full", {"method": "lora", "r": 2, "trainable_token_indices": "new"}, "prefix"])
@pytest.mark.parametrize("family", ["qwen2", "llama"])
def test_holding_pretrained_model_saves_and_reloads_tied_heads(family: str, policy: Any, tmp_path: Path) -> None:
    spec = {"kind": "hf-causal-lm", "config": TINY_BACKBONE_CONFIGS[family], "tokenizer": {"vocab_size": 300}}
    torch.manual_seed(0)
    model = Holder(HolderConfig(spec={"backbone": spec, "policy": policy})).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.01 * torch.randn_like(param))  # adapters away from their identity init
    tied = TINY_BACKBONE_CONFIGS[family].get("tie_word_embeddings", False)
    if policy != "prefix":  # a prefix PeftModel also aliases the input embeddings as word_embeddings
        assert bool(model.all_tied_weights_keys) == tied
    model.save_pretrained(tmp_path)
    pinned = {"kind": "hf-causal-lm", "config": model.backbone.hf_config_dict()}  # as MMLLM's portable spec
    again = Holder.from_pretrained(
        tmp_path, config=HolderConfig(spec={"backbone": pinned, "policy": policy}), tokenizer=model.backbone.tokenizer
    ).eval()
    ids = torch.tensor([[5, 9, 300, 301]])
    with torch.no_grad():
        assert torch.equal(again(ids), model(ids))
