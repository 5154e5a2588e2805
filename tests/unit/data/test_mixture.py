"""Stage mixtures: kind proportions follow the weights, draws are deterministic per seed, bad weights fail clearly."""

from __future__ import annotations

from collections import Counter
from itertools import islice

import numpy as np
import pytest

from embodied.data.mixture import Mixture
from embodied.data.samples import Sample


def pool(counts: dict[str, int]) -> list[Sample]:
    """``counts[kind]`` distinct samples per kind (the frame numbers them), in an unbalanced pool."""
    obs = {"images": {}, "state": np.zeros(1, np.float32)}
    return [Sample(kind, obs, kind, f"{kind} {i}", 0, i) for kind, n in counts.items() for i in range(n)]


POOL = pool({"caption": 5, "action": 300, "plan": 3, "vqa": 40})
INSTRUCT = {"action": 0.6, "plan": 0.2, "vqa": 0.2}


@pytest.mark.parametrize("weights", [{"caption": 1.0}, INSTRUCT, {"caption": 1, "action": 1, "plan": 1, "vqa": 2}])
def test_proportions_follow_weights(weights: dict[str, float]) -> None:
    draws = Mixture(weights, seed=0).sample(POOL, 10_000)
    assert len(draws) == 10_000
    counts = Counter(s.kind for s in draws)
    total = sum(weights.values())
    for kind in ("caption", "action", "plan", "vqa"):
        assert abs(counts[kind] / 10_000 - weights.get(kind, 0.0) / total) <= 0.02, (kind, counts)


def test_within_kind_draws_cover_the_pool_uniformly() -> None:
    draws = Mixture({"plan": 1.0}, seed=1).sample(POOL, 3_000)
    frames = Counter(s.frame for s in draws)
    assert sorted(frames) == [0, 1, 2]
    assert all(abs(n / 3_000 - 1 / 3) <= 0.03 for n in frames.values())


def test_deterministic_per_seed() -> None:
    def key(draws: list[Sample]) -> list[tuple[str, int]]:
        return [(s.kind, s.frame) for s in draws]

    a, b = Mixture(INSTRUCT, seed=3), Mixture(INSTRUCT, seed=3)
    first = key(a.sample(POOL, 500))
    assert first == key(b.sample(POOL, 500))
    assert key(a.sample(POOL, 500)) == key(b.sample(POOL, 500))  # the streams stay in step
    assert first != key(Mixture(INSTRUCT, seed=4).sample(POOL, 500))
    a.reset()
    assert key(a.sample(POOL, 500)) == first
    assert key(list(islice(Mixture(INSTRUCT, seed=3).stream(POOL, block=64), 500))) == first  # blocks do not matter


def test_zero_weight_kind_may_be_missing_from_the_pool() -> None:
    draws = Mixture({"action": 1.0, "caption": 0.0}, seed=0).sample(pool({"action": 4}), 100)
    assert {s.kind for s in draws} == {"action"}


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"actions": 1.0}, r"unknown sample kinds \['actions'\]"),
        ({"action": -0.1, "plan": 1.0}, "weight of 'action' must be a finite number >= 0"),
        ({"action": float("nan")}, "weight of 'action' must be a finite number >= 0"),
        ({"action": 0.0, "plan": 0.0}, "must include a positive weight"),
        ({}, "must include a positive weight"),
    ],
)
def test_bad_weights(weights: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Mixture(weights, seed=0)


def test_weighted_kind_without_samples() -> None:
    mixture = Mixture({"action": 0.6, "plan": 0.2, "vqa": 0.2}, seed=0)
    with pytest.raises(ValueError, match=r"weights kinds \['vqa'\] but the pool has no samples"):
        mixture.sample(pool({"action": 2, "plan": 1}), 10)
    with pytest.raises(ValueError, match="no samples"):
        mixture.stream(pool({"action": 2, "plan": 1})).__next__()
    with pytest.raises(ValueError, match="negative number"):
        mixture.sample(POOL, -1)
