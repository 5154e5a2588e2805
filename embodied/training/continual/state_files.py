"""A stage's hook state between tasks: ``STAGE/hooks/state.json`` + ``state.safetensors``, and ``build_hooks``.

When a stage finishes a task, its hooks' state (after ``on_task_end``) is written beside the stage's model; the
same stage of the next task in the sequence loads it before ``on_task_start``. Within a stage, checkpoints carry
the same state (``hooks.json`` / ``hooks.safetensors``), so a resume is exact.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embodied.file_integrity import write_synced
from embodied.training.continual.base import HOOKS, Hook, HookSet
from embodied.training.state_codec import json_bytes, load_tensors, save_tensors

__all__ = ["HOOKS_DIR", "build_hooks", "load_hook_state", "save_hook_state"]

HOOKS_DIR = "hooks"
_JSON, _TENSORS = "state.json", "state.safetensors"


def build_hooks(specs: Sequence[dict[str, Any]]) -> list[Hook]:
    """One hook per resolved ``{kind: ..., ...}`` entry, named ``<index>-<kind>``."""
    hooks: list[Hook] = []
    for index, spec in enumerate(specs):
        entry, settings = HOOKS.resolve(dict(spec))
        hooks.append(entry.target(settings, f"{index}-{spec['kind']}"))  # type: ignore[call-arg]
    return hooks


def save_hook_state(directory: Path, hooks: HookSet) -> Path:
    """Write the hooks' state into ``directory`` (replaced as a whole: written aside, then renamed)."""
    tree, tensors = hooks.state_dict()
    tmp = directory.with_name(f".{directory.name}-tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_synced(tmp / _JSON, json_bytes(tree))
    save_tensors(tensors, tmp / _TENSORS)
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    return directory


def load_hook_state(directory: Path, hooks: HookSet) -> bool:
    """Load the state ``save_hook_state`` wrote, when ``directory`` holds one; whether it did."""
    if not (directory / _JSON).is_file():
        return False
    tree = json.loads((directory / _JSON).read_text(encoding="utf-8"))
    tensors = load_tensors((directory / _TENSORS).read_bytes(), str(directory / _TENSORS))
    hooks.load_state_dict(tree, tensors, str(directory / _JSON))
    return True
