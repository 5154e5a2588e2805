"""The ``rl`` benchmark's quick mode: every rate present and positive and each ratio the quotient of its own two rates
(speed is measured by ``python -m embodied.bench``, never asserted; quick mode skips the CartPole comparison)."""

from __future__ import annotations

import pytest

from embodied.bench import rl
from embodied.bench.__main__ import BENCHMARKS

PAIRS = {
    "rollout_vs_eval_ratio": ("rollout_steps_per_s", "eval_steps_per_s"),
    "update_vs_trainer_ratio": ("update_samples_per_s", "trainer_samples_per_s"),
}


def test_quick_run_reports_positive_rates_and_their_ratios() -> None:
    assert BENCHMARKS["rl"] == "embodied.bench.rl"
    out = rl.run(quick=True)
    assert out["threads"] == 1 and "cartpole_steps_to_475" not in out
    for ratio, (ours, theirs) in PAIRS.items():
        assert out[ours] > 0 and out[theirs] > 0
        # the ratio comes from the unrounded rates, the reported rates are rounded to 0.1
        assert out[ratio] == pytest.approx(out[ours] / out[theirs], rel=0.05), (ratio, out)
