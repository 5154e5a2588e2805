"""Learning-rate schedule of the supervised loop: linear warm-up, then cosine decay to zero or a constant rate (as
a ``LambdaLR``).

The factor is a closure, so ``LambdaLR.state_dict()`` stores no lambda (it keeps only callable *objects*): the
checkpoint holds the step count as JSON and the closure is rebuilt from the settings on resume.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

SCHEDULES = ("cosine", "constant")


def warmup_cosine(warmup_steps: int, total_steps: int, schedule: str = "cosine") -> Callable[[int], float]:
    """Factor of the base LR at scheduler step ``s`` (0-based, the step about to be taken).

    Warm-up rises linearly ``1/W, 2/W, ..., 1`` so the first update already moves the weights; the cosine then
    falls from 1 to 0 over the remaining ``total_steps - warmup_steps`` updates (``schedule="constant"``: the
    rate stays at 1 after the warm-up, as RL runs whose length is not known in advance often keep it).
    """
    if warmup_steps < 0 or total_steps < 1:
        raise ValueError(f"need warmup_steps >= 0 and total_steps >= 1, got {warmup_steps} and {total_steps}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, schedule: str = "cosine"
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` with :func:`warmup_cosine` applied to every parameter group."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup_steps, total_steps, schedule))
