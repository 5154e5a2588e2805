"""Resume is bit-identical: a run saved mid-epoch and continued in a fresh process state matches an
uninterrupted run loss for loss (dropout, numpy/Python augmentation noise and the data order all draw RNG)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from embodied.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    restore_optimizer,
    restore_rng,
    restore_scheduler,
    save_checkpoint,
)
from embodied.training.rng import capture_rng
from tests.unit.training.checkpoint_support import Setup, make_setup

DATA = torch.Generator().manual_seed(11)
INPUTS = torch.randn(20, 4, generator=DATA)
TARGETS = INPUTS.sum(dim=1, keepdim=True).sin()
BATCH, TOTAL_STEPS, SAVE_AT = 4, 15, 7


@dataclass
class LoopState:
    """What a trainer keeps about the data order: the shuffling generator, epoch, position, permutation."""

    data_order: torch.Generator
    step: int = 0
    epoch: int = 0
    position: int = 0
    order: list[int] | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "step": self.step,
            "epoch": self.epoch,
            "position": self.position,
            "order": self.order,
            "data_order_state": self.data_order.get_state().tolist(),
            "stage": "sft",
        }

    @classmethod
    def from_json(cls, saved: dict) -> LoopState:
        data_order = torch.Generator()
        data_order.set_state(torch.tensor(saved["data_order_state"], dtype=torch.uint8))
        return cls(data_order, saved["step"], saved["epoch"], saved["position"], saved["order"])


def _train(setup: Setup, loop: LoopState, until: int) -> list[float]:
    losses = []
    while loop.step < until:
        if loop.order is None:
            loop.order = torch.randperm(len(INPUTS), generator=loop.data_order).tolist()
        elif loop.position * BATCH >= len(INPUTS):  # epoch boundary: a fresh permutation from the saved generator
            loop.order = torch.randperm(len(INPUTS), generator=loop.data_order).tolist()
            loop.epoch, loop.position = loop.epoch + 1, 0
        index = torch.tensor(loop.order[loop.position * BATCH : (loop.position + 1) * BATCH])
        noise = torch.from_numpy(np.random.standard_normal((BATCH, 4))).float() * 0.01 * random.random()
        loss = (setup.model(INPUTS[index] + noise) - TARGETS[index]).pow(2).mean()
        setup.optimizer.zero_grad()
        loss.backward()
        setup.optimizer.step()
        setup.scheduler.step()
        losses.append(loss.item())
        loop.step, loop.position = loop.step + 1, loop.position + 1
    return losses


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def test_continued_training_is_bit_identical(tmp_path: Path) -> None:
    _seed_everything(0)
    reference_setup = make_setup(seed=0)
    reference = _train(reference_setup, LoopState(torch.Generator().manual_seed(5)), TOTAL_STEPS)

    _seed_everything(0)
    setup = make_setup(seed=0)
    loop = LoopState(torch.Generator().manual_seed(5))
    first = _train(setup, loop, SAVE_AT)
    assert 0 < loop.position < len(INPUTS) // BATCH  # saved mid-epoch
    model_state = setup.model.state_dict()
    save_checkpoint(tmp_path, loop.step, model_state, setup.optimizer, setup.scheduler, loop.to_json(), capture_rng())

    _seed_everything(123)  # a new process: different model init, generators and data order
    resumed_setup = make_setup(seed=1)
    ckpt = load_checkpoint(latest_checkpoint(tmp_path) or tmp_path)
    resumed_setup.model.load_state_dict(ckpt.model_state)
    restore_optimizer(resumed_setup.optimizer, ckpt)
    restore_scheduler(resumed_setup.scheduler, ckpt)
    restore_rng(ckpt.rng)
    resumed_loop = LoopState.from_json(ckpt.trainer_state)
    rest = _train(resumed_setup, resumed_loop, TOTAL_STEPS)

    assert first + rest == reference  # exact float equality, loss for loss
    assert resumed_loop.epoch == 2 and len(reference) == TOTAL_STEPS
    final, expected = resumed_setup.model.state_dict(), reference_setup.model.state_dict()
    assert all(torch.equal(final[name], expected[name]) for name in expected)


def test_resume_without_rng_restore_diverges(tmp_path: Path) -> None:
    """The RNG snapshot matters: skipping it changes dropout and noise, so the check above is not vacuous."""
    _seed_everything(0)
    reference = _train(make_setup(seed=0), LoopState(torch.Generator().manual_seed(5)), TOTAL_STEPS)
    _seed_everything(0)
    setup = make_setup(seed=0)
    loop = LoopState(torch.Generator().manual_seed(5))
    _train(setup, loop, SAVE_AT)
    path = save_checkpoint(
        tmp_path, loop.step, setup.model.state_dict(), setup.optimizer, setup.scheduler, loop.to_json(), capture_rng()
    )
    _seed_everything(123)
    ckpt = load_checkpoint(path)
    resumed = make_setup(seed=1)
    resumed.model.load_state_dict(ckpt.model_state)
    restore_optimizer(resumed.optimizer, ckpt)
    restore_scheduler(resumed.scheduler, ckpt)
    assert _train(resumed, LoopState.from_json(ckpt.trainer_state), TOTAL_STEPS) != reference[SAVE_AT:]
