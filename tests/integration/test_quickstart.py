"""``embodied quickstart`` end to end on the tiny experiment: collect → stages → evaluation → report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied.agents.quickstart import run_quickstart
from embodied.eval.results import read_results

OVERRIDES = [
    "evaluation.episodes=4",
    "evaluation.num_envs=2",
    "evaluation.vqa_episodes=4",
    "evaluation.plan_episodes=2",
    "evaluation.videos=1",
    "evaluation.int8=true",
    "evaluation.splits=[heldout, heldout-seeds]",
]


@pytest.mark.slow
def test_quickstart_runs_every_phase_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert run_quickstart("configs/experiment/tiny.yaml", OVERRIDES, run_dir=run) == 0
    out = capsys.readouterr().out
    assert "report:" in out and "seconds per phase" in out
    assert (run / "data" / "meta" / "info.json").is_file()
    assert all((run / stage / "model" / "model.safetensors").is_file() for stage in ("align", "instruct", "preference"))
    results = read_results(run / "eval" / "heldout" / "results.json")
    agents = {a.agent: a for a in results.agents}
    assert set(agents) == {"mmllm", "mmllm-int8", "random", "scripted", "planner"}
    assert agents["scripted"].success_rate == 1.0 and agents["scripted"].episodes == 4
    assert agents["mmllm"].seeds == agents["mmllm-int8"].seeds
    assert results.split == "heldout" and results.vqa is not None and results.plans is not None
    html = (run / "eval" / "heldout" / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert set(results.vqa.per_type) <= {"count", "colour", "shape", "existence"}  # the data's question types
    assert results.manifest.env_kwargs["instruction_split"] == "heldout"
    seeds_only = read_results(run / "eval" / "heldout-seeds" / "results.json")
    assert [a.agent for a in seeds_only.agents] == ["mmllm"] and seeds_only.agents[0].seeds == agents["mmllm"].seeds
    assert seeds_only.manifest.env_kwargs.get("instruction_split", "train") == "train"  # training templates
    timings = json.loads((run / "timings.json").read_text())
    assert set(timings) == {"collect", "train", "evaluate heldout", "evaluate heldout-seeds", "total"}
