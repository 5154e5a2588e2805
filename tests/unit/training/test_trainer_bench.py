"""The ``trainer`` benchmark's quick mode: every number present and positive, and both loops doing the same work
(speed is measured by ``python -m embodied.bench``, never asserted)."""

from __future__ import annotations

import pytest

from embodied.bench import trainer
from embodied.bench.__main__ import BENCHMARKS

RATES = {
    "plain_samples_per_s",
    "trainer_samples_per_s",
    "trainer_vs_plain_ratio",
    "trainer_checkpoint_s",
    "align_uncached_samples_per_s",
    "align_cached_samples_per_s",
    "align_cache_speedup",
    "align_vit_uncached_samples_per_s",
    "align_vit_cached_samples_per_s",
    "align_vit_cache_speedup",
}


def test_quick_run_reports_positive_rates_from_identical_training() -> None:
    assert BENCHMARKS["trainer"] == "embodied.bench.trainer"
    out = trainer.run(quick=True)
    assert out.keys() >= RATES and all(out[key] > 0 for key in RATES)
    # the ratios come from the unrounded rates, the reported rates are rounded: equal to about 1e-3
    ratio = out["trainer_samples_per_s"] / out["plain_samples_per_s"]
    assert out["trainer_vs_plain_ratio"] == pytest.approx(ratio, abs=2e-3)
    speedup = out["align_cached_samples_per_s"] / out["align_uncached_samples_per_s"]
    assert out["align_cache_speedup"] == pytest.approx(speedup, abs=2e-3)
    assert out["max_loss_diff"] == 0.0  # the Trainer and the plain loop produce the same losses, step for step
    # cached features equal recomputed ones up to float rounding
    assert out["align_max_loss_diff"] < 1e-5 and out["align_vit_max_loss_diff"] < 1e-5
    assert (out["align_image_encoder"], out["align_vit_image_encoder"]) == ("cnn", "hf-vision")
    assert (out["batch_size"], out["steps"], out["threads"]) == (trainer.BATCH, 3, 1)
