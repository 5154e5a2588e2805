"""Check a ``transformers`` config dict at config-load time, with the library's own validation first.

``hf_config_issues(config, sizes, part)`` builds the config exactly as the component will
(``AutoConfig.for_model(**config)``: an unknown ``model_type`` or a value transformers' strict validation
rejects is an issue), then checks the numbers the component needs on the part it uses (``"text"``: the
language model's config, ``get_text_config()``; ``"vision"``: ``vision_config`` where the config is composite):
every size present must be a positive integer, the hidden size a multiple of the attention heads (unless the
config has a ``head_dim`` of its own) and the heads a multiple of the key/value heads. Issues name the key as the user
wrote it (``config.n_embd`` for GPT-2, ``config.text_config.hidden_size`` for a composite config), so
``hidden_size=-5`` is a ``ConfigError`` at ``model.backbone.config.hidden_size`` instead of a shape error
when the model is built.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any, Literal

from embodied.registry import SettingsIssue

__all__ = ["BACKBONE_SIZES", "VISION_SIZES", "hf_config_issues"]

BACKBONE_SIZES = (
    "hidden_size",
    "num_attention_heads",
    "num_hidden_layers",
    "vocab_size",
    "intermediate_size",
    "num_key_value_heads",
    "max_position_embeddings",
)
VISION_SIZES = ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "patch_size")
_FIELD = re.compile(r"field '(\w+)'")


def hf_config_issues(
    config: dict[str, Any], sizes: Sequence[str], part: Literal["text", "vision"] = "text"
) -> list[SettingsIssue]:
    """Issues of ``config`` (keys start with ``"config"``); empty when transformers and the checks accept it."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    model_type = config.get("model_type")
    if not isinstance(model_type, str) or model_type not in CONFIG_MAPPING:
        close = difflib.get_close_matches(str(model_type), list(CONFIG_MAPPING.keys()), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [
            SettingsIssue(
                ("config", "model_type"), f"a transformers model type (llama, qwen2, ...){hint}", repr(model_type)
            )
        ]
    built = _build(config)
    if isinstance(built, SettingsIssue):
        return [built]
    sub, prefix = _part(built, part)
    written = _nested(config, prefix)
    issues = [issue for attr in sizes if (issue := _positive(sub, attr, written, prefix)) is not None]
    if issues:
        return issues
    return _divisibility(sub, written, prefix)


def _build(config: dict[str, Any]) -> Any:
    """``AutoConfig.for_model(**config)``, or the issue transformers' validation raised."""
    from transformers import AutoConfig

    try:
        return AutoConfig.for_model(**config)
    except Exception as err:  # transformers validates with several types (ValueError, StrictDataclass*Error, ...)
        text = str(err)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = lines[-1] if lines else type(err).__name__
        return SettingsIssue(("config", *_named_key(text, config)), f"a config transformers accepts ({reason})")


def _named_key(message: str, config: dict[str, Any]) -> tuple[str, ...]:
    """The config key a transformers error names: ``field 'x'``, else the first key it mentions in words
    ("The hidden size (66) is not a multiple ..." → ``hidden_size``); empty when it names none."""
    field = _FIELD.search(message)
    if field and field.group(1) in config:
        return (field.group(1),)
    lowered = message.lower()
    mentioned = [(lowered.find(k.replace("_", " ")), k) for k in config if k != "model_type"]
    first = min(((at, k) for at, k in mentioned if at >= 0), default=None)
    return (first[1],) if first else ()


def _part(built: Any, part: str) -> tuple[Any, tuple[str, ...]]:
    """The sub-config the component uses and the key path to it inside the config dict."""
    sub = built.get_text_config() if part == "text" else (getattr(built, "vision_config", None) or built)
    if sub is built:
        return sub, ()
    name = next((k for k, v in vars(built).items() if v is sub), "text_config" if part == "text" else "vision_config")
    return sub, (name,)


def _nested(config: dict[str, Any], prefix: tuple[str, ...]) -> dict[str, Any]:
    for name in prefix:
        value = config.get(name)
        config = value if isinstance(value, dict) else {}
    return config


def _user_key(sub: Any, attr: str, written: dict[str, Any], prefix: tuple[str, ...]) -> tuple[str, ...]:
    """The key as written: ``hidden_size`` itself, or the family's own name for it (GPT-2: ``n_embd``)."""
    name = attr if attr in written else getattr(sub, "attribute_map", {}).get(attr, attr)
    return ("config", *prefix, name)


def _positive(sub: Any, attr: str, written: dict[str, Any], prefix: tuple[str, ...]) -> SettingsIssue | None:
    value = getattr(sub, attr, None)
    if value is None:  # the family has no such size (or leaves it to a default computed later)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return SettingsIssue(_user_key(sub, attr, written, prefix), "a positive integer", repr(value))
    return None


def _divisibility(sub: Any, written: dict[str, Any], prefix: tuple[str, ...]) -> list[SettingsIssue]:
    hidden, heads = getattr(sub, "hidden_size", None), getattr(sub, "num_attention_heads", None)
    kv = getattr(sub, "num_key_value_heads", None)
    issues = []
    # a head_dim of its own (set, or a family default unlike hidden // heads: gemma) frees the hidden size
    head_dim = getattr(sub, "head_dim", None)
    if (
        isinstance(hidden, int)
        and isinstance(heads, int)
        and head_dim in (None, hidden // heads)
        and "head_dim" not in written
        and hidden % heads
    ):
        key = _user_key(sub, "hidden_size", written, prefix)
        issues.append(SettingsIssue(key, f"a multiple of num_attention_heads ({heads})", repr(hidden)))
    if isinstance(heads, int) and isinstance(kv, int) and heads % kv:
        key = _user_key(sub, "num_key_value_heads", written, prefix)
        issues.append(SettingsIssue(key, f"a divisor of num_attention_heads ({heads})", repr(kv)))
    return issues
