"""The env benchmark (``embodied.bench.envs``): importable without side effects; one run reports every ratio."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_has_no_side_effects() -> None:
    code = (
        "import sys, embodied.bench.envs as b\n"
        "heavy = [m for m in ('gymnasium', 'pybullet', 'embodied.envs', 'torch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert callable(b.run)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.slow
def test_quick_run_reports_consistent_ratios() -> None:
    from embodied.bench.envs import run

    result = run(quick=True)
    for key in ("single_steps_per_s", "sync_steps_per_s", "async_steps_per_s"):
        assert result[key] > 0
    assert result["sync_speedup"] == pytest.approx(result["sync_steps_per_s"] / result["single_steps_per_s"])
    assert result["async_speedup"] == pytest.approx(result["async_steps_per_s"] / result["single_steps_per_s"])
    assert set(result["render_fps"]) == {"64x64", "128x128", "224x224"}
    fps = result["render_fps"]
    assert result["render_224_vs_64"] == pytest.approx(fps["224x224"] / fps["64x64"])
