"""The trainer on the real tiny MMLLM: the loss falls and metrics.jsonl carries the model's own metrics."""

from __future__ import annotations

from pathlib import Path

import torch

from embodied.models.config import MMLLMConfig
from embodied.models.mmllm import MMLLM
from embodied.training.checkpoint import latest_checkpoint
from embodied.training.metrics import read_metrics
from embodied.training.trainer import Trainer, TrainerSettings
from tests.factory import HEAD_SPECS, batch_for, tiny_spec


def test_mmllm_loss_falls_and_metrics_are_logged(tmp_path: Path) -> None:
    torch.manual_seed(0)
    spec = tiny_spec(heads={"text": HEAD_SPECS["text"], "action": HEAD_SPECS["action-tokens"]})
    model = MMLLM(MMLLMConfig(spec=spec))
    batches = [batch_for(model, n=2, seed=0), batch_for(model, n=2, seed=10)]
    settings = TrainerSettings(
        stage="sft", max_steps=30, lr=1e-2, warmup_steps=2, eval_every=15, progress_bar=False, checkpoint_every=0
    )
    Trainer(model, settings, batches, tmp_path, eval_data=batches).train()
    records = read_metrics(tmp_path)
    train = [r for r in records if r["split"] == "train"]
    assert len(train) == 30 and {r["stage"] for r in records} == {"sft"}
    assert {"text/loss", "action/accuracy", "lr", "grad_norm"} <= train[0].keys()
    first, last = sum(r["loss"] for r in train[:2]) / 2, sum(r["loss"] for r in train[-2:]) / 2
    assert last < 0.5 * first
    evals = [r for r in records if r["split"] == "eval"]
    assert [r["step"] for r in evals] == [15, 30] and "action/accuracy" in evals[0]
    assert evals[1]["loss"] < evals[0]["loss"]
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step-000030"
