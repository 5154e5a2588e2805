"""The continual results.json: constructors, a lossless round trip, and malformed files refused naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied.eval.continual_metrics import continual_metrics
from embodied.eval.continual_results import (
    ContinualResults,
    ContinualResultsError,
    ContinualRun,
    continual_run,
    read_continual_results,
    write_continual_results,
)
from embodied.eval.manifest import build_manifest
from embodied.eval.results import Manifest
from embodied.eval.stats import wilson_interval
from tests.unit.eval.test_continual_metrics import episodes, hand_record


def manifest() -> Manifest:
    return build_manifest(
        seeds={"a": (1000, 10), "b": (2000, 10), "c": (3000, 10)},
        episode_counts={"a": 10, "b": 10, "c": 10},
        env_kwargs={"control": "primitive"},
        renderer="tiny",
        device="cpu",
        model_dir=None,
        command=["embodied", "continual"],
    )


def make_results() -> ContinualResults:
    forgetful = continual_run("sequential", hand_record(), manifest(), bootstrap_samples=100, seed=3)
    kept = [[episodes(8), [], []], [episodes(8), episodes(9), []], [episodes(8), episodes(9), episodes(10)]]
    replay = continual_run("replay", hand_record(outcomes=kept), manifest(), description="ER, 1000 per task")
    return ContinualResults(runs=[forgetful, replay])


def test_constructor_carries_the_metrics() -> None:
    results = make_results()
    sequential, replay = results.run("sequential"), results.run("replay")
    assert sequential.metrics == continual_metrics(hand_record(), bootstrap_samples=100, seed=3)
    assert replay.metrics.nbt is not None and replay.metrics.nbt.value == 0.0
    assert replay.metrics.matrix[0][1].rate is None and replay.metrics.matrix[0][1].ci95 == (0.0, 1.0)
    assert sequential.manifest.seeds["b"].first == 2000 and sequential.manifest.packages["numpy"]
    with pytest.raises(KeyError, match="sequential"):
        results.run("ewc")


def test_round_trip(tmp_path: Path) -> None:
    results = make_results()
    path = write_continual_results(tmp_path / "run" / "results.json", results)
    loaded = read_continual_results(path)
    assert loaded == results
    assert loaded.model_dump(mode="json") == results.model_dump(mode="json")
    raw = json.loads(path.read_text())
    assert (raw["schema_version"], raw["kind"]) == (1, "continual")
    first = raw["runs"][0]["metrics"]
    assert {"matrix", "curves", "fwt", "nbt", "auc", "language", "retention", "bootstrap"} <= set(first)
    cell = first["matrix"][1][0]
    assert (cell["successes"], cell["episodes"], cell["rate"]) == (5, 10, 0.5)
    assert cell["ci95"] == pytest.approx(list(wilson_interval(5, 10)))
    assert not list(path.parent.glob(".*tmp*"))  # the temporary file was renamed away
    # a plain list of runs is accepted too
    again = write_continual_results(tmp_path / "list.json", list(results.runs))
    assert read_continual_results(again) == results


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("runs", 0, "metrics", "matrix", 1, 0, "rate"), 0.4, "rate 0.4 != 5/10"),
        (("runs", 0, "metrics", "matrix", 1, 0, "successes"), 11, "impossible"),
        (("runs", 0, "metrics", "fwt", "ci95"), [0.0, 0.1], "does not contain"),
        (("runs", 0, "metrics", "matrix", 2), [], "3×3"),
        (("runs", 0, "metrics", "nbt"), None, "nbt must be None exactly"),
        (("runs", 1, "name"), "sequential", "run names repeat"),
        (("schema_version",), 2, "schema_version"),
        (("surprise",), 1, "surprise"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, path: tuple, value: object, message: str) -> None:
    raw = make_results().model_dump(mode="json")
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(raw))
    with pytest.raises(ContinualResultsError, match=message) as error:
        read_continual_results(file)
    assert str(file) in str(error.value)


def test_broken_json_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "results.json"
    file.write_text('{"runs": [')
    with pytest.raises(ContinualResultsError, match=f"{file}: not valid JSON"):
        read_continual_results(file)
    with pytest.raises(FileNotFoundError):
        read_continual_results(tmp_path / "missing.json")


def test_schema_names_every_block() -> None:
    run = ContinualRun.model_json_schema()
    metrics = run["$defs"]["ContinualMetrics"]["properties"]
    assert {"matrix", "curves", "fwt", "nbt", "auc", "retention", "nbt_over", "carried_forward"} <= set(metrics)
    assert set(run["required"]) >= {"name", "metrics", "manifest"}
