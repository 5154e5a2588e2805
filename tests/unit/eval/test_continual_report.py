"""The continual report.html is self-contained and shows the numbers, the heat maps and the curves."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from PIL import Image

from embodied.eval.continual_metrics import ContinualRecord
from embodied.eval.continual_report import render_continual_report, write_continual_report
from embodied.eval.continual_results import ContinualResults, continual_run
from tests.unit.eval.test_continual_metrics import episodes
from tests.unit.eval.test_continual_results import make_results, manifest

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
PNG_IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]{100,})"')


def test_report_is_self_contained_with_numbers_and_figures(tmp_path: Path) -> None:
    results = make_results()
    path = write_continual_report(results, tmp_path / "out")
    text = path.read_text(encoding="utf-8")
    assert path.name == "report.html" and text.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.search(text) and "<link" not in text and "<script" not in text
    # comparison bars + per run (2 runs) a heat map and a curves figure
    images = PNG_IMG.findall(text)
    assert len(images) == 1 + 2 * 2
    for payload in images:
        assert Image.open(io.BytesIO(base64.b64decode(payload))).format == "PNG"
    sequential = results.run("sequential").metrics
    assert sequential.nbt is not None
    for est in (sequential.fwt, sequential.nbt, sequential.auc):
        assert f"{est.value:.3f} [{est.ci95[0]:.3f}, {est.ci95[1]:.3f}]" in text
    assert "0.233" in text and "0.656" in text and "0.657" in text  # NBT, FWT, AUC of the hand-computed sequence
    assert "0.500 (vs before)" in text  # language retention
    assert "sequential" in text and "replay" in text and "ER, 1000 per task" in text
    assert "a → b → c" in text and "Manifest" in text and "&quot;episode_counts&quot;" in text
    assert render_continual_report(results) == text


def test_report_of_a_single_task_run(tmp_path: Path) -> None:
    record = ContinualRecord(tasks=["a"], outcomes=[[episodes(4)]], curves=[[(10, episodes(4))]])
    results = ContinualResults(runs=[continual_run("sequential", record, manifest(), bootstrap_samples=20)])
    text = render_continual_report(results)
    assert "NBT is undefined for K=1" in text and "No language probe" in text
    assert len(PNG_IMG.findall(text)) == 3
