"""Bring your own env, end to end through the real CLI, on two third-party envs from PyPI (``tests/byo_envs.py``).

register (``tests.byo_envs:byo/...`` ids) → collect (the scripted experts through ``embodied.data.collect``) →
``embodied train`` a few steps → ``embodied eval`` (success read by each env's rule, recorded in results.json) →
``embodied doctor`` → ``embodied envs --import``. MiniGrid has its success only in the reward: with the rule
the expert scores 1.0; without one every episode "fails" and eval prints the silent-zero warning.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import yaml

pytest.importorskip("minigrid")
pytest.importorskip("panda_gym")

from embodied.data import collect, write_dataset
from embodied.eval.results import read_results
from tests import byo_envs
from tests.factory import ENCODER_SPECS, tiny_spec

ROOT = Path(__file__).resolve().parents[2]
GRID, GRID_NO_RULE, REACH = (f"tests.byo_envs:byo/{name}-v0" for name in ("Grid", "GridNoRule", "Reach"))
#: env → (expert policy, state_dim, action_dim) of the adapted env
ENVS = {GRID: (byo_envs.grid_expert, 4, 1), REACH: (byo_envs.reach_expert, 12, 3)}


def embodied(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "embodied.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def experiment(env_id: str, state_dim: int, action_dim: int) -> dict[str, Any]:
    """A tiny image + state model with a continuous head, one instruct stage of a few steps."""
    model = tiny_spec(
        encoders={"image": ENCODER_SPECS["cnn"], "state": ENCODER_SPECS["proprio"]},
        heads={"act": {"kind": "continuous", "chunk": 1}},
    )
    model.update(cameras=["front"], state_dim=state_dim, action_dim=action_dim)
    stage = {"name": "instruct", "kind": "instruct", "mixture": {"action": 1.0}, "max_steps": 4, "lr": 1.0e-3,
             "batch_size": 4, "progress_bar": False, "tensorboard": False}  # fmt: skip
    data = {"env_ids": [env_id], "env_kwargs": {"image_size": 32}, "episodes": 4, "annotations": []}
    return {"name": "byo", "seed": 0, "model": model, "data": data, "stages": [stage]}


@pytest.fixture(scope="module", params=[GRID, REACH], ids=["minigrid", "panda-gym"])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """(env id, dataset, saved model) for one third-party env."""
    env_id = request.param
    policy, state_dim, action_dim = ENVS[env_id]
    tmp = tmp_path_factory.mktemp("byo")
    episodes = collect(lambda: gym.make(env_id), policy, 4, 0, num_envs=2, progress=False)
    assert all(e.success for e in episodes)  # the adapter's rule: reward>0 (MiniGrid), info:is_success (panda)
    data = write_dataset(episodes, tmp / "data", fps=10)
    config = tmp / "byo.yaml"
    config.write_text(yaml.safe_dump(experiment(env_id, state_dim, action_dim)))
    done = embodied("train", str(config), "--data", str(data), "--run-dir", str(tmp / "run"), "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    return env_id, data, tmp / "run" / "instruct" / "model"


def test_eval_reads_the_env_success_rule_and_doctor_runs(trained: tuple[str, Path, Path], tmp_path: Path) -> None:
    env_id, data, model = trained
    baselines = "random,scripted" if env_id == GRID else "random"
    args = [str(model), "--env", env_id, "--episodes", "3", "--videos", "0", "--out", str(tmp_path)]
    done = embodied("eval", *args, "--max-steps", "30", "--baselines", baselines)
    assert done.returncode == 0, done.stderr[-2000:]
    results = read_results(tmp_path / "results.json")
    expected = "reward>0" if env_id == GRID else "info:is_success"
    assert {a.success_rule for a in results.agents} == {expected}
    assert all(a.episode_returns is not None and len(a.episode_returns) == 3 for a in results.agents)
    if env_id == GRID:
        assert results.agent("scripted").success_rate == 1.0  # success only in the reward, read by the rule
    doctor = embodied("doctor", str(model), "--data", str(data), "--env", env_id, "--json")
    assert doctor.returncode in (0, 1), doctor.stderr[-2000:]  # 1: a check failed (an untrained model), not a crash
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["results"]}
    assert checks["preprocessing-parity"]["passed"], checks["preprocessing-parity"]


def test_success_only_in_reward_without_a_rule_warns(trained: tuple[str, Path, Path], tmp_path: Path) -> None:
    env_id, _, model = trained
    if env_id != GRID:
        pytest.skip("the MiniGrid model acts in the rule-less copy of its env")
    args = [str(model), "--env", GRID_NO_RULE, "--episodes", "3", "--videos", "0", "--out", str(tmp_path)]
    done = embodied("eval", *args, "--max-steps", "30", "--baselines", "scripted")
    assert done.returncode == 0, done.stderr[-2000:]
    results = read_results(tmp_path / "results.json")
    assert results.agent("scripted").success_rate == 0.0
    assert results.agent("scripted").success_rule.startswith("none")
    assert "WARNING: agent scripted: every one of the 3 episodes counted as failed" in done.stderr
    assert "success='reward>0'" in done.stderr and len(results.warnings) >= 1


def test_scripted_baseline_without_an_expert_is_skipped(trained: tuple[str, Path, Path], tmp_path: Path) -> None:
    env_id, _, model = trained
    if env_id != REACH:
        pytest.skip("panda-gym has no scripted expert")
    args = [str(model), "--env", env_id, "--episodes", "1", "--max-steps", "3", "--videos", "0", "--out", str(tmp_path)]
    done = embodied("eval", *args, "--baselines", "random,scripted")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "skipped baseline 'scripted': byo/Reach-v0 has no scripted expert" in done.stderr.replace(
        REACH, "byo/Reach-v0"
    )
    results = read_results(tmp_path / "results.json")
    assert [a.agent for a in results.agents] == ["mmllm", "random"] and "scripted" in results.skipped


def test_envs_lists_the_added_ids() -> None:
    done = embodied("envs", "--import", "tests.byo_envs", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {row["id"]: row for row in json.loads(done.stdout)}
    assert rows["byo/Reach-v0"]["base"] == "PandaReach-v3"
    assert rows["byo/Grid-v0"]["instruction_example"] == "get to the green goal square"
    assert "embodied/PickPlace-v0" in rows


@pytest.mark.slow
@pytest.mark.parametrize("env_id", [GRID, REACH], ids=["minigrid", "panda-gym"])
def test_an_rl_stage_trains_on_the_third_party_env_by_id(env_id: str, tmp_path: Path) -> None:
    """PPO for two iterations on the registered id (module-prefixed), success read by the adapter's rule."""
    _, state_dim, action_dim = ENVS[env_id]
    spec = experiment(env_id, state_dim, action_dim)
    rl = {"env": env_id, "env_kwargs": {"image_size": 32}, "num_envs": 2, "rollout_steps": 8, "eval_episodes": 2,
          "eval_max_steps": 8, "algorithm": {"kind": "ppo", "update_epochs": 1, "num_minibatches": 2}}  # fmt: skip
    spec["stages"] = [{"name": "rl", "kind": "rl", "max_steps": 2, "lr": 1.0e-3, "eval_every": 2,
                       "progress_bar": False, "tensorboard": False, "rl": rl}]  # fmt: skip
    config = tmp_path / "rl.yaml"
    config.write_text(yaml.safe_dump(spec))
    done = embodied("train", str(config), "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "run/rl/metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2] and all(r["env_steps"] > 0 for r in train)
    evals = [r for r in records if r["split"] == "eval"]
    assert evals and all("success_rate" in r and 0.0 <= r["success_rate"] <= 1.0 for r in evals)
    assert (tmp_path / "run/rl/model/value_head.safetensors").is_file()


@pytest.mark.slow
def test_observation_history_collects_trains_and_evaluates_by_id(tmp_path: Path) -> None:
    env_id = "tests.byo_envs:byo/GridHistory-v0"
    episodes = collect(lambda: gym.make(env_id), byo_envs.grid_expert, 3, 0, num_envs=1, progress=False)
    data = write_dataset(episodes, tmp_path / "data", fps=10)
    features = json.loads((data / "meta" / "info.json").read_text())["features"]
    assert {"observation.images.front", "observation.images.front-1"} <= set(features)
    config = experiment(env_id, 4, 1)
    config["model"]["cameras"] = ["front", "front-1"]
    (tmp_path / "history.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    done = embodied("train", str(tmp_path / "history.yaml"), "--data", str(data), "--run-dir", str(run), "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    args = [str(run / "instruct" / "model"), "--env", env_id, "--episodes", "2", "--max-steps", "10"]
    done = embodied("eval", *args, "--videos", "0", "--out", str(tmp_path / "eval"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert read_results(tmp_path / "eval" / "results.json").agent("mmllm").episodes == 2
