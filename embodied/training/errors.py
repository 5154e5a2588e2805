"""``TrainingError``: a training run cannot go on (diverged, misconfigured resume); the message says why."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """Raised by the trainer when a run must stop; the message names the step and the cause."""
