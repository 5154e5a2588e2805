"""Non-finite loss/gradient handling: the step is skipped (weights and optimizer untouched) and counted; after
``max_consecutive`` skips in a row the run stops with a ``TrainingError`` and ``RUN_DIR/nonfinite.json``.

A single NaN batch (a corrupt sample, an overflow) should not end a long run, but a run that keeps producing
them has diverged and must stop with enough detail to debug it: which metric and which parameter's gradient.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from embodied.training.errors import TrainingError

logger = logging.getLogger("embodied")

DIAGNOSTIC_FILE = "nonfinite.json"


@dataclass
class NonFiniteReport:
    """What was non-finite at ``step``: metric names (``"loss"`` included) and parameters with such gradients."""

    step: int
    metrics: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)


def find_nonfinite(
    step: int,
    metrics: Mapping[str, float],
    grad_norm: float,
    named_params: Iterable[tuple[str, torch.nn.Parameter]],
) -> NonFiniteReport | None:
    """``None`` when ``metrics`` and ``grad_norm`` are finite; else a report (parameters scanned only then)."""
    bad_metrics = sorted(name for name, value in metrics.items() if not math.isfinite(value))
    if not bad_metrics and math.isfinite(grad_norm):
        return None
    bad_params = [
        name for name, p in named_params if p.grad is not None and not bool(torch.isfinite(p.grad).all().item())
    ]
    return NonFiniteReport(step=step, metrics=bad_metrics, params=bad_params)


class NonFiniteGuard:
    """Counts skipped steps (``skipped``) and the current run of consecutive ones (``streak``)."""

    def __init__(self, max_consecutive: int, run_dir: str | os.PathLike[str]) -> None:
        self.max_consecutive = max_consecutive
        self.run_dir = Path(run_dir)
        self.skipped = 0
        self.streak = 0

    def record(self, report: NonFiniteReport | None, stage: str) -> None:
        """Update the counters; on the ``max_consecutive``-th skip in a row write the diagnostic and raise."""
        if report is None:
            self.streak = 0
            return
        self.skipped += 1
        self.streak += 1
        logger.warning(
            "step %d skipped: non-finite %s (%d in a row, %d in all)",
            report.step,
            ", ".join(report.metrics + [f"grad of {p}" for p in report.params[:5]]) or "gradient norm",
            self.streak,
            self.skipped,
        )
        if self.streak >= self.max_consecutive:
            path = self._write_diagnostic(report, stage)
            raise TrainingError(
                f"stage {stage!r}: {self.streak} consecutive steps with a non-finite loss or gradient "
                f"(last at step {report.step}: metrics {report.metrics}, gradients of {report.params[:5]}); "
                f"details in {path}. Lower the learning rate, check the data, or raise max_nonfinite."
            )

    def _write_diagnostic(self, report: NonFiniteReport, stage: str) -> Path:
        path = self.run_dir / DIAGNOSTIC_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {**asdict(report), "stage": stage, "consecutive": self.streak, "skipped_total": self.skipped}
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        return path
