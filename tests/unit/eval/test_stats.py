"""Wilson score intervals against published values, and latency summaries."""

from __future__ import annotations

import pytest

from embodied.eval.stats import latency_ms, wilson_interval

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3 (Wilson score,
# no continuity correction), plus the 10-trial cases that any Wilson calculator gives.
KNOWN = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (0, 10, 0.0000, 0.2775),
    (10, 10, 0.7225, 1.0000),
    (5, 10, 0.2366, 0.7634),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), KNOWN)
def test_wilson_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)
    assert lo <= k / n <= hi


def test_wilson_edges_are_exact_and_symmetric() -> None:
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    lo, hi = wilson_interval(3, 17)
    mirror = wilson_interval(14, 17)
    assert (1 - hi, 1 - lo) == pytest.approx(mirror)
    assert wilson_interval(0, 0) == (0.0, 1.0)  # no episodes: no evidence
    narrow, wide = wilson_interval(50, 100), wilson_interval(5, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    z99 = wilson_interval(5, 10, z=2.575829)
    assert z99[0] < wide[0] and z99[1] > wide[1]


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_rejects_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(k, n)


def test_latency_in_milliseconds() -> None:
    summary = latency_ms([0.001 * k for k in range(1, 11)])  # 1 ms ... 10 ms
    assert summary["mean_ms"] == pytest.approx(5.5)
    assert summary["p50_ms"] == pytest.approx(5.5)
    assert summary["p90_ms"] == pytest.approx(9.1)
    assert summary["max_ms"] == pytest.approx(10.0)
    assert latency_ms([]) == {"mean_ms": 0.0, "p50_ms": 0.0, "p90_ms": 0.0, "max_ms": 0.0}
