"""Non-finite steps: skipped without touching weights or optimizer, counted, and K in a row stop the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embodied.training.errors import TrainingError
from embodied.training.metrics import read_metrics
from embodied.training.trainer import Trainer
from tests.unit.training.trainer_support import ToyClassifier, toy_batches, toy_settings


def _optimizer_tensors(trainer: Trainer) -> list[torch.Tensor]:
    return [t.clone() for state in trainer._optimizer.state.values() for t in state.values()]


def test_a_nan_step_is_skipped_and_training_goes_on(tmp_path: Path) -> None:
    torch.manual_seed(0)
    batches = toy_batches(4)
    batches[2] = {**batches[2], "poison": True}
    trainer = Trainer(ToyClassifier(), toy_settings(grad_accum=1, max_steps=8), batches, tmp_path)
    skipped_at = []
    for step in range(1, 9):
        params = [p.detach().clone() for p in trainer.model.parameters()]
        moments, lr_step = _optimizer_tensors(trainer), trainer.scheduler.last_epoch
        trainer.train(stop_at_step=step)
        record = [r for r in read_metrics(tmp_path) if r["split"] == "train"][-1]
        if record["skipped"]:
            skipped_at.append(step)
            assert record["loss"] is None and record["grad_norm"] is None  # NaN is written as null
            assert all(torch.equal(a, b) for a, b in zip(params, trainer.model.parameters(), strict=True))
            assert all(torch.equal(a, b) for a, b in zip(moments, _optimizer_tensors(trainer), strict=True))
            assert trainer.scheduler.last_epoch == lr_step
            assert all(p.grad is None for p in trainer.model.parameters())
        else:
            assert not all(torch.equal(a, b) for a, b in zip(params, trainer.model.parameters(), strict=True))
    # one poisoned batch in four: once per epoch (epochs 0 and 1)
    assert len(skipped_at) == 2
    assert trainer.state.skipped_steps == 2 and trainer.state.nonfinite_streak == 0
    assert not (tmp_path / "nonfinite.json").exists()


def test_consecutive_nan_steps_stop_with_a_diagnostic(tmp_path: Path) -> None:
    torch.manual_seed(0)
    poisoned = [{**b, "poison": True} for b in toy_batches(2)]
    model = ToyClassifier()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = Trainer(model, toy_settings(max_nonfinite=3, grad_accum=1), poisoned, tmp_path)
    with pytest.raises(TrainingError, match="3 consecutive steps with a non-finite loss") as caught:
        trainer.train()
    assert "nonfinite.json" in str(caught.value)
    diagnostic = json.loads((tmp_path / "nonfinite.json").read_text())
    assert diagnostic["step"] == 3 and diagnostic["consecutive"] == 3 and diagnostic["stage"] == "toy"
    assert {"loss", "toy/loss"} <= set(diagnostic["metrics"])
    assert diagnostic["params"] == [name for name, _ in model.named_parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert trainer._optimizer.state == {}  # AdamW never stepped: no moments were created
