"""Training checkpoints: safetensors + JSON only, written atomically, verified on load, resumed bit-identically.

Layout of ``run_dir/checkpoints/step-000123/`` (optional parts are absent when not given)::

    model.safetensors      model tensors, tied weights stored once
    model.json             state tree: key order and which keys alias one stored tensor
    optimizer.safetensors  optimizer tensors, named like ``state.0.exp_avg``        (optional)
    optimizer.json         param_groups, scalar state, references to those tensors (optional)
    scheduler.json         ``scheduler.state_dict()``                                (optional)
    trainer_state.json     step, epoch, data order, stage, config hash ... (plain JSON from the trainer)
    rng.json               Python ``random`` and numpy states, layout of rng.safetensors
    rng.safetensors        torch CPU / CUDA / named generator byte states
    hooks.json             continual-learning hooks' plain-JSON state                 (optional)
    hooks.safetensors      their tensors (Fisher, anchors, generator states)          (optional)
    part-<name>.json       a trainer's own named part, e.g. the rl stage's            (optional)
    part-<name>.safetensors  self-imitation buffer, with its tensors                  (optional)
    manifest.json          sha256 and size of every file above, self-checksummed

A save goes to ``.tmp-step-000123-<pid>/``; every file and the directory are fsynced, the directory is renamed
into place with ``os.replace`` and the parent is fsynced, so a killed save leaves only a ``.tmp-*`` directory that
resume ignores. Loading refuses anything unlisted, mismatched or pickle-like before parsing a single byte.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from embodied.training.manifest import (
    CheckpointError,
    Manifest,
    fsync_dir,
    read_verified,
    step_of,
    verify_directory,
    write_manifest,
    write_synced,
)
from embodied.training.rng import RngState, restore_rng
from embodied.training.state_codec import (
    check_plain_json,
    decode_state,
    encode_state,
    json_bytes,
    load_tensors,
    save_tensors,
)

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "StatePair",
    "latest_checkpoint",
    "load_checkpoint",
    "restore_optimizer",
    "restore_rng",
    "restore_scheduler",
    "save_checkpoint",
]

logger = logging.getLogger("embodied")

CHECKPOINTS = "checkpoints"
_TMP_PREFIX = ".tmp-"
_PART_PREFIX = "part-"

#: JSON tree and tensors of one piece of state (hooks, a trainer's named parts)
StatePair = tuple[dict[str, Any], dict[str, torch.Tensor]]


@dataclass(eq=False)
class Checkpoint:
    """A verified checkpoint in memory; ``optimizer_state`` / ``scheduler_state`` are ready for ``load_state_dict``."""

    path: Path
    step: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    scheduler_state: dict[str, Any] | None
    trainer_state: dict[str, Any]
    rng: RngState
    hooks_state: StatePair | None = None
    #: a trainer's own named parts (``part-<name>.json`` + ``.safetensors``), e.g. ``self_imitation``
    parts: dict[str, StatePair] = field(default_factory=dict)


def step_dir_name(step: int) -> str:
    """``step-000123``: zero-padded so listings sort by step up to a million steps (parsing never relies on it)."""
    return f"step-{step:06d}"


def _payload(
    model_state: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any | None,
    trainer_state: dict[str, Any],
    rng: RngState,
    hooks_state: StatePair | None = None,
    parts: dict[str, StatePair] | None = None,
) -> tuple[dict[str, bytes], dict[str, dict[str, torch.Tensor]]]:
    """Encode everything before touching the disk, so a non-serialisable value fails without leftovers."""
    model_tree, model_tensors = encode_state(dict(model_state), "model_state")
    if not model_tensors:
        raise CheckpointError("model_state: no tensors to save")
    check_plain_json(trainer_state, "trainer_state")
    json_files = {
        "model.json": json_bytes(model_tree),
        "trainer_state.json": json_bytes(trainer_state),
        "rng.json": json_bytes(rng.to_json()),
    }
    tensor_files = {"model.safetensors": model_tensors, "rng.safetensors": rng.tensors()}
    if optimizer is not None:
        optimizer_tree, optimizer_tensors = encode_state(optimizer.state_dict(), "optimizer state")
        json_files["optimizer.json"] = json_bytes(optimizer_tree)
        tensor_files["optimizer.safetensors"] = optimizer_tensors
    if scheduler is not None:
        scheduler_tree, _ = encode_state(scheduler.state_dict(), f"{type(scheduler).__name__} state", False)
        json_files["scheduler.json"] = json_bytes(scheduler_tree)
    if hooks_state is not None:
        check_plain_json(hooks_state[0], "hooks state")
        json_files["hooks.json"] = json_bytes(hooks_state[0])
        tensor_files["hooks.safetensors"] = dict(hooks_state[1])
    for name, (tree, tensors) in (parts or {}).items():
        if not name.replace("_", "").isalnum():
            raise CheckpointError(f"part name {name!r} must be letters, digits and underscores")
        check_plain_json(tree, f"{name} state")
        json_files[f"{_PART_PREFIX}{name}.json"] = json_bytes(tree)
        tensor_files[f"{_PART_PREFIX}{name}.safetensors"] = dict(tensors)
    return json_files, tensor_files


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    step: int,
    model_state: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any | None,
    trainer_state: dict[str, Any],
    rng: RngState,
    retention: int | None = None,
    hooks_state: StatePair | None = None,
    parts: dict[str, StatePair] | None = None,
) -> Path:
    """Write ``run_dir/checkpoints/step-{step:06d}/`` atomically and return its path.

    ``scheduler`` is any LR scheduler whose ``state_dict()`` is JSON-able (all of ``torch.optim.lr_scheduler``;
    ``LambdaLR`` stores no lambdas, which are rebuilt from the config). ``retention`` keeps only the newest N
    step directories (the one just written always stays). An existing directory for the same step is replaced.
    ``hooks_state``: the stage's continual-learning hooks (``HookSet.state_dict()``: JSON and tensors).
    ``parts``: a trainer's own named state (JSON and tensors each), e.g. the rl stage's self-imitation buffer.
    """
    if step < 0:
        raise CheckpointError(f"step must be >= 0, got {step}")
    if retention is not None and retention < 1:
        raise CheckpointError(f"retention must be >= 1 or None, got {retention}")
    json_files, tensor_files = _payload(model_state, optimizer, scheduler, trainer_state, rng, hooks_state, parts)
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        root.mkdir(parents=True)
        fsync_dir(root.parent)  # the new checkpoints/ entry must survive a crash too
    _remove_stale_temporaries(root)
    final = root / step_dir_name(step)
    tmp = root / f"{_TMP_PREFIX}{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name, data in json_files.items():
            write_synced(tmp / name, data)
        for name, tensors in tensor_files.items():
            save_tensors(tensors, tmp / name)
        write_manifest(tmp, step)
        fsync_dir(tmp)
        _move_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if newer := [p.name for p in _step_dirs(root) if (step_of(p.name) or -1) > step]:
        logger.warning("saved step %d while newer checkpoints exist (%s); resume picks the newest", step, newer)
    if retention is not None:
        _apply_retention(root, retention, keep=final)
    return final


def _move_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an old ``final`` is moved aside first because rename cannot replace a folder."""
    aside = None
    if final.exists():
        logger.warning("replacing existing checkpoint %s", final)
        aside = final.with_name(f"{_TMP_PREFIX}old-{final.name}-{os.getpid()}")
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(final, aside)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _step_dirs(root: Path) -> list[Path]:
    """Step directories under ``checkpoints/``, newest (highest step) first; ``.tmp-*`` never match."""
    if not root.is_dir():
        return []
    found = [(step, p) for p in root.iterdir() if (step := step_of(p.name)) is not None and p.is_dir()]
    return [p for _, p in sorted(found, reverse=True)]


def _apply_retention(root: Path, retention: int, keep: Path) -> None:
    """Delete all but the newest ``retention`` step directories; renamed to ``.tmp-*`` first so a kill mid-delete
    never leaves a half-deleted directory that looks like a checkpoint."""
    for old in [p for p in _step_dirs(root) if p != keep][retention - 1 :]:
        doomed = old.with_name(f"{_TMP_PREFIX}delete-{old.name}-{os.getpid()}")
        os.replace(old, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    fsync_dir(root)


def _remove_stale_temporaries(root: Path) -> None:
    """Remove ``.tmp-*`` directories whose writing process is gone (a save or delete killed midway)."""
    if os.name != "posix":  # os.kill(pid, 0) terminates processes on Windows; leave the leftovers there
        return
    for entry in root.glob(f"{_TMP_PREFIX}*"):
        pid_text = entry.name.rsplit("-", 1)[-1]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        logger.info("removing leftover of an interrupted save: %s", entry)
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _json(directory: Path, name: str, manifest: Manifest) -> Any:
    data = read_verified(directory, name, manifest)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{directory / name}: invalid JSON ({error})") from error


def _tree(directory: Path, stem: str, manifest: Manifest) -> Any:
    """Decode a ``<stem>.json`` state tree with its ``<stem>.safetensors`` tensors."""
    tensors = load_tensors(read_verified(directory, f"{stem}.safetensors", manifest), str(directory / stem))
    return decode_state(_json(directory, f"{stem}.json", manifest), tensors, str(directory / f"{stem}.json"))


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Verify and load a checkpoint directory; any problem is a ``CheckpointError`` naming the file."""
    directory = Path(path)
    manifest = verify_directory(directory)
    listed = set(manifest.files)
    if ("optimizer.json" in listed) != ("optimizer.safetensors" in listed):
        raise CheckpointError(f"{directory}: optimizer.json and optimizer.safetensors must come together")
    model_state = _tree(directory, "model", manifest)
    optimizer_state = _tree(directory, "optimizer", manifest) if "optimizer.json" in listed else None
    scheduler_state = _json(directory, "scheduler.json", manifest) if "scheduler.json" in listed else None
    trainer_state = _json(directory, "trainer_state.json", manifest)
    rng_tensors = load_tensors(read_verified(directory, "rng.safetensors", manifest), str(directory / "rng"))
    try:
        rng = RngState.from_parts(_json(directory, "rng.json", manifest), rng_tensors)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{directory / 'rng.json'}: malformed RNG state ({error})") from error
    hooks_state = None
    if ("hooks.json" in listed) != ("hooks.safetensors" in listed):
        raise CheckpointError(f"{directory}: hooks.json and hooks.safetensors must come together")
    if "hooks.json" in listed:
        hook_tensors = load_tensors(read_verified(directory, "hooks.safetensors", manifest), str(directory / "hooks"))
        hooks_state = (_json(directory, "hooks.json", manifest), hook_tensors)
    parts = {}
    for name in sorted(n for n in listed if n.startswith(_PART_PREFIX) and n.endswith(".json")):
        stem = name[: -len(".json")]
        if f"{stem}.safetensors" not in listed:
            raise CheckpointError(f"{directory}: {name} comes without {stem}.safetensors")
        part_tensors = load_tensors(read_verified(directory, f"{stem}.safetensors", manifest), str(directory / stem))
        parts[stem[len(_PART_PREFIX) :]] = (_json(directory, name, manifest), part_tensors)
    if not isinstance(model_state, dict) or not isinstance(trainer_state, dict):
        raise CheckpointError(f"{directory}: model.json and trainer_state.json must hold objects")
    return Checkpoint(
        path=directory,
        step=manifest.step,
        model_state=model_state,
        optimizer_state=optimizer_state,
        scheduler_state=None if scheduler_state is None else decode_state(scheduler_state, {}, "scheduler.json"),
        trainer_state=trainer_state,
        rng=rng,
        hooks_state=hooks_state,
        parts=parts,
    )


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The newest step directory that verifies (``--resume auto``); corrupt ones are skipped with a warning."""
    for candidate in _step_dirs(Path(run_dir) / CHECKPOINTS):
        try:
            verify_directory(candidate)
        except (CheckpointError, OSError) as error:
            logger.warning("skipping checkpoint %s: %s", candidate, error)
            continue
        return candidate
    return None


def restore_optimizer(optimizer: torch.optim.Optimizer, checkpoint: Checkpoint) -> None:
    """Load the saved optimizer state (moments, step counts, param groups) into ``optimizer``."""
    if checkpoint.optimizer_state is None:
        raise CheckpointError(f"{checkpoint.path}: saved without an optimizer")
    try:
        optimizer.load_state_dict(checkpoint.optimizer_state)
    except (ValueError, KeyError) as error:
        raise CheckpointError(f"{checkpoint.path}: optimizer state does not fit this optimizer ({error})") from error


def restore_scheduler(scheduler: Any, checkpoint: Checkpoint) -> None:
    """Load the saved LR scheduler state into ``scheduler`` (lambdas come from the scheduler as built)."""
    if checkpoint.scheduler_state is None:
        raise CheckpointError(f"{checkpoint.path}: saved without a scheduler")
    scheduler.load_state_dict(checkpoint.scheduler_state)
