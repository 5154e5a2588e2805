"""Every registered hook × every stage kind: a hook refuses a stage it cannot serve by name; on the others it runs
over a two-task sequence, its metrics appear in the second task's ``metrics.jsonl``, and its state survives a
checkpoint: resuming the second task from its step-1 checkpoint gives the same metrics as the uninterrupted run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from embodied.agents.collection import collect_dataset
from embodied.agents.rl_envs import make_rl_envs
from embodied.config import ConfigError, ExperimentConfig, load_config
from embodied.data import read_dataset
from embodied.models import MMLLM
from embodied.training.checkpoint import CHECKPOINTS
from embodied.training.continual import HOOKS
from embodied.training.metrics import read_metrics
from embodied.training.stages import TaskInfo, run_stages, task_samples

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs/experiment/tiny.yaml"
KINDS = ("align", "instruct", "preference", "rl")
COMMON = ["max_steps=2", "batch_size=2", "checkpoint_every=1", "keep_checkpoints=null", "progress_bar=false"]
STAGES: dict[str, list[str]] = {
    "align": [
        "kind=align",
        "mixture={caption: 1.0}",
        "trainable={encoders: frozen, projector: full, backbone: frozen}",
    ],
    "instruct": ["kind=instruct", "mixture={action: 0.6, plan: 0.2, vqa: 0.2}"],
    "preference": ["kind=preference", "mixture={vqa: 1.0}"],
    "rl": [
        "kind=rl",
        "mixture={action: 1.0}",
        "rl={env: embodied/PickPlace-v0, env_kwargs: {control: primitive, image_size: 32}, num_envs: 2, "
        "rollout_steps: 2, reward: success, head: action, eval_episodes: 0, "
        "algorithm: {kind: ppo, update_epochs: 1, num_minibatches: 1}}",
    ],
}
#: a metric each hook logs on the second task (its name is ``0-<kind>``)
METRIC = {"replay": "replay_loss", "ewc": "penalty", "lwf": "kd", "adapters": "adapter_params"}
TIMING = {"env_steps_per_s"}


def config(kind: str, hook: str) -> ExperimentConfig:
    stage = [f"stages=[{{name: s, kind: {kind}}}]"]
    stage += [f"stages.0.{o}" for o in COMMON + STAGES[kind]] + [f"stages.0.hooks=[{{kind: {hook}}}]"]
    return load_config(TINY, stage)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return collect_dataset(load_config(TINY), tmp_path_factory.mktemp("hooks") / "data", progress=False)


def untimed(stage_dir: Path) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in read_metrics(stage_dir)]


def two_tasks(cfg: ExperimentConfig, data: Path, root: Path) -> Path:
    first = run_stages(cfg, data, root / "t0", env_factory=make_rl_envs, task=TaskInfo(is_last=False))[-1]
    samples = task_samples(MMLLM.from_pretrained(first), read_dataset(data).episodes())
    second = TaskInfo(1, "t1", samples, [0] * len(samples), root / "t0", first, is_last=True)
    run_stages(cfg, data, root / "t1", env_factory=make_rl_envs, task=second)
    return root / "t1" / "s"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("hook", HOOKS.names())
def test_hook_on_every_stage_kind(hook: str, kind: str, dataset: Path, tmp_path: Path) -> None:
    if kind not in HOOKS.get(hook).target.serves:
        with pytest.raises(ConfigError, match=rf"stages\.0\.hooks\.0\.kind.*{hook}"):
            config(kind, hook)
        return
    cfg = config(kind, hook)
    stage_dir = two_tasks(cfg, dataset, tmp_path)
    records = untimed(stage_dir)
    assert any(f"0-{hook}/{METRIC[hook]}" in r for r in records if r["split"] == "train"), records[-1]
    # a kill after the step-1 checkpoint: the stage's later outputs are gone, --resume auto continues
    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "t1", resumed)
    for name in ("model", "hooks", f"{CHECKPOINTS}/step-000002"):
        shutil.rmtree(resumed / "s" / name)
    second = TaskInfo(1, "t1", (), (), tmp_path / "t0", tmp_path / "t0/s/model", is_last=True)
    first_samples = task_samples(MMLLM.from_pretrained(tmp_path / "t0/s/model"), read_dataset(dataset).episodes())
    second.previous, second.previous_tasks = first_samples, [0] * len(first_samples)
    run_stages(cfg, dataset, resumed, resume="auto", env_factory=make_rl_envs, task=second)
    assert untimed(resumed / "s") == records
