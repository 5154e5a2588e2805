"""Shared pieces of the checkpoint tests: a tiny trained MLP with AdamW and a warmup-cosine LambdaLR."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from embodied.training.checkpoint import save_checkpoint
from embodied.training.rng import capture_rng


def warmup_cosine(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    return factor


@dataclass
class Setup:
    model: nn.Module
    optimizer: torch.optim.AdamW
    scheduler: torch.optim.lr_scheduler.LambdaLR


def make_setup(seed: int, hidden: int = 16) -> Setup:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Dropout(0.1), nn.Linear(hidden, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(3, 40))
    return Setup(model, optimizer, scheduler)


def train_steps(setup: Setup, steps: int) -> None:
    for _ in range(steps):
        loss = setup.model(torch.randn(8, 4)).pow(2).mean()
        setup.optimizer.zero_grad()
        loss.backward()
        setup.optimizer.step()
        setup.scheduler.step()


def save_trained(run_dir: Path, step: int, seed: int = 0) -> Path:
    """A complete checkpoint of a few AdamW steps; trainer_state carries a small data order."""
    setup = make_setup(seed)
    train_steps(setup, 3)
    trainer_state = {"step": step, "epoch": 0, "position": 2, "order": [3, 1, 0, 2], "stage": "sft"}
    return save_checkpoint(
        run_dir, step, setup.model.state_dict(), setup.optimizer, setup.scheduler, trainer_state, capture_rng()
    )
