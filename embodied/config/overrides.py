"""Dotted command-line overrides: ``model.projector.kind=perceiver``, ``stages.1.max_steps=50``.

Values are parsed as YAML (``3`` → int, ``[1, 2]`` → list, ``lora`` → str); list items are addressed by index.
"""

from __future__ import annotations

from typing import Any

import yaml

from embodied.config.errors import ConfigError
from embodied.config.yaml_source import Key, Origins

OVERRIDE = "<override>"


def apply_overrides(raw: dict[str, Any], overrides: list[str], origins: Origins) -> dict[str, Any]:
    """Apply each ``key=value`` in order to ``raw`` (in place) and record the override as the key's origin."""
    for text in overrides:
        dotted, sep, value_text = text.partition("=")
        if not sep or not dotted.strip():
            raise ConfigError.single(text, "an override of the form dotted.key=value", repr(text), file=OVERRIDE)
        try:
            value = yaml.safe_load(value_text) if value_text.strip() else ""
        except yaml.YAMLError:
            value = value_text
        key = _parse_key(dotted.strip())
        _assign(raw, key, value, text)
        # the override is the origin of its key and of every parent it created
        for cut in range(1, len(key) + 1):
            if cut == len(key) or key[:cut] not in origins:
                origins[key[:cut]] = (f"{OVERRIDE} {text!r}", None)
    return raw


def _parse_key(dotted: str) -> Key:
    return tuple(int(part) if part.lstrip("-").isdigit() else part for part in dotted.split("."))


def _assign(raw: dict[str, Any], key: Key, value: Any, text: str) -> None:
    node: Any = raw
    for depth, part in enumerate(key[:-1]):
        node = _step(node, part, key[: depth + 1], text, create=not isinstance(key[depth + 1], int))
    last = key[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or not -len(node) <= last < len(node):
            raise _bad_index(key, node, text)
        node[last] = value
    elif isinstance(node, dict):
        node[str(last)] = value
    else:
        raise ConfigError.single(_dot(key[:-1]), "a mapping or list to set a key in", repr(node), OVERRIDE)


def _step(node: Any, part: str | int, prefix: Key, text: str, create: bool) -> Any:
    if isinstance(node, list):
        if not isinstance(part, int) or not -len(node) <= part < len(node):
            raise _bad_index(prefix, node, text)
        return node[part]
    if isinstance(node, dict):
        name = str(part)
        if name not in node or node[name] is None:
            node[name] = {} if create else []
        return node[name]
    raise ConfigError.single(_dot(prefix[:-1]), "a mapping or list to descend into", repr(node), OVERRIDE)


def _bad_index(key: Key, node: list[Any], text: str) -> ConfigError:
    return ConfigError.single(_dot(key), f"a list index in [0, {len(node)})", repr(text), file=OVERRIDE)


def _dot(key: Key) -> str:
    return ".".join(map(str, key))
