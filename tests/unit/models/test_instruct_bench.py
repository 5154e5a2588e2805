"""The ``instruct`` benchmark's quick mode: every number present and positive, the ratio and fractions computed from
them, and the old and new paths training to the same losses (speed is measured by ``make bench``, never asserted)."""

from __future__ import annotations

from embodied.bench import instruct
from embodied.bench.__main__ import BENCHMARKS

RATES = {
    "old_samples_per_s",
    "new_samples_per_s",
    "speedup",
    "model_flops_per_sample",
    "matmul_gflops",
    "old_flop_bound_fraction",
    "new_flop_bound_fraction",
}


def test_quick_run_reports_the_ratio_and_flop_bound_of_equal_training() -> None:
    assert BENCHMARKS["instruct"] == "embodied.bench.instruct"
    out = instruct.run(quick=True)
    assert out.keys() >= RATES and all(out[key] > 0 for key in RATES)
    assert abs(out["speedup"] - out["new_samples_per_s"] / out["old_samples_per_s"]) < 0.01
    rate = out["matmul_gflops"] * 1e9
    assert abs(out["new_flop_bound_fraction"] - out["new_samples_per_s"] * out["model_flops_per_sample"] / rate) < 1e-3
    assert 0 < out["new_flop_bound_fraction"] < 1
    assert out["max_loss_diff"] < 1e-4  # float32 summation order only (tests/unit/models/test_fast_paths.py)
    # the pointer model's forward + backward: CNN at 64×64 dominates, ~1e8 FLOPs a sample
    assert 1e7 < out["model_flops_per_sample"] < 1e9
    assert (out["batch_size"], out["steps"], out["threads"]) == (instruct.BATCH, 3, 1)
