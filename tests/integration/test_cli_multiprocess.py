"""``embodied train`` as two CPU processes (``accelerate launch``, gloo): the main process collects the dataset,
each process trains on its own shard of every step's samples, and only the main process writes metrics,
checkpoints and models."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from embodied.config import load_config
from embodied.models import MMLLM
from embodied.training.checkpoint import latest_checkpoint, load_checkpoint
from embodied.training.metrics import read_metrics

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs/experiment/tiny.yaml"
ACCELERATE = Path(sys.executable).with_name("accelerate")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def draws(path: Path) -> dict[int, list[dict[str, Any]]]:
    """Per data order (0 = the first stage's): the micro-batches one process drew, in order."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    out: dict[int, list[dict[str, Any]]] = {}
    for line in lines:
        out.setdefault(int(line["order"]), []).append(line)
    return out


@pytest.mark.skipif(shutil.which(str(ACCELERATE)) is None, reason="needs the accelerate launcher")
def test_two_processes_train_disjoint_shards_and_write_once(tmp_path: Path) -> None:
    run, log = tmp_path / "run", tmp_path / "draws"
    log.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "ACCELERATE_USE_CPU": "1"}
    launch = [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port())]
    train = ["train", str(TINY), "--run-dir", str(run), "--quiet"]  # no --data: the main process collects
    result = subprocess.run(
        [*launch, "-m", "tests.integration.launch_support", str(log), *train],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]

    rank0, rank1 = draws(log / "rank0.jsonl"), draws(log / "rank1.jsonl")
    config = load_config(TINY)
    assert sorted(rank0) == sorted(rank1) == list(range(len(config.stages)))
    for number, stage in enumerate(config.stages):
        first, second = rank0[number], rank1[number]
        # one micro-batch per step on each process, at the same data position, of different samples
        assert len(first) == len(second) == stage.max_steps
        for a, b in zip(first, second, strict=True):
            assert (a["epoch"], a["index"]) == (b["epoch"], b["index"])
            assert not set(a["ids"]) & set(b["ids"])
        records = read_metrics(run / stage.name)
        assert [r["step"] for r in records if r["split"] == "train"] == list(range(1, stage.max_steps + 1))
        assert load_checkpoint(latest_checkpoint(run / stage.name) or run).step == stage.max_steps
        assert MMLLM.from_pretrained(run / stage.name / "model").config.model_spec.state_dim == 15
    assert "feature cache on for frozen encoder(s) ['image', 'state']" in result.stderr
    assert (run / "data/meta/info.json").exists()
    saved = [line for line in result.stdout.splitlines() if line.startswith("saved")]
    assert saved == [f"saved {run / stage.name / 'model'}" for stage in config.stages]  # printed once
