"""Shared pieces of the trainer tests: a tiny MLP classifier with the MMLLM forward contract, its data, a runner.

Also a script entry point (``python -m tests.unit.training.trainer_support RUN_DIR DELAY``) that the kill and
SIGTERM tests run in a subprocess: it trains with ``DELAY`` seconds per micro-batch, resuming when it can.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from embodied.training.metrics import read_metrics
from embodied.training.trainer import Trainer, TrainerSettings


@dataclass
class ToyOutput:
    loss: torch.Tensor
    metrics: dict[str, float] = field(default_factory=dict)


class ToyClassifier(nn.Module):
    """4 → 16 → 3 MLP with dropout (so resume must restore the torch RNG); ``poison`` makes the loss NaN."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 3))
        self.delay = delay

    def forward(self, x: torch.Tensor, y: torch.Tensor, poison: bool = False) -> ToyOutput:
        if self.delay:
            time.sleep(self.delay)
        logits = self.net(x)
        loss = nn.functional.cross_entropy(logits, y)
        if poison:
            loss = loss * float("nan")
        accuracy = float((logits.argmax(-1) == y).float().mean())
        return ToyOutput(loss, {"toy/loss": float(loss.detach()), "toy/accuracy": accuracy})


def toy_batches(n: int, seed: int = 0, size: int = 8) -> list[dict[str, Any]]:
    """Linearly separable 3-class batches: the label is the argmax of the first three features."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n):
        x = torch.randn(size, 4, generator=generator)
        batches.append({"x": x, "y": x[:, :3].argmax(-1)})
    return batches


def toy_settings(**overrides: Any) -> TrainerSettings:
    base: dict[str, Any] = {
        "stage": "toy",
        "max_steps": 12,
        "lr": 0.05,
        "warmup_steps": 2,
        "grad_accum": 2,
        "weight_decay": 0.01,
        "max_grad_norm": 1.0,
        "log_every": 1,
        "checkpoint_every": 3,
        "keep_checkpoints": 2,
        "progress_bar": False,
        "seed": 7,
    }
    return TrainerSettings(**{**base, **overrides})


def make_trainer(run_dir: Path, settings: TrainerSettings, init_seed: int = 0, delay: float = 0.0) -> Trainer:
    """A fresh model (initialised from ``init_seed``) and trainer over 6 train / 2 eval batches."""
    torch.manual_seed(init_seed)
    model = ToyClassifier(delay)
    return Trainer(model, settings, toy_batches(6), run_dir, eval_data=toy_batches(2, seed=1))


def train_losses(run_dir: Path) -> dict[int, float]:
    """Per-step train loss from ``metrics.jsonl``; a step logged twice would be a resume bug, so refuse it."""
    records = [r for r in read_metrics(run_dir) if r["split"] == "train"]
    steps = [r["step"] for r in records]
    assert len(steps) == len(set(steps)), f"steps logged twice: {steps}"
    return {r["step"]: r["loss"] for r in records}


def _main(run_dir: str, delay: str, checkpoint_every: str) -> None:
    settings = toy_settings(checkpoint_every=int(checkpoint_every), max_steps=30, keep_checkpoints=None)
    trainer = make_trainer(Path(run_dir), settings, delay=float(delay))
    trainer.resume("auto")
    trainer.train()


if __name__ == "__main__":
    _main(*sys.argv[1:4])
