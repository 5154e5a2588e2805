"""Weighted mixtures of sample kinds: the data recipe of a training stage.

Each stage of training draws its samples from the same pool with its own weights per kind, e.g. alignment
``{"caption": 1.0}`` and instruction tuning ``{"action": 0.6, "plan": 0.2, "vqa": 0.2}`` (weights need not sum
to 1; they are normalised). Every draw picks a kind with probability ∝ its weight, then a sample of that kind
uniformly (with replacement), so the kind proportions follow the weights whatever the pool's composition.
Draws come from one ``numpy`` generator seeded at construction: the same seed gives the same sequence of samples,
however the draws are split into calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from embodied.data.samples import KINDS, Sample


class Mixture:
    """Draws samples by kind with fixed weights; deterministic given ``seed``.

    ``weights`` maps kinds (``KINDS``) to non-negative finite weights, at least one positive; kinds with weight 0
    are never drawn (and may be missing from the pool).
    """

    def __init__(self, weights: Mapping[str, float], seed: int = 0) -> None:
        self.weights = _check_weights(weights)
        self.seed = seed
        self.kinds = [kind for kind, weight in self.weights.items() if weight > 0]
        total = sum(self.weights[kind] for kind in self.kinds)
        self.probabilities = np.array([self.weights[kind] / total for kind in self.kinds])
        self._rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return f"Mixture({self.weights!r}, seed={self.seed})"

    def reset(self) -> None:
        """Restart the draws from ``seed``."""
        self._rng = np.random.default_rng(self.seed)

    def group(self, pool: Sequence[Sample]) -> dict[str, list[Sample]]:
        """``pool`` split by kind (the weighted kinds only); a ValueError when a weighted kind has no sample."""
        groups: dict[str, list[Sample]] = {kind: [] for kind in self.kinds}
        for sample in pool:
            if sample.kind in groups:
                groups[sample.kind].append(sample)
        empty = [kind for kind, items in groups.items() if not items]
        if empty:
            counts = {kind: sum(s.kind == kind for s in pool) for kind in KINDS}
            raise ValueError(
                f"the mixture weights kinds {empty} but the pool has no samples of them (pool counts: {counts}); "
                "give them weight 0 or add episodes with those annotations"
            )
        return groups

    def sample(self, pool: Sequence[Sample], n: int) -> list[Sample]:
        """``n`` samples drawn from ``pool``: kind ∝ weight, then uniformly within the kind."""
        if n < 0:
            raise ValueError(f"cannot draw a negative number of samples ({n})")
        groups = self.group(pool)
        # One [n, 2] block of uniforms (kind, item) per call: row-major, so the draws do not depend on how they
        # are split into calls (``sample(pool, 500)`` equals five ``sample(pool, 100)``).
        uniforms = self._rng.random((n, 2))
        cumulative = np.cumsum(self.probabilities)
        picks = np.minimum(np.searchsorted(cumulative, uniforms[:, 0], side="right"), len(self.kinds) - 1)
        out = []
        for k, u in zip(picks.tolist(), uniforms[:, 1].tolist(), strict=True):
            items = groups[self.kinds[k]]
            out.append(items[min(int(u * len(items)), len(items) - 1)])
        return out

    def stream(self, pool: Sequence[Sample], block: int = 1024) -> Iterator[Sample]:
        """An endless iterator of draws from ``pool`` (drawn ``block`` at a time)."""
        self.group(pool)  # fail now, not at the first ``next``
        while True:
            yield from self.sample(pool, block)


def _check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Validated weights as floats: known kinds, finite, non-negative, not all zero."""
    unknown = sorted(set(weights) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown sample kinds {unknown} in the mixture weights; expected some of {list(KINDS)}")
    checked = {}
    for kind, weight in weights.items():
        value = float(weight)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"mixture weight of {kind!r} must be a finite number >= 0, got {weight!r}")
        checked[kind] = value
    if not any(value > 0 for value in checked.values()):
        raise ValueError(f"mixture weights must include a positive weight, got {dict(weights)!r}")
    return checked
