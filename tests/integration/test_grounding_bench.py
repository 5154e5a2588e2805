"""The grounding ablation benchmark in quick mode: every variant trains on the same VQA data and reports accuracy
per question type beside the test set's majority answers; the grounding variant also reports its look."""

from __future__ import annotations

import pytest

from embodied.bench import grounding
from embodied.bench.__main__ import BENCHMARKS
from embodied.bench.vqa_task import QTYPES, VARIANTS

pytestmark = pytest.mark.slow


def test_quick_ablation_reports_every_variant_on_the_same_questions() -> None:
    assert BENCHMARKS["grounding"] == "embodied.bench.grounding"
    out = grounding.run(quick=True, variants=("grid4-avg", "look"))
    assert (out["train_questions"], out["test_questions"]) == (300, 60)
    assert set(out["majority"]) == set(QTYPES) and all(0 < v <= 1 for v in out["majority"].values())
    for variant in ("grid4-avg", "look"):
        row = out[variant]
        assert row["steps_per_second"] > 0 and len(row["curve"]) == 4
        assert set(QTYPES) <= set(row) and all(0 <= row[t] <= 1 for t in QTYPES)
    assert {"look_within_2px", "look_count"} <= set(out["look"]) and "look_count" not in out["grid4-avg"]
    assert set(VARIANTS) == {"grid4-avg", "grid8-max", "perceiver-grid16", "look"}
