"""The real ``embodied train`` SIGKILLed right after a checkpoint, then ``--resume auto``: every stage's metrics equal
an uninterrupted run's exactly. The kill lands in the ``align`` stage, whose frozen encoders go through the feature
cache, so the resumed run (its cache empty) must still reproduce the same features bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embodied.config import load_config
from embodied.training.checkpoint import latest_checkpoint, load_checkpoint
from embodied.training.metrics import read_metrics
from tests.unit.training.trainer_support import train_losses

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix", reason="SIGKILL semantics are POSIX"),
]

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs/experiment/tiny.yaml"
# a longer align stage checkpointing every 5 steps, so the kill lands mid-stage with steps left to resume
OVERRIDES = ["stages.0.max_steps=60", "stages.0.checkpoint_every=5", "stages.0.keep_checkpoints=null"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "embodied.cli", *args]


def train(data: Path, run: Path, *extra: str) -> None:
    args = ["train", str(TINY), *OVERRIDES, "--run-dir", str(run), "--data", str(data), *extra]
    result = subprocess.run(command(*args), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]


def kill_after_checkpoint(data: Path, run: Path, checkpoint: Path, timeout: float = 120.0) -> None:
    args = ["train", str(TINY), *OVERRIDES, "--run-dir", str(run), "--data", str(data)]
    kill_after_checkpoint_args(command(*args), checkpoint, timeout)


def kill_after_checkpoint_args(args: list[str], checkpoint: Path, timeout: float = 120.0) -> None:
    """Run ``args``, SIGKILL it as soon as ``checkpoint`` exists."""
    process = subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not checkpoint.is_dir():
        if process.poll() is not None:
            raise AssertionError(f"train exited early ({process.returncode}): {process.stderr.read().decode()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"timed out waiting for {checkpoint}")
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def test_sigkill_after_a_checkpoint_then_resume_auto_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    data, reference, run = tmp_path / "data", tmp_path / "reference", tmp_path / "run"
    collect = command("collect", str(TINY), "--out", str(data), "--quiet")
    subprocess.run(collect, cwd=ROOT, env=ENV, check=True, capture_output=True, timeout=120)
    train(data, reference)

    kill_after_checkpoint(data, run, run / "align" / "checkpoints" / "step-000010")
    killed_at = load_checkpoint(latest_checkpoint(run / "align") or run).step
    assert 10 <= killed_at < 60 and not (run / "align" / "model").exists()
    train(data, run, "--resume", "auto")

    stages = [stage.name for stage in load_config(TINY).stages]
    for stage in stages:
        losses = train_losses(run / stage)  # refuses a step logged twice
        assert losses == train_losses(reference / stage) and len(losses) > 0, stage
        assert read_metrics(run / stage) == read_metrics(reference / stage), stage  # lr, grad norms, eval too
    assert len(train_losses(run / "align")) == 60
