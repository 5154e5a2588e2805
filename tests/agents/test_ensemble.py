"""Temporal ensembling (ACT) against hand-computed averages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied.agents.ensemble import TemporalEnsemble, ensemble_weights


def test_weights_favour_the_oldest_prediction_and_sum_to_one() -> None:
    w = ensemble_weights(3, 0.5)
    expected = np.array([1.0, math.exp(-0.5), math.exp(-1.0)])
    np.testing.assert_allclose(w, expected / expected.sum())
    np.testing.assert_allclose(ensemble_weights(4, 0.0), [0.25] * 4)


def test_overlapping_chunks_are_averaged_by_hand() -> None:
    """H = 3, k = 0.5; chunk c_t (queried at step t) holds 10·t + j for step t + j (1-d actions)."""
    ens = TemporalEnsemble(0.5)
    chunks = [np.array([[10.0 * t + j] for j in range(3)]) for t in range(4)]
    w1, w2 = math.exp(-0.5), math.exp(-1.0)
    expected = [
        0.0,  # step 0: only c0[0] = 0
        (1.0 + w1 * 10.0) / (1 + w1),  # step 1: c0[1] = 1, c1[0] = 10
        (2.0 + w1 * 11.0 + w2 * 20.0) / (1 + w1 + w2),  # step 2: c0[2], c1[1], c2[0]
        (12.0 + w1 * 21.0 + w2 * 30.0) / (1 + w1 + w2),  # step 3: c0 expired; c1[2], c2[1], c3[0]
    ]
    for t, chunk in enumerate(chunks):
        ens.add(chunk)
        assert ens.step()[0] == pytest.approx(expected[t], rel=1e-6)
    assert len(ens) == 2  # c2 (one step left) and c3 (two left); c1 has expired


def test_clear_forgets_chunks_in_flight() -> None:
    ens = TemporalEnsemble(0.1)
    ens.add(np.ones((4, 2)))
    ens.clear()
    with pytest.raises(ValueError, match="no prediction"):
        ens.step()


def test_negative_k_is_rejected() -> None:
    with pytest.raises(ValueError, match="k must be >= 0"):
        TemporalEnsemble(-1.0)
