"""File hashing and durable writes shared by every sha256 manifest (checkpoints, saved models).

Neutral ground: ``embodied.training.manifest`` (checkpoint directories) and ``embodied.models.integrity`` (saved
model directories) both build on these helpers, so neither package imports the other for them. A manifest body
is serialised canonically (sorted keys, fixed indentation) with the sha256 of its own compact form under
``checksum``; a reader re-serialises what it parsed and compares bytes, so a flipped byte anywhere in the
manifest is caught as surely as one in a listed file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "FileEntry",
    "canonical_manifest_bytes",
    "fsync_dir",
    "hash_file",
    "looks_like_pickle",
    "sync_file",
    "write_synced",
]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    """One file as a manifest records it."""

    sha256: str
    size: int


def looks_like_pickle(head: bytes) -> bool:
    """True when ``head`` starts with a pickle protocol 2–5 header (``\\x80`` then the protocol byte)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (created, renamed files) durable; a no-op where directories cannot be opened."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows: directory handles cannot be fsynced
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_file(path: Path) -> None:
    """Flush a file written by another library (safetensors) to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file and fsync it before returning."""
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def hash_file(path: Path) -> FileEntry:
    """sha256 and size of a file, read in chunks so large shards never sit in memory twice."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(digest.hexdigest(), size)


def canonical_manifest_bytes(body: dict[str, Any]) -> bytes:
    """Canonical serialisation of a manifest ``body``; the ``checksum`` it adds covers the body without itself."""
    checksum = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return (json.dumps({**body, "checksum": checksum}, sort_keys=True, indent=2) + "\n").encode("ascii")
