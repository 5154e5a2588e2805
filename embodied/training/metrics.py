"""Run metrics: ``RUN_DIR/metrics.jsonl`` always (one JSON object per logged step), TensorBoard when installed.

Every line is flushed as it is written, so a killed run keeps all lines up to the kill. A resumed run first drops
the lines logged after its checkpoint (:meth:`MetricsWriter.truncate_after`), so the file reads as one curve with
each step once.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger("embodied")

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All records of ``run_dir/metrics.jsonl`` in file order (an empty list when there is none)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class MetricsWriter:
    """Appends records to ``metrics.jsonl`` and mirrors numeric values to TensorBoard as ``<split>/<key>``."""

    def __init__(self, run_dir: str | os.PathLike[str], tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = None
        self._tensorboard: Any = None
        self.tensorboard = tensorboard and importlib.util.find_spec("tensorboard") is not None

    def _summary_writer(self) -> Any:
        """The TensorBoard writer, opened on first use (again after ``close``); ``None`` when not installed."""
        if self.tensorboard and self._tensorboard is None:
            from torch.utils.tensorboard import SummaryWriter  # importable only with tensorboard installed

            self._tensorboard = SummaryWriter(log_dir=str(self.path.parent / TENSORBOARD_DIR))
        return self._tensorboard

    def truncate_after(self, step: int) -> None:
        """Drop records with ``step`` greater than ``step`` (written by a run killed after its last checkpoint)."""
        if not self.path.exists():
            return
        self._close_file()
        lines = self.path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
        if len(kept) == len(lines):
            return
        logger.info("metrics: dropping %d record(s) logged after step %d", len(lines) - len(kept), step)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        os.replace(tmp, self.path)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record; non-finite floats become ``null`` so every line stays strict JSON."""
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(clean, allow_nan=False) + "\n")
        self._file.flush()
        if (writer := self._summary_writer()) is not None:
            split, step = record.get("split", "train"), int(record["step"])
            for key, value in clean.items():
                if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                    writer.add_scalar(f"{split}/{key}", value, step)

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        """Close the JSONL file and the TensorBoard writer (a later ``write`` reopens the file)."""
        self._close_file()
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None
