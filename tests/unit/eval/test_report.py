"""report.html is one self-contained file (figures and GIFs inline, no external URL); summary.png is a real PNG."""

from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image

from embodied.eval.report import render_report, write_report
from embodied.eval.run_dir import RunLocation, learning_curves
from tests.unit.eval.support import make_results

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
PNG_IMG = re.compile(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"')
GIF_IMG = re.compile(r'<img class="episode" src="data:image/gif;base64,[A-Za-z0-9+/=]+"')


def fake_run(root: Path) -> RunLocation:
    """A run directory with two stages' metrics (train losses, one val point)."""
    for stage, losses in (("align", [3.0, 2.5, 2.0]), ("instruct", [2.2, 1.8])):
        lines = [{"step": k + 1, "stage": stage, "split": "train", "loss": v} for k, v in enumerate(losses)]
        lines.append({"step": len(losses), "stage": stage, "split": "val", "loss": losses[-1] + 0.5})
        (root / stage).mkdir(parents=True)
        (root / stage / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return RunLocation(root, "instruct", ("align", "instruct"))


def test_report_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = make_results(out, videos=2)
    curves = learning_curves(fake_run(tmp_path / "run"))
    path = write_report(results, out, curves)
    text = path.read_text(encoding="utf-8")
    assert path == out / "report.html" and text.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.search(text), EXTERNAL.search(text)
    assert "<link" not in text and "<script" not in text
    # figures: success, latency, VQA per type, learning curves
    assert len(PNG_IMG.findall(text)) == 4
    assert len(GIF_IMG.findall(text)) == 4  # two episodes of two agents
    assert "Learning curves" in text and "Hallucination (POPE" in text and "plan validity" in text
    assert "1.000" in text and "[0.510, 1.000]" in text  # scripted 4/4 and its Wilson interval
    assert "unknown verb &#x27;fly&#x27;" in text  # text is escaped
    with Image.open(out / "summary.png") as summary:
        assert summary.format == "PNG" and summary.width > 2 * summary.height * 0.9  # success + VQA side by side


def test_report_without_optional_blocks(tmp_path: Path) -> None:
    results = make_results(tmp_path, videos=0).model_copy(update={"vqa": None, "plans": None})
    text = render_report(results, tmp_path, curves=None)
    assert len(PNG_IMG.findall(text)) == 2  # success and latency only
    assert "<h2>VQA" not in text and "<h2>Learning curves" not in text and "<h2>Episodes" not in text


def test_learning_curves_split_by_stage_and_split(tmp_path: Path) -> None:
    curves = learning_curves(fake_run(tmp_path))
    assert list(curves) == ["align", "instruct"]
    assert curves["align"]["train"] == [(1, 3.0), (2, 2.5), (3, 2.0)]
    assert curves["instruct"]["val"] == [(2, 2.3)]
