"""``TrainingError``: a training run cannot go on (diverged, misconfigured resume); the message says why."""

from __future__ import annotations

from embodied.errors import UserError


class TrainingError(RuntimeError, UserError):
    """Raised by the trainer when a run must stop; the message names the step and the cause (CLI exit code 2)."""
