"""``embodied continual`` on the tiny sequence (PickPlace → Stack): the run directory, ``results.json`` (the 2×2
matrix per method, FWT / NBT / AUC with intervals), the report, a resume that reads finished tasks back, and
the one-line refusals (no tasks, a changed task list, tasks that disagree on the action size)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied.cli import main
from embodied.eval.continual_results import read_continual_results

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs/experiment/continual-tiny.yaml")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("continual") / "run"
    assert main(["continual", TINY, "--run-dir", str(root)]) == 0
    return root


def test_the_sequence_writes_matrices_metrics_and_a_report(run: Path) -> None:
    results = read_continual_results(run / "results.json")
    assert [r.name for r in results.runs] == ["sequential", "replay", "multitask"]
    for entry in results.runs:
        m = entry.metrics
        assert m.tasks == ["pickplace", "stack"]
        assert [[cell.episodes for cell in row] for row in m.matrix] == [[2, 2], [2, 2]]
        assert m.nbt is not None and m.nbt.ci95[0] <= m.nbt.value <= m.nbt.ci95[1]
        assert len(m.curves[0]) == (1 if entry.name == "multitask" else 2)  # the step-2 checkpoint, the end
        assert set(m.language[0]) == {"vqa_accuracy"}
    for method in ("sequential", "replay"):
        assert (run / method / "1-stack/instruct/model/config.json").is_file()
        assert (run / method / "1-stack/continual_eval.json").is_file()
    replayed = [json.loads(line) for line in (run / "replay/1-stack/instruct/metrics.jsonl").read_text().splitlines()]
    assert any("0-replay/replay_loss" in r for r in replayed)
    assert (run / "multitask/data/meta/info.json").is_file()
    html = (run / "report.html").read_text()
    assert "sequential" in html and "data:image/png;base64," in html


def test_resume_reads_finished_tasks_back(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (run / "results.json").read_text()
    assert main(["continual", TINY, "--run-dir", str(run), "--resume", "auto"]) == 0
    assert "== task" not in capsys.readouterr().out  # nothing evaluated again
    after = json.loads((run / "results.json").read_text())
    for old, new in zip(json.loads(before)["runs"], after["runs"], strict=True):
        assert old["metrics"] == new["metrics"]


@pytest.mark.parametrize(
    ("extra", "resume", "message"),
    [
        (["tasks.1.name=other"], True, "started with tasks ['pickplace', 'stack']"),
        ([], False, "already holds a continual run"),
    ],
)
def test_a_changed_or_unasked_resume_is_one_line(
    run: Path, extra: list[str], resume: bool, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["continual", TINY, *extra, "--run-dir", str(run)] + (["--resume", "auto"] if resume else [])
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["tasks=[]"], "has no 'tasks:' section"),
        (["tasks.1.data.env_kwargs={control: ee_delta}"], "task 'stack'"),
        (
            ["continual.methods={iso: [{kind: adapters}]}", "stages.0.kind=align", "stages.0.mixture={caption: 1.0}"],
            "continual.methods.iso.0.kind",
        ),
    ],
)
def test_bad_sequences_are_refused_in_one_line(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["continual", TINY, *extra, "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "run" / "sequential").exists()  # nothing trained


@pytest.mark.slow
def test_the_bench_section_reports_every_method() -> None:
    from embodied.bench.__main__ import BENCHMARKS
    from embodied.bench.continual import run as bench_run

    assert BENCHMARKS["continual"] == "embodied.bench.continual"
    out = bench_run(quick=True)
    assert out["config"] == "configs/experiment/continual-tiny.yaml" and out["run_s"] > 0
    assert set(out["methods"]) == {"sequential", "replay", "multitask"} and out["matmul_gflop_s"] > 0
    assert all(m["nbt_ci95"][0] <= m["nbt"] <= m["nbt_ci95"][1] for m in out["methods"].values())
