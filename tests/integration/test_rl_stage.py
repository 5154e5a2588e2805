"""The real ``embodied train`` on an rl stage: two CPU processes (each its own seeds, one set of files), and
SIGKILL after a checkpoint + ``--resume auto`` giving the same metrics as an uninterrupted run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from embodied.models import MMLLM
from embodied.training.checkpoint import latest_checkpoint, load_checkpoint
from embodied.training.metrics import read_metrics
from tests.integration.test_cli_kill_resume import command, kill_after_checkpoint_args
from tests.integration.test_cli_multiprocess import ACCELERATE, free_port

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="SIGKILL semantics are POSIX")]

ROOT = Path(__file__).resolve().parents[2]
CARTPOLE = ROOT / "configs/experiment/cartpole-ppo.yaml"
SMALL = [
    "stages.0.max_steps=6",
    "stages.0.checkpoint_every=2",
    "stages.0.keep_checkpoints=null",
    "stages.0.rl.num_envs=2",
    "stages.0.rl.rollout_steps=24",
    "stages.0.rl.algorithm.update_epochs=2",
    "stages.0.rl.algorithm.num_minibatches=2",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
TIMING = "env_steps_per_s"


def untimed(run: Path) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k != TIMING} for r in read_metrics(run / "rl")]


def train(run: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = command("train", str(CARTPOLE), *SMALL, "--run-dir", str(run), *extra)
    result = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_sigkill_then_resume_auto_gives_the_same_metrics(tmp_path: Path) -> None:
    reference, run = tmp_path / "reference", tmp_path / "run"
    train(reference)
    kill_after_checkpoint_args(
        command("train", str(CARTPOLE), *SMALL, "--run-dir", str(run)), run / "rl/checkpoints/step-000002"
    )
    killed_at = load_checkpoint(latest_checkpoint(run / "rl") or run).step
    assert 2 <= killed_at < 6 and not (run / "rl/model").exists()
    train(run, "--resume", "auto")
    assert untimed(run) == untimed(reference)
    assert [r["split"] for r in untimed(run)].count("train") == 6
    assert (run / "rl/model/value_head.safetensors").is_file()
    MMLLM.from_pretrained(run / "rl/model")  # the re-sealed manifest covers the value head


@pytest.mark.skipif(shutil.which(str(ACCELERATE)) is None, reason="needs the accelerate launcher")
def test_two_processes_roll_out_their_own_seeds_and_write_once(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {**ENV, "ACCELERATE_USE_CPU": "1"}
    launch = [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port())]
    args = [*launch, "-m", "embodied.cli", "train", str(CARTPOLE), *SMALL[:1], *SMALL[3:], "--run-dir", str(run)]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    starts = dict(re.findall(r"rollouts of process (\d)/2 start from seeds (\[[^\]]*\])", result.stderr))
    assert sorted(starts) == ["0", "1"] and starts["0"] != starts["1"], result.stderr[-3000:]
    records = read_metrics(run / "rl")
    assert [r["step"] for r in records if r["split"] == "train"] == list(range(1, 7))
    assert MMLLM.from_pretrained(run / "rl/model").config.model_spec.state_dim == 4
    saved = [line for line in result.stdout.splitlines() if line.startswith("saved")]
    assert saved == [f"saved {run / 'rl' / 'model'}"]
