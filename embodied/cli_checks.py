"""Checks of command-line arguments, run before anything heavy loads; each mistake is a ``UsageError``.

``int_at_least(low)`` is an ``argparse`` type (``--episodes`` below its range is an argparse error, which the
console script prints as one line with exit code 2). The path checks name the option and what was expected:
``existing_dir`` (a directory to read), ``writable_dir`` (a directory that exists and is writable or can be
created), ``new_dir`` (a directory that does not exist yet and can be created). ``resolve_device`` checks that a
torch device is there (``--device cuda`` on a CPU-only machine is an input error, not an ``AssertionError``).
Cheap to import: torch loads inside ``resolve_device`` only.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from embodied.errors import UsageError

__all__ = ["existing_dir", "int_at_least", "new_dir", "resolve_device", "writable_dir"]


def int_at_least(low: int) -> Callable[[str], int]:
    """An ``argparse`` type: an integer ``>= low`` (the error names the range and the value given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a parent that cannot be searched
        return False


def existing_dir(option: str, value: str | os.PathLike[str]) -> Path:
    """``value`` as a path that must be an existing directory."""
    path = Path(value)
    if not _exists(path):
        raise UsageError(f"{option} {path}: does not exist (expected an existing directory)")
    if not path.is_dir():
        raise UsageError(f"{option} {path}: is a file, expected a directory")
    return path


def writable_dir(option: str, value: str | os.PathLike[str]) -> Path:
    """``value`` as a directory that exists and is writable, or can be created (its nearest existing parent is
    a writable directory)."""
    path = Path(value)
    if _exists(path):
        if not path.is_dir():
            raise UsageError(f"{option} {path}: is a file, expected a directory to write into")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {path}: directory is not writable (check its permissions)")
        return path
    parent = path.absolute().parent
    while not _exists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: cannot be created, {parent} is a file (expected a directory path)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot be created, {parent} is not writable (check its permissions)")
    return path


def new_dir(option: str, value: str | os.PathLike[str]) -> Path:
    """``value`` as a directory that does not exist yet and can be created."""
    path = Path(value)
    if _exists(path):
        raise UsageError(f"{option} {path}: already exists (expected a new directory to create)")
    return writable_dir(option, path)


def resolve_device(name: str, option: str = "--device") -> str:
    """The torch device ``name`` (``auto``: cuda when available, else cpu), checked to be present."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise UsageError(f"{option} {name!r}: not a torch device (expected auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cpu":
        return str(device)
    backend = torch.backends.mps if device.type == "mps" else getattr(torch, device.type, None)
    available = getattr(backend, "is_available", None)
    if not callable(available) or not available():
        raise UsageError(f"{option} {name}: no {device.type} device on this machine (expected auto or cpu here)")
    count = getattr(backend, "device_count", None)
    total = count() if callable(count) else 1
    if device.index is not None and device.index >= total:
        raise UsageError(f"{option} {name}: this machine has {total} {device.type} device(s) (indices 0..{total - 1})")
    return str(device)
