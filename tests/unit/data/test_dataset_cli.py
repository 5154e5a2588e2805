"""``embodied dataset info|validate DIR``: what a dataset holds, and its problems named by file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied.cli import main
from embodied.data import write_dataset
from tests.unit.data.helpers import make_episodes


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(make_episodes(), tmp_path_factory.mktemp("cli") / "ds", fps=10, robot_type="panda")


def test_info_prints_totals_tasks_and_features(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dataset", "info", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "LeRobot v3.0, 10 fps, robot panda" in out and "episodes 3, frames 10, tasks 2" in out
    assert "observation.images.front_depth" in out and "inline, depth in m" in out
    assert "quantile stats (q01..q99): yes" in out
    assert main(["dataset", "info", str(dataset), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["features"]["action"] == {"dtype": "float32", "shape": [7], "storage": "column"}


def test_validate_passes_ours_and_names_broken_fields(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dataset", "validate", str(dataset)]) == 0
    assert "follows the LeRobot v3.0 layout" in capsys.readouterr().out
    broken = tmp_path / "broken"
    write_dataset(make_episodes(), broken, fps=10)
    info = json.loads((broken / "meta/info.json").read_text())
    info["total_frames"] = 11
    info["features"]["action"]["dtype"] = "float"
    (broken / "meta/info.json").write_text(json.dumps(info))
    assert main(["dataset", "validate", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "problem: meta/info.json: features.action.dtype: 'float' is not one of" in out
    assert "problem: meta/info.json: total_frames: 11 but the data holds 10" in out
    assert main(["dataset", "validate", str(broken), "--json"]) == 1
    assert {p["field"] for p in json.loads(capsys.readouterr().out)} >= {"total_frames", "features.action.dtype"}
