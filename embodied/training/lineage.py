"""Where a stage's model came from: ``lineage.json`` next to each stage's outputs in the run directory.

Records the parent (the previous stage's saved model, or ``null`` for a model built from ``config.model``), the
checkpoint a resumed stage continued from, the dataset path with a sha256 of its ``meta/info.json``, and a
sha256 of the resolved config, so any saved model can be traced back to its exact inputs, and the stage's wall time
(``seconds``; the main job's per-phase table reads it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

LINEAGE_FILE = "lineage.json"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config_sha256(config: BaseModel) -> str:
    """Hex sha256 of the resolved config as ``save_config`` writes it (YAML, keys in schema order)."""
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_lineage(
    stage_dir: Path,
    *,
    stage: str,
    kind: str,
    parent: Path | None,
    resumed_from: Path | None,
    dataset: Path | None,
    config: BaseModel,
    seconds: float | None = None,
) -> Path:
    """Write ``stage_dir/lineage.json`` and return its path (``seconds``: the stage's wall time in this process,
    training and saving; a resumed stage counts only the part after the resume)."""
    record: dict[str, Any] = {
        "stage": stage,
        "kind": kind,
        "model": str((stage_dir / "model").resolve()),
        "parent": None if parent is None else str(parent.resolve()),
        "resumed_from": None if resumed_from is None else str(resumed_from.resolve()),
        "dataset": None
        if dataset is None
        else {"path": str(dataset.resolve()), "info_sha256": file_sha256(dataset / "meta" / "info.json")},
        "config_sha256": config_sha256(config),
        "seconds": None if seconds is None else round(seconds, 1),
    }
    path = stage_dir / LINEAGE_FILE
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path
