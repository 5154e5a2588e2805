"""YAML reading that remembers where every key came from (file and line) and resolves ``extends``.

A mapping may hold ``extends: relative/path.yaml``: that file is loaded and the mapping's other keys are merged
on top of it (recursively for nested mappings; lists and scalars replace). Presets compose this way, e.g.
``model: {extends: ../model/tiny.yaml, projector: {kind: perceiver}}``.

``null`` over an inherited key removes it (issue 14): ``model: {extends: ../model/tiny.yaml, heads: {text: null}}``
drops the base's ``text`` head, and a removed setting takes its default. A ``null`` for a key the base does not
have stays an explicit ``null``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from embodied.config.errors import ConfigError

Key = tuple[str | int, ...]
Origins = dict[Key, tuple[str, int | None]]
EXTENDS = "extends"


def load_yaml(path: Path, origins: Origins, prefix: Key = (), seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load ``path`` as a mapping, recording ``origins[key] = (file, line)``; ``ConfigError`` on any mistake."""
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ConfigError.single(EXTENDS, "no cycle of extends", chain, file=str(path))
    key = ".".join(map(str, prefix)) or (EXTENDS if seen else "<config file>")
    if not path.is_file():
        raise ConfigError.single(key, "an existing YAML file", str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError.single(key, "a readable UTF-8 YAML file", f"{path} ({type(err).__name__})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError.single("<syntax>", "valid YAML", str(problem), file=str(path), line=line) from None
    finally:
        loader.dispose()
    if node is None:
        raise ConfigError.single("<top level>", "a mapping of settings", "an empty file", file=str(path))
    if not isinstance(node, yaml.MappingNode):
        given = "a list" if isinstance(node, yaml.SequenceNode) else f"a scalar {node.value!r}"
        raise ConfigError.single(
            "<top level>", "a mapping of settings", given, file=str(path), line=node.start_mark.line + 1
        )
    value = _convert(node, prefix, origins, path, (*seen, path))
    assert isinstance(value, dict)
    return value


def _convert(node: yaml.Node, key: Key, origins: Origins, path: Path, seen: tuple[Path, ...]) -> Any:
    if isinstance(node, yaml.MappingNode):
        return _convert_mapping(node, key, origins, path, seen)
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            origins[(*key, i)] = (str(path), item.start_mark.line + 1)
            items.append(_convert(item, (*key, i), origins, path, seen))
        return items
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _convert_mapping(
    node: yaml.MappingNode, key: Key, origins: Origins, path: Path, seen: tuple[Path, ...]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    base: dict[str, Any] | None = None
    for k_node, v_node in node.value:
        line = k_node.start_mark.line + 1
        name = k_node.value if isinstance(k_node, yaml.ScalarNode) else None
        dotted = ".".join(map(str, (*key, name)))
        if not isinstance(name, str) or not name:
            raise ConfigError.single(dotted, "a string key", repr(name), file=str(path), line=line)
        if name in out or (name == EXTENDS and base is not None):
            raise ConfigError.single(dotted, "each key once", "a duplicate key", file=str(path), line=line)
        if name == EXTENDS:
            target = yaml.SafeLoader("").construct_object(v_node)
            if not isinstance(target, str):
                raise ConfigError.single(dotted, "a relative file path", repr(target), file=str(path), line=line)
            base = load_yaml(path.parent / target, origins, key, seen)
            continue
        origins[(*key, name)] = (str(path), line)
        out[name] = _convert(v_node, (*key, name), origins, path, seen)
    if base is None:
        return out
    for removed in (k for k, v in out.items() if v is None and k in base):
        _forget(origins, (*key, removed))
    return deep_merge(base, out)


def _forget(origins: Origins, key: Key) -> None:
    """Drop the recorded origins of ``key`` and everything under it (a key removed by ``null``)."""
    for known in [k for k in origins if k[: len(key)] == key]:
        del origins[known]


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``: nested mappings merge key by key; ``None`` removes an inherited key; anything else in
    ``top`` replaces."""
    merged = dict(base)
    for name, value in top.items():
        if value is None and name in merged:
            del merged[name]
        elif isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = deep_merge(merged[name], value)
        else:
            merged[name] = value
    return merged
