"""Checkpoint integrity: durable writes, the sha256 manifest, and refusal of anything that could be a pickle.

A checkpoint directory is trusted only after ``verify_directory``: every file is listed in ``manifest.json`` with
its size and sha256, nothing unlisted is present, and no file carries a pickle-ish suffix or starts with a pickle
protocol header. The manifest protects itself: it stores the sha256 of its own canonical body and must be byte
for byte the canonical serialisation of what it says, so a single flipped byte anywhere is detected.

Nothing here ever deserialises a pickle; the header check exists to name a hostile file clearly instead of
letting it fail later with an obscure parse error.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from embodied.errors import UserError
from embodied.file_integrity import (
    FileEntry,
    canonical_manifest_bytes,
    fsync_dir,
    hash_file,
    looks_like_pickle,
    sync_file,
    write_synced,
)

__all__ = [
    "MANIFEST",
    "CheckpointError",
    "FileEntry",
    "Manifest",
    "fsync_dir",
    "hash_file",
    "looks_like_pickle",
    "read_verified",
    "scan_directory",
    "step_of",
    "sync_file",
    "verify_directory",
    "write_manifest",
    "write_synced",
]

MANIFEST = "manifest.json"
FORMAT = "embodied-checkpoint"
VERSION = 1
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"})
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_STEP_DIR = re.compile(r"^step-(\d+)$")


class CheckpointError(RuntimeError, UserError):
    """A checkpoint cannot be written or trusted; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Manifest:
    """The parsed, self-verified ``manifest.json`` of one checkpoint directory."""

    step: int
    files: dict[str, FileEntry]


def step_of(name: str) -> int | None:
    """The step of a ``step-000123`` directory name, ``None`` for any other name."""
    match = _STEP_DIR.match(name)
    return int(match.group(1)) if match else None


def write_manifest(directory: Path, step: int) -> Manifest:
    """Hash every file in ``directory`` and write a synced ``manifest.json`` listing them."""
    files = {p.name: hash_file(p) for p in sorted(directory.iterdir()) if p.name != MANIFEST}
    body = {
        "format": FORMAT,
        "version": VERSION,
        "step": step,
        "files": {name: {"sha256": e.sha256, "size": e.size} for name, e in files.items()},
    }
    write_synced(directory / MANIFEST, canonical_manifest_bytes(body))
    return Manifest(step, files)


def _refuse_hostile_entries(directory: Path) -> list[str]:
    """Names of the plain files in ``directory``; raises on links, folders, pickle suffixes or pickle headers."""
    names = []
    for entry in sorted(directory.iterdir()):
        if entry.is_symlink() or not entry.is_file():
            raise CheckpointError(f"{entry}: checkpoints hold plain files only (found a link or folder)")
        if entry.suffix.lower() in PICKLE_SUFFIXES:
            raise CheckpointError(
                f"{entry}: refusing a pickle-format file ({entry.suffix}); checkpoints are "
                "safetensors + JSON only and this file is never opened"
            )
        with open(entry, "rb") as handle:
            head = handle.read(2)
        if looks_like_pickle(head):
            raise CheckpointError(
                f"{entry}: file starts with a pickle protocol {head[1]} header; refusing it (it is never deserialised)"
            )
        names.append(entry.name)
    return names


def _parse_manifest(path: Path) -> Manifest:
    """Parse ``manifest.json`` and check its self-checksum and canonical form."""
    try:
        raw = path.read_bytes()
        data = json.loads(raw.decode("ascii"))
        body = {key: value for key, value in data.items() if key != "checksum"}
        if raw != canonical_manifest_bytes(body):  # covers the stored checksum too: it is part of the canonical bytes
            raise CheckpointError(f"{path}: manifest checksum or canonical form does not match its content")
        if body.get("format") != FORMAT or body.get("version") != VERSION:
            raise CheckpointError(f"{path}: not an {FORMAT} v{VERSION} manifest")
        files = {name: FileEntry(str(e["sha256"]), int(e["size"])) for name, e in body["files"].items()}
        step = body["step"]
    except CheckpointError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(f"{path}: unreadable manifest ({type(error).__name__}: {error})") from error
    bad = [name for name, e in files.items() if not _SHA256_HEX.match(e.sha256) or e.size < 0 or "/" in name]
    if bad or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{path}: malformed manifest entries {bad or ['step']}")
    return Manifest(step, files)


def scan_directory(directory: Path) -> Manifest:
    """Cheap checks (no hashing): hostile files, manifest self-check, listed == present, sizes, step name."""
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no such checkpoint directory")
    present = _refuse_hostile_entries(directory)
    if MANIFEST not in present:
        raise CheckpointError(f"{directory}: no {MANIFEST}; the checkpoint is incomplete")
    manifest = _parse_manifest(directory / MANIFEST)
    unlisted = sorted(set(present) - set(manifest.files) - {MANIFEST})
    missing = sorted(set(manifest.files) - set(present))
    if unlisted or missing:
        raise CheckpointError(f"{directory}: files not in the manifest {unlisted}, listed but missing {missing}")
    for name, entry in manifest.files.items():
        size = (directory / name).stat().st_size
        if size != entry.size:
            raise CheckpointError(f"{directory / name}: size {size} bytes, manifest says {entry.size}")
    named_step = step_of(directory.name)
    if named_step is not None and named_step != manifest.step:
        raise CheckpointError(f"{directory}: manifest is for step {manifest.step}, directory name says {named_step}")
    return manifest


def verify_directory(directory: Path) -> Manifest:
    """Full verification: ``scan_directory`` plus the sha256 of every listed file."""
    manifest = scan_directory(directory)
    for name, entry in manifest.files.items():
        actual = hash_file(directory / name)
        if actual.sha256 != entry.sha256:
            raise CheckpointError(f"{directory / name}: sha256 {actual.sha256} does not match manifest {entry.sha256}")
    return manifest


def read_verified(directory: Path, name: str, manifest: Manifest) -> bytes:
    """Read one listed file and check the bytes in hand against the manifest (what is parsed is what was hashed)."""
    entry = manifest.files.get(name)
    if entry is None:
        raise CheckpointError(f"{directory}: required file {name} is not in the manifest")
    data = (directory / name).read_bytes()
    if len(data) != entry.size:
        raise CheckpointError(f"{directory / name}: size {len(data)} bytes, manifest says {entry.size}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise CheckpointError(f"{directory / name}: sha256 {digest} does not match manifest {entry.sha256}")
    return data
