"""Small statistics for evaluation: Wilson score intervals for success rates, latency summaries.

A success rate over ``n`` episodes is a binomial proportion. The Wilson score interval (Wilson, 1927) keeps its
nominal coverage for small ``n`` and rates near 0 or 1, where the normal ("Wald") interval collapses to a point
(0/10 → [0, 0]); it is the interval recommended by Newcombe (1998, "Two-sided confidence intervals for the
single proportion", method 3) and Brown, Cai & DasGupta (2001).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["Z95", "latency_ms", "wilson_interval"]

#: the two-sided 95% normal quantile, Φ⁻¹(0.975)
Z95 = 1.959964


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` for ``successes`` out of ``n`` (``(0.0, 1.0)`` when ``n == 0``).

    centre = (p̂ + z²/2n) / (1 + z²/n),  half-width = z √(p̂(1 − p̂)/n + z²/4n²) / (1 + z²/n).
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if z <= 0:
        raise ValueError(f"z must be positive, got {z}")
    if n == 0:
        return 0.0, 1.0  # no evidence: every rate is possible
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denom
    # the exact bounds at p = 0 and p = 1 are 0 and 1; clamp float rounding (e.g. 1e-17 below zero)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Mean, median (p50), p90 and max of decision times in milliseconds (all 0.0 for no decisions)."""
    if len(seconds) == 0:
        return {"mean_ms": 0.0, "p50_ms": 0.0, "p90_ms": 0.0, "max_ms": 0.0}
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {
        "mean_ms": float(ms.mean()),
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "max_ms": float(ms.max()),
    }
