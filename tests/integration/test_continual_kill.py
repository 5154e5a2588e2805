"""``kill -9`` in the middle of the second task of ``embodied continual``, then ``--resume auto``: the second
task's metrics and the final matrices equal those of an uninterrupted run (hook state from the checkpoints)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_cli_kill_resume import ENV, command, kill_after_checkpoint_args

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="SIGKILL semantics are POSIX")]

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs/experiment/continual-tiny.yaml")
ONE_METHOD = [
    "continual.multitask=false",
    "continual.methods={ewc: [{kind: ewc, fisher_batches: 2}], replay: [{kind: replay, per_task: 8}]}",
    "stages.0.max_steps=6",
    "stages.0.checkpoint_every=2",
]


def continual(run: Path, *extra: str) -> None:
    args = command("continual", TINY, *ONE_METHOD, "--run-dir", str(run), *extra)
    result = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]


def metrics(run: Path, method: str) -> list[str]:
    return (run / method / "1-stack" / "instruct" / "metrics.jsonl").read_text().splitlines()


def test_sigkill_in_task_two_then_resume_matches(tmp_path: Path) -> None:
    reference, run = tmp_path / "reference", tmp_path / "run"
    continual(reference)
    checkpoint = run / "replay" / "1-stack" / "instruct" / "checkpoints" / "step-000002"
    kill_after_checkpoint_args(command("continual", TINY, *ONE_METHOD, "--run-dir", str(run)), checkpoint, 600)
    assert (run / "ewc" / "1-stack" / "continual_eval.json").is_file()  # the first method had finished
    assert not (run / "replay" / "1-stack" / "instruct" / "model").exists()
    continual(run, "--resume", "auto")
    for method in ("ewc", "replay"):
        assert metrics(run, method) == metrics(reference, method)
    runs = [json.loads((root / "results.json").read_text())["runs"] for root in (reference, run)]
    assert [r["metrics"] for r in runs[0]] == [r["metrics"] for r in runs[1]]
