"""What ``embodied doctor`` reads: the saved model, its saved processor and tokenizer, and a dataset.

``CHECKPOINT`` is a directory written by ``MMLLM.save_pretrained`` (``RUN/STAGE/model``) or the stage directory
holding it. The dataset is ``--data`` when given, else the one the stage's ``lineage.json`` records (see
``embodied.training.lineage``); a recorded dataset whose ``meta/info.json`` changed since training is still used,
and the note says so. Only ``episodes`` episodes, evenly spread over the dataset, are decoded.

Input that cannot be used at all (a missing directory, a model that does not load, ``--data`` that is no LeRobot
v3 dataset) raises ``DoctorInputError`` with a one-line message naming the path; a saved processor that fails to
load is not an input error but the finding of the preprocessing-parity check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embodied.errors import UserError

if TYPE_CHECKING:
    from embodied.data import Episode, LeRobotDataset
    from embodied.models import MMLLM, MMLLMProcessor


class DoctorInputError(ValueError, UserError):
    """The checkpoint or dataset cannot be used at all (the CLI prints it and exits with code 2)."""


@dataclass
class DoctorInputs:
    """Everything the checks read, loaded once."""

    model_dir: Path
    model: MMLLM
    #: ``MMLLMProcessor.from_pretrained(model_dir)``, or None with ``processor_error`` saying why
    saved_processor: MMLLMProcessor | None
    processor_error: str
    #: the tokenizer saved beside the weights (what an inference server loads), or None
    saved_tokenizer: Any
    dataset: LeRobotDataset | None
    #: a few decoded episodes of ``dataset`` (None without a dataset)
    episodes: list[Episode] | None
    dataset_note: str
    action_space: Any


def load_inputs(checkpoint: Path, data: Path | None, action_space: Any, max_episodes: int) -> DoctorInputs:
    """Load the model, its saved preprocessing and the dataset (``data`` or the one in ``lineage.json``)."""
    model_dir = resolve_model_dir(checkpoint)
    dataset, note = _dataset(model_dir, data)
    model = _load_model(model_dir)
    processor, error = _load_processor(model_dir)
    tokenizer = processor.tokenizer if processor is not None else _load_tokenizer(model_dir)
    episodes = None if dataset is None else read_episodes(dataset, max_episodes)
    return DoctorInputs(model_dir, model, processor, error, tokenizer, dataset, episodes, note, action_space)


def resolve_model_dir(checkpoint: Path) -> Path:
    """The saved model directory: ``checkpoint`` itself, or ``checkpoint/model`` for a stage directory."""
    if not checkpoint.exists():
        raise DoctorInputError(f"{checkpoint}: no such checkpoint directory")
    for candidate in (checkpoint, checkpoint / "model"):
        if (candidate / "config.json").is_file():
            return candidate
    raise DoctorInputError(
        f"{checkpoint}: not a saved model (no config.json); pass a directory written by MMLLM.save_pretrained, "
        "e.g. RUN/STAGE/model"
    )


def _load_model(model_dir: Path) -> MMLLM:
    from embodied.models import MMLLM

    try:
        return MMLLM.from_pretrained(model_dir).eval()
    except Exception as err:  # any failure to rebuild the model means there is nothing to examine
        raise DoctorInputError(f"{model_dir}: cannot load the model ({type(err).__name__}: {err})") from None


def _load_processor(model_dir: Path) -> tuple[MMLLMProcessor | None, str]:
    from embodied.models import MMLLMProcessor

    try:
        return MMLLMProcessor.from_pretrained(model_dir), ""
    except Exception as err:  # reported by the parity check: inference code would fail the same way
        return None, f"{type(err).__name__}: {err}"


def _load_tokenizer(model_dir: Path) -> Any:
    from embodied.models.persistence import load_saved_tokenizer

    try:
        return load_saved_tokenizer(model_dir)
    except Exception:  # no usable tokenizer files: the action-token check reports the absence
        return None


# ------------------------------------------------------------------------------------------------ dataset
def _dataset(model_dir: Path, data: Path | None) -> tuple[LeRobotDataset | None, str]:
    """``--data`` (an error when unreadable) or the lineage's dataset (skipped with a note when unusable)."""
    from embodied.data import read_dataset

    if data is not None:
        try:
            return read_dataset(data), f"{data} (--data)"
        except (OSError, ValueError, KeyError) as err:
            raise DoctorInputError(f"--data {data}: {err}") from None
    path, note = lineage_dataset(model_dir)
    if path is None:
        return None, note
    try:
        return read_dataset(path), note
    except (OSError, ValueError, KeyError) as err:
        return None, f"none ({path}, recorded in lineage.json, cannot be read: {err})"


def lineage_dataset(model_dir: Path) -> tuple[Path | None, str]:
    """The dataset recorded in the stage's ``lineage.json`` (beside ``model/``) and a note on where it came from."""
    from embodied.training.lineage import LINEAGE_FILE, file_sha256

    lineage = next((p for p in (model_dir / LINEAGE_FILE, model_dir.parent / LINEAGE_FILE) if p.is_file()), None)
    if lineage is None:
        return None, "none (no --data and no lineage.json beside the checkpoint)"
    try:
        record = json.loads(lineage.read_text(encoding="utf-8"))["dataset"]
        path, recorded_sha = Path(record["path"]), record.get("info_sha256")
    except (ValueError, KeyError, TypeError) as err:
        return None, f"none ({lineage} has no readable dataset entry: {type(err).__name__}: {err})"
    info = path / "meta" / "info.json"
    if not info.is_file():
        return None, f"none ({lineage} names {path}, which holds no dataset)"
    changed = recorded_sha is not None and file_sha256(info) != recorded_sha
    suffix = "; its meta/info.json changed since training" if changed else ""
    return path, f"{path} (from {lineage}{suffix})"


def read_episodes(dataset: LeRobotDataset, count: int) -> list[Episode]:
    """Up to ``count`` episodes evenly spread over ``dataset`` (in episode order)."""
    indices = np.unique(dataset.column("episode_index"))
    if len(indices) == 0:
        return []
    picks = np.unique(np.linspace(0, len(indices) - 1, min(count, len(indices))).round().astype(int))
    return [dataset.episode(int(indices[i])) for i in picks]
