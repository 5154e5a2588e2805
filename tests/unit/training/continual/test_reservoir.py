"""ReservoirBuffer (Vitter's Algorithm R): bounded, uniform (χ² over 10k inserts), seeded, resumable."""

from __future__ import annotations

import json

import pytest
import torch

from embodied.training.continual.reservoir import ReservoirBuffer

# χ² critical value for 9 degrees of freedom (10 bins − 1) at α = 0.001, from the χ² table
CHI2_9_DOF_999 = 27.877


def filled(size: int, n: int, seed: int) -> ReservoirBuffer:
    buffer = ReservoirBuffer(size, torch.Generator().manual_seed(seed))
    for item in range(n):
        buffer.insert(item)
    return buffer


def chi2(counts: list[int]) -> float:
    expected = sum(counts) / len(counts)
    return sum((c - expected) ** 2 / expected for c in counts)


def test_never_exceeds_size_and_holds_distinct_seen_items() -> None:
    buffer = ReservoirBuffer(7, torch.Generator().manual_seed(0))
    for item in range(200):
        buffer.insert(item)
        assert len(buffer) == min(item + 1, 7)
        assert len(set(buffer.items())) == len(buffer)
        assert all(0 <= i <= item for i in buffer.items())
    assert buffer.seen == 200


def test_uniform_chi_square_over_10k_inserts() -> None:
    # 10 trials × 1000 inserts into size 100; items binned by insertion position into 10 bins of 100 ids. Under
    # uniformity every id is kept with probability 100/1000, so each bin expects 10 trials × 100 kept / 10 = 100.
    counts = [0] * 10
    for trial in range(10):
        for item in filled(100, 1000, seed=trial).items():
            counts[item // 100] += 1
    assert sum(counts) == 1000
    assert chi2(counts) < CHI2_9_DOF_999, counts
    # the statistic has power: keeping the first 100 ids (a classic bug) is rejected by far
    assert chi2([1000] + [0] * 9) > CHI2_9_DOF_999


def test_same_seed_same_contents_and_different_seed_differs() -> None:
    assert filled(50, 2000, seed=3).items() == filled(50, 2000, seed=3).items()
    assert filled(50, 2000, seed=3).items() != filled(50, 2000, seed=4).items()


def test_state_round_trip_continues_identically() -> None:
    reference = filled(20, 300, seed=1)
    generator = torch.Generator().manual_seed(1)
    first = ReservoirBuffer(20, generator)
    for item in range(150):
        first.insert(item)
    state = json.loads(json.dumps(first.state_dict()))  # plain JSON
    resumed = ReservoirBuffer(20, torch.Generator().set_state(generator.get_state()))
    resumed.load_state_dict(state)
    assert resumed.state_dict() == first.state_dict()
    for item in range(150, 300):
        resumed.insert(item)
    assert resumed.items() == reference.items() and resumed.seen == reference.seen == 300


def test_bad_state_and_size_are_errors() -> None:
    with pytest.raises(ValueError, match="size"):
        ReservoirBuffer(0, torch.Generator())
    with pytest.raises(ValueError, match="size 5"):
        ReservoirBuffer(6, torch.Generator()).load_state_dict(filled(5, 10, 0).state_dict())
    with pytest.raises(ValueError, match="3 items after 10 inserts"):
        ReservoirBuffer(5, torch.Generator()).load_state_dict({"size": 5, "seen": 10, "items": [1, 2, 3]})
