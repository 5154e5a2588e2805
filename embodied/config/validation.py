"""Turn pydantic validation errors into ``Problem``s that name the file, line, dotted key and a suggestion."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from embodied.config.errors import Problem
from embodied.config.yaml_source import Key, Origins


def problems_from(err: ValidationError, origins: Origins, root: type[BaseModel], prefix: Key = ()) -> list[Problem]:
    """One ``Problem`` per pydantic error; ``prefix`` is where ``root`` sits in the whole config."""
    problems = []
    for item in err.errors(include_url=False):
        loc = tuple(part for part in item["loc"] if not str(part).startswith("function-"))
        key = (*prefix, *loc)
        file, line = locate(origins, key)
        expected = _expected(item, root, loc)
        given = "" if item["type"] == "missing" else _short(item.get("input"))
        problems.append(Problem(".".join(map(str, key)), expected, given, file, line))
    return problems


def locate(origins: Origins, key: Key) -> tuple[str | None, int | None]:
    """The file and line of ``key``, or of its nearest recorded parent."""
    for cut in range(len(key), -1, -1):
        if key[:cut] in origins:
            return origins[key[:cut]]
    return None, None


def _expected(item: Any, root: type[BaseModel], loc: Key) -> str:
    kind, msg = item["type"], item["msg"]
    if kind == "extra_forbidden":
        names = fields_at(root, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"one of the known keys {names}{hint}" if names else f"no key here{hint}"
    if kind == "missing":
        return "a value (this key is required)"
    return msg[0].lower() + msg[1:] if msg else kind


def fields_at(root: type[BaseModel], loc: Key) -> list[str]:
    """Field names of the pydantic model found by walking ``loc`` from ``root`` (empty if not a model)."""
    annotation: Any = root
    for part in loc:
        annotation = _descend(annotation, part)
        if annotation is None:
            return []
    model = _as_model(annotation)
    return sorted(model.model_fields) if model else []


def _descend(annotation: Any, part: str | int) -> Any:
    model = _as_model(annotation)
    if model is not None:
        field = model.model_fields.get(str(part))
        return field.annotation if field else None
    for arg in _args(annotation):
        if _as_model(arg) or typing.get_origin(arg) in (list, dict):
            return arg if _as_model(arg) else (typing.get_args(arg) or (None,))[-1]
    return None


def _args(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return typing.get_args(annotation)
    return (annotation,)


def _as_model(annotation: Any) -> type[BaseModel] | None:
    for arg in _args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
