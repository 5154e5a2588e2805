"""``embodied quickstart`` end to end on the tiny experiment: collect → stages → evaluation → report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied.agents.quickstart import run_quickstart
from embodied.eval.results import read_results
from embodied.eval.stage_comparison import COMPARISON_FILE, StageComparison
from embodied.training.metrics import read_metrics

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
    stages = {"train align", "train instruct", "train preference"}
    assert set(timings) == {"collect", "train", "evaluate heldout", "evaluate heldout-seeds", "total"} | stages
    # each stage's own time, part of the train phase; every figure is rounded to 0.1 s, so the sum may exceed the
    # rounded phase by at most half a tenth per figure
    assert sum(timings[s] for s in stages) <= timings["train"] + 0.05 * (len(stages) + 1)
    assert not (run / "eval" / "heldout" / "comparison.json").exists()  # no rl stage: nothing to compare


QUICKSTART_SMALL = [
    "data.episodes=4",
    "data.heldout_episodes=2",
    "data.workers=1",
    "stages.0.max_steps=2",
    "stages.0.batch_size=4",
    "stages.1.max_steps=3",
    "stages.1.batch_size=4",
    "stages.1.warmup_steps=0",
    "stages.1.eval_every=0",
    "stages.1.checkpoint_every=0",
    "stages.1.progress_bar=false",
    "stages.2.max_steps=2",
    "stages.2.batch_size=4",
    "stages.2.rl.num_envs=4",
    "stages.2.rl.algorithm.group_size=2",
    "stages.2.rl.algorithm.max_refills=0",
    "evaluation.episodes=4",
    "evaluation.num_envs=2",
    "evaluation.vqa_episodes=4",
    "evaluation.plan_episodes=2",
    "evaluation.videos=1",
    "evaluation.int8=false",
    "evaluation.baselines=[random]",
]


@pytest.mark.slow
def test_main_job_puts_the_instruct_and_rl_models_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped main job (shrunk): align → instruct → rl with the LwF guard; the instruct model is evaluated on
    the first split's seeds too, and the report and ``comparison.json`` pair it with the RL model; a second run
    with the same seed gives the same numbers."""
    run = tmp_path / "run"
    assert run_quickstart("configs/experiment/quickstart.yaml", QUICKSTART_SMALL, run_dir=run) == 0
    out = capsys.readouterr().out
    assert "instruct → rl on the same heldout seeds" in out and "train rl" in out
    comparison = StageComparison.model_validate_json((run / "eval" / "heldout" / COMPARISON_FILE).read_text())
    assert (comparison.before_stage, comparison.after_stage) == ("instruct", "rl")
    metrics = {d.metric for d in comparison.deltas}
    assert {"success", "vqa", "plan validity", "plan success"} <= metrics
    before = read_results(run / "eval" / "heldout-instruct" / "results.json")
    after = read_results(run / "eval" / "heldout" / "results.json")
    assert before.agent("mmllm").seeds == after.agent("mmllm").seeds and len(after.agent("mmllm").seeds) == 4
    success = comparison.delta("success")
    assert success.before == before.agent("mmllm").success_rate and success.after == after.agent("mmllm").success_rate
    assert success.ci95[0] <= success.difference <= success.ci95[1]
    assert "instruct model vs rl model, same seeds" in (run / "eval" / "heldout" / "report.html").read_text()
    timings = json.loads((run / "timings.json").read_text())
    assert {"train align", "train instruct", "train rl", "evaluate heldout (instruct model)"} <= set(timings)
    assert all(timings[f"train {s}"] > 0 for s in ("align", "instruct", "rl"))
    assert timings["train rl"] <= timings["train"]
    assert json.loads((run / "machine.json").read_text())["matmul_gflops"] > 0
    rl_metrics = read_metrics(run / "rl")
    assert [r["step"] for r in rl_metrics if r["split"] == "train"] == [1, 2]
    assert all("0-lwf/kd" in r for r in rl_metrics if r["split"] == "train")  # the forgetting guard ran

    again = tmp_path / "again"  # same seed, same numbers: every delta, every episode, every RL record
    assert run_quickstart("configs/experiment/quickstart.yaml", QUICKSTART_SMALL, run_dir=again) == 0
    repeat = StageComparison.model_validate_json((again / "eval" / "heldout" / COMPARISON_FILE).read_text())
    assert repeat.deltas == comparison.deltas
    for split in ("heldout", "heldout-seeds", "heldout-instruct"):
        first, second = (read_results(r / "eval" / split / "results.json") for r in (run, again))
        assert [(a.agent, a.episode_success) for a in first.agents] == [
            (a.agent, a.episode_success) for a in second.agents
        ]
    untimed = lambda records: [{k: v for k, v in r.items() if k != "env_steps_per_s"} for r in records]  # noqa: E731
    assert untimed(read_metrics(again / "rl")) == untimed(rl_metrics)
