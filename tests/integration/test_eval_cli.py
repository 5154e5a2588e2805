"""The real ``embodied eval`` on a tiny untrained checkpoint saved in a run directory, and its input errors.

The run directory is what ``embodied train`` leaves (``config.yaml``, per stage ``metrics.jsonl``, ``model/`` and
``lineage.json``), so the report's learning curves and the manifest's lineage are exercised too. An untrained
model almost never solves PickPlace; the scripted expert always does; random actions practically never.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from embodied.cli import main
from embodied.eval.results import EvalResults, read_results
from embodied.models import MMLLM, MMLLMConfig
from tests.factory import ENCODER_SPECS, HEAD_SPECS, tiny_spec

ROOT = Path(__file__).resolve().parents[2]
ENV = "embodied/PickPlace-v0"
DATA_SHA = "d" * 64


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with stages align (metrics only) and instruct (metrics, lineage and a saved tiny model)."""
    run = tmp_path_factory.mktemp("eval") / "run"
    config = {
        "stages": [{"name": "align"}, {"name": "instruct"}],
        "data": {"env_kwargs": {"control": "primitive", "image_size": 32}},
    }
    (run / "instruct").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    for stage, losses in (("align", [4.0, 3.0]), ("instruct", [3.5, 2.5, 2.0])):
        (run / stage).mkdir(exist_ok=True)
        rows = [{"step": k + 1, "stage": stage, "split": "train", "loss": v} for k, v in enumerate(losses)]
        (run / stage / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lineage = {"stage": "instruct", "parent": None, "dataset": {"info_sha256": DATA_SHA}, "config_sha256": "c" * 64}
    (run / "instruct" / "lineage.json").write_text(json.dumps(lineage))
    spec = tiny_spec(
        encoders={"image": ENCODER_SPECS["cnn"], "state": ENCODER_SPECS["proprio"]},
        heads={"text": {**HEAD_SPECS["text"], "max_new_tokens": 8}, "act": {**HEAD_SPECS["action-tokens"], "chunk": 4}},
    )
    spec.update(cameras=["front"], state_dim=15)
    torch.manual_seed(0)
    MMLLM(MMLLMConfig(spec=spec)).save_pretrained(run / "instruct" / "model")
    return run


def embodied_eval(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "embodied.cli", "eval", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def check_report(out: Path, gifs: int) -> None:
    text = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.IGNORECASE)
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', text)
    assert len(re.findall(r'src="data:image/gif;base64,', text)) == gifs
    assert "<h2>Learning curves</h2>" in text
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def check_rollouts(results: EvalResults, episodes: int) -> None:
    scripted, random, model = results.agent("scripted"), results.agent("random"), results.agent("mmllm")
    assert scripted.success_rate == 1.0 and scripted.episode_lengths == [1] * episodes
    assert random.success_rate <= 1 / episodes and model.success_rate <= 1 / episodes
    assert random.success_rate < scripted.ci95[0]  # the expert is clearly above random
    for a in results.agents:
        assert a.ci95[0] <= a.success_rate <= a.ci95[1]
        assert a.latency.calls > 0 and a.latency.p90_ms >= a.latency.p50_ms > 0
    assert scripted.seeds == list(range(episodes)) and len(model.videos) == 1


@pytest.mark.slow
def test_eval_end_to_end(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--episodes", "6", "--num-envs", "3", "--baselines", "random,scripted", "--vqa-episodes", "6"]
    result = embodied_eval(
        str(run_dir), "--env", ENV, *args, "--plan-episodes", "2", "--videos", "1", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert f"report: {out / 'report.html'}" in result.stdout and "scripted     1.000" in result.stdout

    results = read_results(out / "results.json")  # validates the schema and the numbers' consistency
    assert results.checkpoint == str(run_dir / "instruct" / "model")  # a run dir resolves to its last stage
    assert [a.agent for a in results.agents] == ["mmllm", "random", "scripted", "planner"]
    check_rollouts(results, 6)
    vqa, plans = results.vqa, results.plans
    assert vqa is not None and vqa.episodes == 6 and sum(s.n for s in vqa.per_type.values()) == 6
    assert vqa.per_type and all(0 < s.chance <= 0.5 for s in vqa.per_type.values())
    assert plans is not None and plans.episodes == 2 and len(plans.records) == 2
    assert plans.success_rate == results.agent("planner").success_rate

    manifest = results.manifest
    weights = (run_dir / "instruct" / "model" / "model.safetensors").read_bytes()
    assert manifest.model is not None and manifest.model.sha256 == hashlib.sha256(weights).hexdigest()
    assert (manifest.model.stage, manifest.model.data_sha256) == ("instruct", DATA_SHA)
    assert manifest.env_kwargs == {"image_size": 32, "cameras": ["front"], "control": "primitive"}
    assert manifest.renderer == "tiny" and manifest.packages["gymnasium"]
    assert manifest.episode_counts == {"rollouts": 6, "vqa": 6, "plans": 2}
    assert sorted(p.name for p in (out / "videos").iterdir()) == [
        f"{a}-000.gif" for a in ("mmllm", "planner", "random", "scripted")
    ]
    check_report(out, gifs=4)


def test_eval_heldout_split(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "heldout"
    args = ["--episodes", "2", "--num-envs", "2", "--baselines", "scripted", "--videos", "0", "--split", "heldout"]
    result = embodied_eval(str(run_dir / "instruct" / "model"), "--env", ENV, *args, "--out", str(out))
    assert result.returncode == 0, result.stderr
    results = read_results(out / "results.json")
    assert results.split == "heldout" and results.manifest.env_kwargs["instruction_split"] == "heldout"
    assert results.agent("scripted").seeds == [1_000_000, 1_000_001] == results.agent("mmllm").seeds
    assert results.agent("scripted").success_rate == 1.0


def test_missing_checkpoint_is_one_line_exit_2(tmp_path: Path) -> None:
    result = embodied_eval(str(tmp_path / "nope"), "--env", ENV, "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"embodied: checkpoint {tmp_path / 'nope'} does not exist"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "embodied/Nope-v0"], "unknown env id 'embodied/Nope-v0'; registered embodied envs: embodied/"),
        (["--env", ENV, "--env-kwarg", "image_size"], "bad --env-kwarg 'image_size': expected key=value"),
        (["--env", ENV, "--env-kwarg", "colour=red"], "unexpected keyword argument 'colour'"),
        (["--env", ENV, "--env-kwarg", "control=joystick"], "control must be one of"),
        (["--env", ENV, "--baselines", "oracle"], "unknown baseline(s) ['oracle']"),
        (["--env", ENV, "--head", "text"], "--head 'text' is not an action head"),
        (["--env", ENV, "--episodes", "-1"], "argument --episodes: expected an integer >= 0, got -1"),
        (["--env", ENV, "--episodes", "0"], "--episodes must be >= 1, got 0"),
        (["--env", ENV, "--plan-episodes", "1", "--env-kwarg", "control=ee_delta"], "needs a tabletop task with"),
        (["--env", ENV, "--env-kwarg", "control=ee_delta"], "takes 4-d actions but the model's action head gives 7-d"),
        (["--env", "embodied/TabletopVQA-v0"], "takes Text actions but the model's action head gives 7-d"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["eval", str(run_dir), *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("embodied: ") and message in err[0], err
    assert not (tmp_path / "out").exists()
