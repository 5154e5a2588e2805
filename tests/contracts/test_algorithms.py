"""Contract of every registered RL algorithm: one real iteration on CartPole (rollout → prepare → update through
the stage's Trainer) moves the parameters and logs finite losses; defaults validate; critic ⇔ value head."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from embodied.agents.rl_envs import make_rl_envs
from embodied.config import load_config
from embodied.models import MMLLM, MMLLMConfig
from embodied.training.metrics import read_metrics
from embodied.training.rl.algorithms import ALGORITHMS
from embodied.training.rl.stage import build_rl_trainer
from embodied.training.settings import LoopSettings
from embodied.training.trainer import TrainerSettings

ROOT = Path(__file__).resolve().parents[2]
NAMES = ALGORITHMS.names()


def test_the_expected_algorithms_are_registered() -> None:
    assert {"ppo", "grpo", "rloo"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_one_iteration_updates_the_policy(name: str, tmp_path: Path) -> None:
    group = {"group_size": 2} if "group_size" in ALGORITHMS.get(name).settings.model_fields else {}
    overrides = [
        "stages.0.max_steps=1",
        "stages.0.rl.num_envs=4",
        "stages.0.rl.rollout_steps=30",  # CartPole episodes end at different steps: groups differ
        "model.backbone.config.num_hidden_layers=1",
        f"stages.0.rl.algorithm={ {'kind': name, **group} }",
    ]
    config = load_config(ROOT / "configs/experiment/cartpole-ppo.yaml", overrides)
    stage = config.stages[0]
    torch.manual_seed(0)
    model = MMLLM(MMLLMConfig(spec=config.model.model_dump(mode="json")))
    settings = TrainerSettings(**stage.model_dump(include=set(LoopSettings.model_fields)), stage="rl")
    trainer = build_rl_trainer(stage, settings, model, tmp_path, make_rl_envs, None)
    assert (trainer.policy.value_head is not None) == trainer.algorithm.uses_critic
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.train()
    trainer.collector.envs.close()
    record = next(r for r in read_metrics(tmp_path) if r["split"] == "train")
    assert torch.isfinite(torch.tensor(record["policy_loss"])) and record["updates"] >= 1
    assert record["env_steps"] > 0
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "no parameter moved"
