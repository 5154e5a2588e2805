"""State dicts ↔ safetensors + JSON: the only serialisation checkpoints use (no pickle anywhere).

A nested state (an optimizer's ``state_dict()``, a model's ``{name: tensor}``) is split into a JSON tree and a flat
``{name: tensor}`` dict. In the tree a tensor becomes ``{"__tensor__": name}`` (names follow the path, e.g.
``state.0.exp_avg``), a tuple ``{"__tuple__": [...]}`` and a dict with non-string keys (optimizer param indices)
``{"__dict__": [[key, value], ...]}``, so decoding gives back exactly the types that went in.

Tensors that share storage (tied embeddings) are stored once: identical views point at one name, partially
overlapping views are saved as independent copies because safetensors refuses aliasing.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from embodied.training.manifest import CheckpointError, looks_like_pickle, sync_file

_TENSOR, _TUPLE, _DICT = "__tensor__", "__tuple__", "__dict__"
_TAGS = frozenset({_TENSOR, _TUPLE, _DICT})
_PAD_KEY = "embodied.pad"


class _Encoder:
    """Walks a state, collecting tensors (deduplicated by view) and building the JSON tree."""

    def __init__(self, what: str, allow_tensors: bool) -> None:
        self.what = what
        self.allow_tensors = allow_tensors
        self.tensors: dict[str, torch.Tensor] = {}
        self._names_by_view: dict[tuple[Any, ...], str] = {}

    def encode(self, value: Any, path: str) -> Any:
        if isinstance(value, torch.Tensor):
            return {_TENSOR: self._add_tensor(value, path)}
        if isinstance(value, bool | str) or value is None:
            return value
        if isinstance(value, int | float):  # numpy float64 subclasses float; numpy ints are refused below
            return float(value) if isinstance(value, float) else int(value)
        if isinstance(value, tuple):
            return {_TUPLE: [self.encode(v, f"{path}.{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{path}.{i}") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            if all(isinstance(k, str) and k not in _TAGS for k in value):
                return {k: self.encode(v, _join(path, k)) for k, v in value.items()}
            if all(isinstance(k, str | int) and not isinstance(k, bool) for k in value):
                return {_DICT: [[k, self.encode(v, _join(path, str(k)))] for k, v in value.items()]}
        raise CheckpointError(
            f"{self.what}: value at '{path}' has type {type(value).__name__}, which safetensors + "
            "JSON cannot store (use tensors, str, int, float, bool, None, lists, tuples, dicts)"
        )

    def _add_tensor(self, tensor: torch.Tensor, path: str) -> str:
        if not self.allow_tensors:
            raise CheckpointError(f"{self.what}: value at '{path}' is a tensor; this part is JSON only")
        tensor = tensor.detach()
        view = _view_key(tensor)
        if view is not None and view in self._names_by_view:
            return self._names_by_view[view]
        name = path or "tensor"
        while name in self.tensors:  # a key containing '.' could collide with a nested path
            name += "_"
        self.tensors[name] = tensor
        if view is not None:
            self._names_by_view[view] = name
        return name


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _view_key(tensor: torch.Tensor) -> tuple[Any, ...] | None:
    """Identity of a tensor view; empty tensors have no storage worth sharing (their data_ptr may all be 0)."""
    if tensor.numel() == 0:
        return None
    storage = tensor.untyped_storage().data_ptr()
    return (tensor.device, storage, tensor.storage_offset(), tuple(tensor.shape), tensor.stride(), tensor.dtype)


def _independent(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors of which no two share storage (partial overlaps become copies)."""
    pointers = Counter(t.untyped_storage().data_ptr() for t in tensors.values() if t.numel() > 0)
    out = {}
    for name, tensor in tensors.items():
        shared = tensor.numel() > 0 and pointers[tensor.untyped_storage().data_ptr()] > 1
        out[name] = tensor.cpu().contiguous().clone() if shared else tensor.cpu().contiguous()
    return out


def encode_state(state: Any, what: str, allow_tensors: bool = True) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split ``state`` into a JSON tree and independent CPU tensors; ``what`` names the part in errors."""
    encoder = _Encoder(what, allow_tensors)
    tree = encoder.encode(state, "")
    return tree, _independent(encoder.tensors)


def decode_state(tree: Any, tensors: Mapping[str, torch.Tensor], what: str) -> Any:
    """Inverse of ``encode_state``; every stored tensor must be referenced and every reference stored."""
    used: set[str] = set()

    def decode(node: Any) -> Any:
        if isinstance(node, list):
            return [decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if _TENSOR in node:
            name = node[_TENSOR]
            if name not in tensors:
                raise CheckpointError(f"{what}: tensor {name!r} is referenced but not stored")
            used.add(name)
            return tensors[name]
        if _TUPLE in node:
            return tuple(decode(v) for v in node[_TUPLE])
        if _DICT in node:
            return {key: decode(value) for key, value in node[_DICT]}
        return {key: decode(value) for key, value in node.items()}

    try:
        state = decode(tree)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{what}: malformed state tree ({error})") from error
    if unused := sorted(set(tensors) - used):
        raise CheckpointError(f"{what}: stored tensors {unused[:5]} are not referenced by the state tree")
    return state


def check_plain_json(value: Any, what: str, path: str = "") -> None:
    """Raise naming the first value that plain JSON would not give back unchanged (tuples, numpy ints, ...)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CheckpointError(f"{what}: key {key!r} at '{path}' is not a string")
            check_plain_json(item, what, _join(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_plain_json(item, what, _join(path, str(index)))
    elif isinstance(value, float) and not math.isfinite(value):
        raise CheckpointError(f"{what}: value at '{path}' is {value}, which JSON cannot hold")
    elif not (isinstance(value, str | int | float | bool) or value is None):
        raise CheckpointError(
            f"{what}: value at '{path}' has type {type(value).__name__}; it must be plain JSON "
            "(dict with str keys, list, str, int, float, bool, None)"
        )


def json_bytes(value: Any) -> bytes:
    """JSON file content; NaN/inf are kept (Python's json reads them back) because schedulers use ``inf``."""
    return (json.dumps(value, indent=1) + "\n").encode("utf-8")


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write a safetensors file and fsync it, never letting it begin like a pickle.

    The first 8 bytes are the little-endian header length; lengths such as 0x380 would start the file with
    ``\\x80\\x03``, which the loader refuses as a pickle header. Growing the header with a padding metadata entry
    moves the length off those values.
    """
    metadata: dict[str, str] = {}
    for _ in range(64):
        safetensors.torch.save_file(tensors, str(path), metadata=metadata or None)
        with open(path, "rb") as handle:
            if not looks_like_pickle(handle.read(2)):
                sync_file(path)
                return
        metadata = {_PAD_KEY: metadata.get(_PAD_KEY, "") + "        "}
    raise CheckpointError(f"{path}: could not write a safetensors header that differs from a pickle header")


def load_tensors(data: bytes, what: str) -> dict[str, torch.Tensor]:
    """Parse verified safetensors bytes (the bytes that were hashed, not a second read of the file)."""
    try:
        return safetensors.torch.load(data)
    except Exception as error:  # safetensors raises its own SafetensorError type, not importable stably
        raise CheckpointError(f"{what}: not a valid safetensors file ({error})") from error
