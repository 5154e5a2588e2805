"""The supervised loop: learning, exact resume mid-epoch and at an epoch boundary, evaluation records, settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from embodied.training.checkpoint import latest_checkpoint, load_checkpoint
from embodied.training.errors import TrainingError
from embodied.training.metrics import read_metrics
from tests.unit.training.trainer_support import make_trainer, toy_settings, train_losses


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """One uninterrupted 12-step run (3 steps per epoch: 6 batches, grad_accum 2)."""
    run_dir = tmp_path_factory.mktemp("reference")
    trainer = make_trainer(run_dir, toy_settings(eval_every=4))
    trainer.train()
    return run_dir, {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_uninterrupted_run_learns_and_logs(reference: tuple[Path, dict[str, torch.Tensor]]) -> None:
    run_dir, _ = reference
    records = read_metrics(run_dir)
    train = [r for r in records if r["split"] == "train"]
    assert [r["step"] for r in train] == list(range(1, 13))
    assert all({"step", "stage", "loss", "lr", "grad_norm", "toy/accuracy"} <= r.keys() for r in train)
    assert {r["stage"] for r in records} == {"toy"}
    assert train[-1]["loss"] < 0.6 * train[0]["loss"]
    # warm-up then cosine: the peak is reached at the end of warm-up, the last update is the smallest
    lrs = [r["lr"] for r in train]
    assert lrs[0] == pytest.approx(0.025) and max(lrs) == pytest.approx(0.05) and lrs[-1] == min(lrs)
    evals = [r for r in records if r["split"] == "eval"]
    assert [r["step"] for r in evals] == [4, 8, 12]
    assert all({"loss", "toy/accuracy"} <= r.keys() and "toy/loss" not in r for r in evals)
    assert evals[-1]["loss"] < evals[0]["loss"]
    assert [p.name for p in sorted((run_dir / "checkpoints").iterdir())] == ["step-000009", "step-000012"]


@pytest.mark.parametrize(("stop", "position"), [(4, (1, 2)), (6, (2, 0))], ids=["mid-epoch", "epoch-boundary"])
def test_resume_continues_bit_identically(
    tmp_path: Path, reference: tuple[Path, dict[str, torch.Tensor]], stop: int, position: tuple[int, int]
) -> None:
    reference_dir, reference_state = reference
    first = make_trainer(tmp_path, toy_settings(eval_every=4))
    first.train(stop_at_step=stop)
    saved = load_checkpoint(latest_checkpoint(tmp_path) or tmp_path)
    assert saved.step == stop
    assert (saved.trainer_state["epoch"], saved.trainer_state["index"]) == position
    # a fresh model with other weights and other RNG draws: everything must come from the checkpoint
    resumed = make_trainer(tmp_path, toy_settings(eval_every=4), init_seed=99)
    torch.rand(5)
    assert resumed.resume("auto") == saved.path
    resumed.train()
    assert train_losses(tmp_path) == train_losses(reference_dir)
    evals = [r for r in read_metrics(tmp_path) if r["split"] == "eval"]
    assert evals == [r for r in read_metrics(reference_dir) if r["split"] == "eval"]
    for key, value in resumed.model.state_dict().items():
        assert torch.equal(value, reference_state[key]), key


def test_resume_auto_without_checkpoint_starts_fresh(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, toy_settings())
    assert trainer.resume("auto") is None
    assert trainer.state.step == 0


def test_resume_refuses_another_stage(tmp_path: Path) -> None:
    make_trainer(tmp_path, toy_settings(max_steps=2)).train()
    other = make_trainer(tmp_path, toy_settings(max_steps=2, stage="other"))
    with pytest.raises(TrainingError, match="from stage 'toy'"):
        other.resume("auto")


def test_checkpoint_holds_trainer_state_and_data_generator(tmp_path: Path) -> None:
    make_trainer(tmp_path, toy_settings(max_steps=2)).train()
    saved = load_checkpoint(tmp_path / "checkpoints" / "step-000002")
    assert saved.trainer_state == {
        "step": 2, "epoch": 0, "index": 4, "stage": "toy", "seed": 7, "skipped_steps": 0, "nonfinite_streak": 0
    }  # fmt: skip
    assert set(saved.rng.generators) == {"data"}
    assert saved.scheduler_state is not None and saved.scheduler_state["last_epoch"] == 2
    assert json.loads((saved.path / "trainer_state.json").read_text())["stage"] == "toy"


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="warmup_steps"):
        toy_settings(warmup_steps=20, max_steps=10)
    with pytest.raises(ValueError, match="extra"):
        toy_settings(learning_rate=1.0)
