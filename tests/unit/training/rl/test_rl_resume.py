"""An rl stage stopped after a checkpoint and resumed equals an uninterrupted run: model, optimizer, RNGs, seed
position and the running episodes (replayed from their seeds) all come back."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from embodied.agents.rl_envs import make_rl_envs
from embodied.config import load_config
from embodied.models import MMLLM, MMLLMConfig
from embodied.training.metrics import read_metrics
from embodied.training.rl.stage import build_rl_trainer
from embodied.training.settings import LoopSettings
from embodied.training.trainer import TrainerSettings

ROOT = Path(__file__).resolve().parents[4]
OVERRIDES = [
    "stages.0.max_steps=4",
    "stages.0.checkpoint_every=2",
    "stages.0.rl.num_envs=2",
    "stages.0.rl.rollout_steps=24",  # CartPole episodes outlive an iteration: resume must replay them
    "stages.0.rl.algorithm.update_epochs=2",
    "stages.0.rl.algorithm.num_minibatches=2",
    "model.backbone.config.num_hidden_layers=1",
    "stages.0.eval_every=2",
    "stages.0.rl.eval_episodes=2",
    "stages.0.rl.eval_max_steps=50",
]
TIMING = {"env_steps_per_s"}


#: self-imitation on: its buffer (observations, actions, advantages) is part of the checkpoint
SELF_IMITATION = ["stages.0.rl.self_imitation.steps=2", "stages.0.rl.self_imitation.batch_size=4"]


def trainer(run_dir: Path, extra: list[str] | None = None) -> object:
    config = load_config(ROOT / "configs/experiment/cartpole-ppo.yaml", OVERRIDES + (extra or []))
    stage = config.stages[0]
    torch.manual_seed(config.seed)
    model = MMLLM(MMLLMConfig(spec=config.model.model_dump(mode="json")))
    settings = TrainerSettings(**stage.model_dump(include=set(LoopSettings.model_fields)), stage=stage.name)
    return build_rl_trainer(stage, settings, model, run_dir, make_rl_envs, None)


def records(run_dir: Path) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in read_metrics(run_dir)]


@pytest.mark.parametrize("extra", [[], SELF_IMITATION], ids=["plain", "self-imitation"])
def test_stop_and_resume_matches_an_uninterrupted_run(tmp_path: Path, extra: list[str]) -> None:
    reference = trainer(tmp_path / "reference", extra)
    reference.train()  # type: ignore[attr-defined]
    stopped = trainer(tmp_path / "run", extra)
    stopped.train(stop_at_step=2)  # type: ignore[attr-defined]
    assert stopped.collector.logs != [[], []]  # type: ignore[attr-defined]  # episodes were running at the cut
    if extra:
        assert len(stopped.self_imitation.entries) > 0  # type: ignore[attr-defined]  # a buffer to restore
    resumed = trainer(tmp_path / "run", extra)
    assert resumed.resume("auto") is not None  # type: ignore[attr-defined]
    resumed.train()  # type: ignore[attr-defined]
    assert records(tmp_path / "run") == records(tmp_path / "reference")
    splits = [r["split"] for r in records(tmp_path / "reference")]
    assert splits.count("train") == 4 and splits.count("eval") == 3  # before training, at 2 and at 4
    a = reference.policy.state_dict()  # type: ignore[attr-defined]
    b = resumed.policy.state_dict()  # type: ignore[attr-defined]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.collector.env_steps == reference.collector.env_steps == 4 * 2 * 24  # type: ignore[attr-defined]
    if extra:
        sil = [r for r in records(tmp_path / "reference") if r["split"] == "train"]
        assert all(r["sil_updates"] == 2.0 for r in sil)  # every iteration took its extra steps
