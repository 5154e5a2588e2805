"""The real ``embodied collect`` and ``embodied train`` commands on the tiny experiment, in subprocesses.

Checks the run directory: the resolved config, per stage metrics (step, stage, loss on every line), checkpoints
that verify, lineage and a saved model that loads; then that ``--resume auto`` skips finished stages and resumes
an unfinished one from its newest checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from embodied.config import load_config
from embodied.models import MMLLM
from embodied.training.checkpoint import latest_checkpoint, load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs/experiment/tiny.yaml"
STAGES = ("align", "instruct", "preference")


def embodied(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [sys.executable, "-m", "embodied.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"embodied {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def check_stage(run: Path, data: Path, stage: str, max_steps: int, parent: Path | None) -> None:
    stage_dir = run / stage
    records = [json.loads(line) for line in (stage_dir / "metrics.jsonl").read_text().splitlines()]
    assert records and all({"step", "stage", "loss"} <= set(r) and r["stage"] == stage for r in records)
    assert [r["step"] for r in records if r["split"] == "train"] == list(range(1, max_steps + 1))
    newest = latest_checkpoint(stage_dir)
    assert newest is not None and load_checkpoint(newest).step == max_steps
    for path in sorted((stage_dir / "checkpoints").iterdir()):
        assert load_checkpoint(path).trainer_state["stage"] == stage  # verifies the manifest's hashes
    lineage = json.loads((stage_dir / "lineage.json").read_text())
    assert lineage["stage"] == stage and lineage["parent"] == (None if parent is None else str(parent.resolve()))
    info_hash = hashlib.sha256((data / "meta/info.json").read_bytes()).hexdigest()
    assert lineage["dataset"] == {"path": str(data.resolve()), "info_sha256": info_hash}
    assert len(lineage["config_sha256"]) == 64
    model = MMLLM.from_pretrained(stage_dir / "model")
    assert model.config.model_spec.state_dim == 15


def test_collect_then_train_then_resume(tmp_path: Path) -> None:
    data, run = tmp_path / "data", tmp_path / "run"
    embodied("collect", str(TINY), "--out", str(data), "--quiet")
    assert (data / "meta/info.json").exists()
    result = embodied("train", str(TINY), "--run-dir", str(run), "--data", str(data))
    assert [line for line in result.stdout.splitlines() if line.startswith("saved")] == [
        f"saved {run / stage / 'model'}" for stage in STAGES
    ]
    config = load_config(TINY)
    assert load_config(run / "config.yaml") == config
    parent = None
    for spec in config.stages:
        check_stage(run, data, spec.name, spec.max_steps, parent)
        parent = run / spec.name / "model"
    dpo = json.loads((run / "preference/metrics.jsonl").read_text().splitlines()[0])
    assert "rewards/accuracy" in dpo

    # a run killed in the last stage: its model/ missing, checkpoints at steps 2 and 3 (keep the first)
    shutil.rmtree(run / "instruct/model")
    shutil.rmtree(run / "instruct/checkpoints/step-000003")
    shutil.rmtree(run / "preference")
    result = embodied("train", str(TINY), "--run-dir", str(run), "--data", str(data), "--resume", "auto")
    assert "stage 'align' is finished" in result.stderr
    assert "resumed stage 'instruct' at step 2" in result.stderr
    lineage = json.loads((run / "instruct/lineage.json").read_text())
    assert lineage["resumed_from"] == str((run / "instruct/checkpoints/step-000002").resolve())
    check_stage(run, data, "instruct", 3, run / "align/model")
    check_stage(run, data, "preference", 2, run / "instruct/model")


def test_train_collects_into_the_run_dir_without_data(tmp_path: Path) -> None:
    run = tmp_path / "run"
    steps = [f"stages.{i}.{key}=1" for i in range(3) for key in ("max_steps", "batch_size")]
    embodied("train", str(TINY), *steps, "--run-dir", str(run), "--quiet")
    assert (run / "data/meta/info.json").exists()
    assert all((run / stage / "model/model.safetensors").exists() for stage in STAGES)
    assert load_config(run / "config.yaml").stages[0].max_steps == 1
