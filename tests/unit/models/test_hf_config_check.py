"""The backbone's and vision towers' HF configs are checked by transformers and for the sizes components need."""

from __future__ import annotations

from typing import Any

import pytest

from embodied.config import ConfigError, validate_config
from embodied.models.backbones.tiny import TINY_BACKBONE_CONFIGS
from embodied.models.hf_config_check import BACKBONE_SIZES, VISION_SIZES, hf_config_issues
from tests.factory import TINY_VISION, tiny_spec


@pytest.mark.parametrize("family", sorted(TINY_BACKBONE_CONFIGS))
def test_every_tiny_backbone_config_passes(family: str) -> None:
    assert hf_config_issues(dict(TINY_BACKBONE_CONFIGS[family]), BACKBONE_SIZES) == []


@pytest.mark.parametrize("name", sorted(TINY_VISION))
def test_every_tiny_vision_config_passes(name: str) -> None:
    assert hf_config_issues(dict(TINY_VISION[name]), VISION_SIZES, "vision") == []


@pytest.mark.parametrize(
    ("config", "key", "expected"),
    [
        ({"model_type": "gpt2", "n_embd": -1}, ("config", "n_embd"), "a positive integer"),
        ({"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 3},
         ("config", "num_key_value_heads"), "a divisor of num_attention_heads (4)"),
        ({"model_type": "llama", "hidden_size": 66, "num_attention_heads": 4}, ("config", "hidden_size"), "multiple"),
        ({"model_type": "lama"}, ("config", "model_type"), "did you mean 'llama'"),
    ],
)  # fmt: skip
def test_issues_name_the_key_as_written(config: dict[str, Any], key: tuple[str, ...], expected: str) -> None:
    issues = hf_config_issues(config, BACKBONE_SIZES)
    assert issues and issues[0].key == key and expected in issues[0].expected, issues


def test_a_vision_tower_size_is_a_config_error_at_load_time() -> None:
    spec = tiny_spec(encoders={"image": {"kind": "hf-vision", "config": {**TINY_VISION["siglip"], "patch_size": 0}}})
    with pytest.raises(ConfigError, match=r"model\.encoders\.image\.config\.patch_size: expected a positive integer"):
        validate_config({"model": spec})
