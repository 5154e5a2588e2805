"""The results.json schema: constructors compute the numbers, the file round-trips, inconsistencies are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from embodied.eval.results import EvalResults, read_results, write_results
from embodied.eval.stats import wilson_interval
from tests.unit.eval.support import make_results


def test_constructors_compute_rates_intervals_and_latency(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    scripted, random = results.agent("scripted"), results.agent("random")
    assert (scripted.successes, scripted.success_rate, scripted.mean_length) == (4, 1.0, 1.0)
    assert scripted.ci95 == pytest.approx(wilson_interval(4, 4))
    assert (random.success_rate, random.mean_length, random.episode_lengths) == (0.0, 3.0, [3, 3, 3, 3])
    assert random.latency.calls == 3 and random.latency.mean_ms == pytest.approx(2.0)
    assert random.latency.p50_ms == pytest.approx(2.0) and random.latency.p90_ms == pytest.approx(2.8)
    vqa = results.vqa
    assert vqa is not None and (vqa.correct, vqa.episodes, vqa.accuracy) == (2, 4, 0.5)
    assert vqa.per_type["existence"].accuracy == 0.5 and vqa.pope is not None and vqa.pope.yes_ratio == 1.0
    plans = results.plans
    assert plans is not None and (plans.validity_rate, plans.success_rate) == (0.5, 0.5)
    assert results.manifest.packages["torch"] and results.manifest.seeds["rollouts"].count == 4
    with pytest.raises(KeyError, match="scripted"):
        results.agent("mmllm")


def test_round_trip_through_json(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    path = write_results(results, tmp_path / "out" / "results.json")
    loaded = read_results(path)
    assert loaded.model_dump(mode="json") == results.model_dump(mode="json")
    assert loaded.agent("scripted").ci95 == results.agent("scripted").ci95
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == 1
    assert {"agents", "vqa", "plans", "manifest"} <= set(raw)
    assert raw["agents"][0]["ci95"] == list(results.agents[0].ci95)
    assert not list(path.parent.glob(".*tmp*"))  # the temporary file was renamed away


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("agents", 0, "success_rate"), 0.5, "rate 0.5 != 4/4"),
        (("agents", 0, "ci95"), [0.0, 0.9], "does not contain"),
        (("agents", 1, "episode_lengths"), [3, 3], "one seed, outcome and length per episode"),
        (("agents", 1, "episode_success"), [True, False, False, False], "episode_success sums to 1"),
        (("vqa", "records", 1, "correct"), True, "records do not add up"),
        (("plans", "validity_rate"), 1.0, "rate 1.0 != 1/2"),
        (("schema_version",), 2, "schema_version"),
        (("surprise",), 1, "surprise"),
    ],
)
def test_inconsistent_files_are_refused(tmp_path: Path, path: tuple, value: object, message: str) -> None:
    raw = make_results(tmp_path).model_dump(mode="json")
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(raw))
    with pytest.raises(ValidationError, match=message):
        read_results(file)


def test_json_schema_names_every_block() -> None:
    schema = EvalResults.model_json_schema()
    assert set(schema["required"]) >= {"checkpoint", "env_id", "split", "agents", "manifest"}
    agent = schema["$defs"]["AgentResult"]["properties"]
    assert {"success_rate", "ci95", "episodes", "episode_lengths", "mean_length", "latency"} <= set(agent)
