"""Real interruptions in a subprocess: SIGKILL right after a checkpoint, and SIGTERM (checkpoint, exit 143); the
resumed loss curve in ``metrics.jsonl`` equals an uninterrupted run's exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from embodied.training.checkpoint import latest_checkpoint, load_checkpoint
from embodied.training.metrics import read_metrics
from tests.unit.training.trainer_support import make_trainer, toy_settings, train_losses

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL/SIGTERM semantics are POSIX")

REPO = Path(__file__).resolve().parents[3]
STEPS = 30


def _start(run_dir: Path, delay: float, checkpoint_every: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tests.unit.training.trainer_support", str(run_dir), str(delay)]
    return subprocess.Popen(
        [*command, str(checkpoint_every)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            errors = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"trainer exited early ({process.returncode}): {errors}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("timed out waiting for the trainer")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[int, float]:
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    make_trainer(run_dir, toy_settings(max_steps=STEPS, checkpoint_every=5, keep_checkpoints=None)).train()
    return train_losses(run_dir)


def _resume_in_process(run_dir: Path) -> None:
    trainer = make_trainer(run_dir, toy_settings(max_steps=STEPS, checkpoint_every=5, keep_checkpoints=None), 99)
    assert trainer.resume("auto") is not None
    trainer.train()


def test_sigkill_right_after_a_checkpoint_then_resume(tmp_path: Path, reference: dict[int, float]) -> None:
    process = _start(tmp_path, delay=0.02, checkpoint_every=5)
    _wait_for(lambda: (tmp_path / "checkpoints" / "step-000010").is_dir(), process)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    killed_at = load_checkpoint(latest_checkpoint(tmp_path) or tmp_path).step
    assert 10 <= killed_at < STEPS
    _resume_in_process(tmp_path)
    assert train_losses(tmp_path) == reference


def test_sigterm_checkpoints_exits_143_and_resumes(tmp_path: Path, reference: dict[int, float]) -> None:
    process = _start(tmp_path, delay=0.02, checkpoint_every=0)  # no periodic checkpoints: SIGTERM makes the only one
    _wait_for(lambda: len(read_metrics(tmp_path)) >= 3, process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    saved = load_checkpoint(latest_checkpoint(tmp_path) or tmp_path)  # verifies every file's sha256
    logged = [r["step"] for r in read_metrics(tmp_path) if r["split"] == "train"]
    assert 3 <= saved.step < STEPS and saved.step == logged[-1] == saved.trainer_state["step"]
    _resume_in_process(tmp_path)
    assert train_losses(tmp_path) == reference
