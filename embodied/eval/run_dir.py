"""Where an evaluated model comes from: resolve the checkpoint argument, find its run directory, read its curves.

A training run directory (``embodied train --run-dir RUN``) holds ``RUN/config.yaml`` and per stage ``S``:
``RUN/S/model/`` (``save_pretrained``), ``RUN/S/metrics.jsonl`` and ``RUN/S/lineage.json``. ``embodied eval``
accepts a model directory (one with ``config.json``) or a run directory (then the last finished stage's model, in
the order of ``config.yaml``'s stages). When the model sits at ``RUN/S/model`` the report shows the learning
curves of every stage of ``RUN`` and the manifest records ``S``'s lineage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from embodied.errors import UserError
from embodied.training.metrics import read_metrics

__all__ = ["CheckpointError", "RunLocation", "learning_curves", "locate_run", "read_lineage", "resolve_checkpoint"]

RUN_CONFIG = "config.yaml"
MODEL_DIR = "model"
MODEL_CONFIG = "config.json"
LINEAGE_FILE = "lineage.json"

#: curve per stage: split ("train", "val", ...) → [(step, loss)]
Curves = dict[str, dict[str, list[tuple[int, float]]]]


class CheckpointError(ValueError, UserError):
    """The checkpoint argument is not a saved model or a run directory; the message says what was found."""


@dataclass(frozen=True)
class RunLocation:
    """A model's run directory, the stage whose ``model/`` it is, and the run's stages in order."""

    run_dir: Path
    stage: str
    stages: tuple[str, ...]


def stage_names(run_dir: Path) -> list[str]:
    """The run's stage names in ``config.yaml`` order (else every sub-directory with metrics, sorted)."""
    try:
        config = yaml.safe_load((run_dir / RUN_CONFIG).read_text(encoding="utf-8")) or {}
        names = [str(s["name"]) for s in config.get("stages", [])]
    except (OSError, yaml.YAMLError, TypeError, KeyError, AttributeError):
        names = []
    return names or sorted(p.parent.name for p in run_dir.glob("*/metrics.jsonl"))


def resolve_checkpoint(path: str | Path) -> Path:
    """The model directory ``path`` names: itself when it holds ``config.json``, else a run's last finished stage."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} is not a directory (expected a saved model or a run directory)")
    if (path / MODEL_CONFIG).is_file():
        return path
    if (path / RUN_CONFIG).is_file():
        finished = [s for s in stage_names(path) if (path / s / MODEL_DIR / MODEL_CONFIG).is_file()]
        if finished:
            return path / finished[-1] / MODEL_DIR
        raise CheckpointError(f"run directory {path} has no finished stage (no {{stage}}/{MODEL_DIR}/{MODEL_CONFIG})")
    raise CheckpointError(
        f"checkpoint {path} is neither a saved model (no {MODEL_CONFIG}) nor a run directory (no {RUN_CONFIG})"
    )


def locate_run(model_dir: Path) -> RunLocation | None:
    """The run that ``model_dir`` belongs to when it is ``RUN/S/model`` with ``RUN/config.yaml``; else ``None``."""
    model_dir = model_dir.resolve()
    run_dir = model_dir.parent.parent
    if model_dir.name != MODEL_DIR or not (run_dir / RUN_CONFIG).is_file():
        return None
    return RunLocation(run_dir, model_dir.parent.name, tuple(stage_names(run_dir)))


def read_lineage(stage_dir: Path) -> dict[str, Any] | None:
    """The stage's ``lineage.json`` (``None`` when missing or unreadable)."""
    try:
        record = json.loads((stage_dir / LINEAGE_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def learning_curves(run: RunLocation) -> Curves:
    """Loss per logged step of every stage of ``run`` that has metrics, split by the records' ``split``."""
    curves: Curves = {}
    for stage in run.stages:
        for record in read_metrics(run.run_dir / stage):
            loss, step = record.get("loss"), record.get("step")
            if isinstance(loss, int | float) and isinstance(step, int):
                split = str(record.get("split", "train"))
                curves.setdefault(stage, {}).setdefault(split, []).append((step, float(loss)))
    return curves
