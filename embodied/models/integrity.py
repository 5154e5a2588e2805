"""Saved-model integrity: a sha256 manifest over every file of a ``save_pretrained`` directory.

``write_model_manifest(directory)`` hashes every file below ``directory`` (sub-directories included, paths
relative and ``/``-separated) except ``manifest.json`` itself and writes ``manifest.json`` (format
``embodied-model`` v1, self-checksummed like the checkpoints' manifests, see ``embodied.file_integrity``).
``MMLLM.save_pretrained`` calls it last. Code that adds a file to a saved model afterwards (e.g. a
``value_head.safetensors`` next to the weights) calls ``write_model_manifest(directory)`` again: it re-hashes
the whole directory and replaces the manifest atomically. This API is stable.

``verify_model_dir(directory)`` runs before ``MMLLM.from_pretrained`` reads anything (so ``load_agent``,
``embodied eval``, ``embodied doctor`` and a stage that starts from its parent's model all verify): any
missing, unlisted, resized or changed file raises ``ModelIntegrityError`` naming the file. A directory saved
before manifests existed (no ``manifest.json``) still loads, with a logged warning saying the files are
unverified; ``write_model_manifest`` on it seals it from then on.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from embodied.errors import UserError
from embodied.file_integrity import FileEntry, canonical_manifest_bytes, fsync_dir, hash_file

__all__ = ["MODEL_MANIFEST", "ModelIntegrityError", "verify_model_dir", "write_model_manifest"]

logger = logging.getLogger("embodied")

MODEL_MANIFEST = "manifest.json"
FORMAT = "embodied-model"
VERSION = 1
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class ModelIntegrityError(ValueError, UserError):
    """A saved model directory is missing, incomplete or changed since it was saved; the message names the file."""


def _files(directory: Path) -> list[str]:
    """Relative ``/``-separated paths of every file below ``directory`` except the manifest (and its temp file)."""
    names = []
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_file() and rel not in (MODEL_MANIFEST, MODEL_MANIFEST + ".tmp"):
            names.append(rel)
    return names


def write_model_manifest(directory: str | os.PathLike[str]) -> None:
    """Hash every file of the saved model at ``directory`` and (re)write its ``manifest.json`` atomically."""
    root = Path(directory)
    files = {name: hash_file(root / name) for name in _files(root)}
    body = {
        "format": FORMAT,
        "version": VERSION,
        "files": {name: {"sha256": e.sha256, "size": e.size} for name, e in files.items()},
    }
    tmp = root / (MODEL_MANIFEST + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(canonical_manifest_bytes(body))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, root / MODEL_MANIFEST)
    fsync_dir(root)


def _read_manifest(path: Path) -> dict[str, FileEntry]:
    """The files ``manifest.json`` lists, after checking its self-checksum, canonical form and entries."""
    try:
        raw = path.read_bytes()
        data = json.loads(raw.decode("ascii"))
        body = {key: value for key, value in data.items() if key != "checksum"}
        canonical = raw == canonical_manifest_bytes(body)
        files = {str(name): FileEntry(str(e["sha256"]), int(e["size"])) for name, e in body["files"].items()}
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelIntegrityError(
            f"{path}: unreadable model manifest ({type(error).__name__}); the file is corrupted"
        ) from None
    if not canonical:
        raise ModelIntegrityError(f"{path}: manifest checksum or canonical form does not match its content")
    if body.get("format") != FORMAT or body.get("version") != VERSION:
        raise ModelIntegrityError(f"{path}: not an {FORMAT} v{VERSION} manifest")
    bad = [name for name, e in files.items() if not _SHA256_HEX.match(e.sha256) or e.size < 0 or ".." in name]
    if bad:
        raise ModelIntegrityError(f"{path}: malformed manifest entries {bad}")
    return files


def verify_model_dir(directory: str | os.PathLike[str]) -> None:
    """Check a saved model against its ``manifest.json``; ``ModelIntegrityError`` names the first bad file.

    Without a manifest (a model saved before manifests existed) a warning is logged and nothing is checked.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ModelIntegrityError(f"{root}: no such saved model directory")
    manifest = root / MODEL_MANIFEST
    if not manifest.is_file():
        logger.warning(
            "%s has no %s (saved before model manifests existed): loading it unverified; "
            "embodied.models.integrity.write_model_manifest(dir) seals it",
            root,
            MODEL_MANIFEST,
        )
        return
    listed = _read_manifest(manifest)
    present = _files(root)
    for name in present:
        if name not in listed:
            raise ModelIntegrityError(
                f"{root / name}: not listed in {manifest} (added after saving; if it belongs to the model, "
                "call embodied.models.integrity.write_model_manifest on the directory)"
            )
    missing = [name for name in listed if name not in present]
    if missing:
        raise ModelIntegrityError(f"{root / missing[0]}: listed in {manifest} but missing")
    for name, entry in listed.items():  # sizes first: cheap, and a truncated file is named as such
        path = root / name
        size = path.stat().st_size
        if size != entry.size:
            raise ModelIntegrityError(
                f"{path}: {size} bytes but {manifest} says {entry.size} (truncated or changed after saving)"
            )
    for name, entry in listed.items():
        if hash_file(root / name).sha256 != entry.sha256:
            raise ModelIntegrityError(
                f"{root / name}: sha256 does not match {manifest} (the file is corrupted or was changed after saving)"
            )
