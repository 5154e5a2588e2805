"""Collect from a user policy, train a discrete model, evaluate it sampling — through the real CLI (issue 14).

``embodied collect CONFIG --out D --policy tests.byo_policies:GridBot data.workers=2`` (overrides after the
options; two spawned workers import the policy by its path) → a dataset of int64 action indices with their
``Discrete(7)`` space in ``meta/info.json`` → ``embodied train`` an ``action-tokens`` head with ``bins: 7`` and
``discrete_actions: 7`` → ``embodied eval --temperature 1.5`` twice with one seed: the same rollouts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("minigrid")

from embodied.data import read_dataset
from embodied.data.action_space import DiscreteActions
from embodied.eval.results import read_results
from tests.byo_policies import GRID_DISCRETE
from tests.factory import ENCODER_SPECS, tiny_spec

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def embodied(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])  # the spawned workers import tests.*
    return subprocess.run(
        [sys.executable, "-m", "embodied.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def config(path: Path) -> Path:
    model = tiny_spec(encoders={"image": ENCODER_SPECS["cnn"]}, heads={"act": {"kind": "action-tokens", "bins": 7}})
    model.update(cameras=["front"], state_dim=4, action_dim=1, discrete_actions=7)
    stage = {"name": "instruct", "kind": "instruct", "mixture": {"action": 1.0}, "max_steps": 3, "lr": 1.0e-3,
             "batch_size": 4, "progress_bar": False, "tensorboard": False}  # fmt: skip
    data = {"env_ids": [GRID_DISCRETE], "env_kwargs": {}, "episodes": 2, "annotations": []}
    path.write_text(yaml.safe_dump({"name": "byo-policy", "seed": 0, "model": model, "data": data, "stages": [stage]}))
    return path


def test_collect_from_a_user_policy_train_and_sample(tmp_path: Path) -> None:
    cfg = config(tmp_path / "byo.yaml")
    data = tmp_path / "data"
    done = embodied("collect", str(cfg), "--out", str(data), "--policy", "tests.byo_policies:GridBot",
                    "data.episodes=4", "data.workers=2")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4/4" in done.stderr  # one progress bar over the episodes of both workers
    ds = read_dataset(data)
    assert ds.action_space == DiscreteActions(7) and ds.num_episodes == 4
    assert json.loads((data / "meta/info.json").read_text())["features"]["action"]["dtype"] == "int64"
    episodes = ds.episodes()
    assert all(ep.success for ep in episodes)  # the bot reaches the goal from MiniGrid's own observations
    assert {float(a) for ep in episodes for a in ep.actions[:, 0]} <= {0.0, 1.0, 2.0}  # left, right, forward

    run = tmp_path / "run"
    done = embodied("train", str(cfg), "--data", str(data), "--run-dir", str(run), "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    model = run / "instruct" / "model"
    rates = []
    for k in range(2):
        out = tmp_path / f"eval{k}"
        args = ("--episodes", "2", "--num-envs", "2", "--max-steps", "8", "--videos", "0", "--seed", "5")
        done = embodied("eval", str(model), "--env", GRID_DISCRETE, *args, "--out", str(out), "--temperature", "1.5")
        assert done.returncode == 0, done.stderr[-2000:]
        agent = read_results(out / "results.json").agent("mmllm")
        rates.append((agent.episode_lengths, agent.episode_returns))
    assert rates[0] == rates[1]  # sampled, and seeded: the same seed gives the same rollouts
