"""A save killed with SIGKILL midway never costs the previous checkpoint: resume selects and verifies it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from embodied.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from embodied.training.rng import capture_rng

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and fsync semantics are POSIX")

REPO = Path(__file__).resolve().parents[3]

# Saves step 1, then starts step 2 with safetensors writes slowed to a stall after the first file, so the parent
# can kill it while the temporary directory is half written.
STALLED_SAVE = """
import sys, time, torch
from pathlib import Path
from embodied.training import checkpoint
from embodied.training.rng import capture_rng

run_dir = Path(sys.argv[1])
torch.manual_seed(0)
checkpoint.save_checkpoint(run_dir, 1, {"w": torch.randn(64, 64)}, None, None, {"step": 1}, capture_rng())
write = checkpoint.save_tensors

def stalled(tensors, path):
    write(tensors, path)
    print("STALLED", flush=True)
    time.sleep(120)

checkpoint.save_tensors = stalled
checkpoint.save_checkpoint(run_dir, 2, {"w": torch.randn(2048, 1024)}, None, None, {"step": 2}, capture_rng())
"""

# Saves ever newer 8 MB checkpoints with retention until killed; the kill lands at a random point of a save.
ENDLESS_SAVES = """
import sys, torch
from pathlib import Path
from embodied.training.checkpoint import save_checkpoint
from embodied.training.rng import capture_rng

run_dir = Path(sys.argv[1])
for step in range(1, 10_000):
    state = {"w": torch.full((2048, 1024), float(step))}
    save_checkpoint(run_dir, step, state, None, None, {"step": step}, capture_rng(), retention=2)
    print(step, flush=True)
"""


def _start(script: str, run_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    code = textwrap.dedent(script)
    return subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True, env=env)


def _kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def test_killed_save_leaves_previous_checkpoint_selected(tmp_path: Path) -> None:
    process = _start(STALLED_SAVE, tmp_path)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "STALLED"
        temporary = tmp_path / "checkpoints" / f".tmp-step-000002-{process.pid}"
        assert temporary.is_dir() and not (temporary / "manifest.json").exists()
    finally:
        _kill(process)

    selected = latest_checkpoint(tmp_path)
    assert selected == tmp_path / "checkpoints" / "step-000001"
    torch.manual_seed(0)
    assert torch.equal(load_checkpoint(selected).model_state["w"], torch.randn(64, 64))
    # The next save (a resumed run) removes the dead writer's leftovers.
    save_checkpoint(tmp_path, 2, {"w": torch.zeros(1)}, None, None, {"step": 2}, capture_rng())
    assert not temporary.exists() and latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step-000002"


@pytest.mark.parametrize("delay", [0.0, 0.17])
def test_kill_at_an_arbitrary_moment_of_repeated_saves(tmp_path: Path, delay: float) -> None:
    process = _start(ENDLESS_SAVES, tmp_path)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "1"
        time.sleep(delay)  # lands somewhere inside a later save: writing, fsyncing, renaming or pruning
    finally:
        _kill(process)

    selected = latest_checkpoint(tmp_path)
    assert selected is not None
    checkpoint = load_checkpoint(selected)
    assert torch.equal(checkpoint.model_state["w"], torch.full((2048, 1024), float(checkpoint.step)))
    complete = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*"))
    assert selected.name == complete[-1] and len(complete) <= 3
