"""The dataset read benchmark runs in quick mode and reports every key (speed itself is not asserted)."""

from __future__ import annotations

import importlib.util

from embodied.bench import dataset
from embodied.bench.__main__ import BENCHMARKS


def test_quick_run_reports_inline_and_video_read_throughput() -> None:
    assert BENCHMARKS["dataset"] == "embodied.bench.dataset"
    result = dataset.run(quick=True)
    assert result["frames"] == 60 and result["inline_frames_per_s"] > 0
    # write throughput now and with the previous path, both measured in this run (their ratio is not asserted)
    assert result["write_frames_per_s"] > 0 and result["write_reference_frames_per_s"] > 0
    assert result["write_speedup"] == result["write_frames_per_s"] / result["write_reference_frames_per_s"]
    has_av = importlib.util.find_spec("av") is not None
    for codec in ("svtav1", "x264"):
        assert (result[f"video_{codec}_frames_per_s"] is not None) == has_av
        if has_av:
            assert result[f"video_{codec}_mb"] < result["inline_mb"]
