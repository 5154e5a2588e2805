"""Temporal ensembling of overlapping action chunks (ACT: Zhao et al., "Learning Fine-Grained Bimanual
Manipulation with Low-Cost Hardware", RSS 2023, §3.3).

The policy is queried at every step; each query predicts the next H actions, so at step t up to H chunks
(queried at t-H+1 … t) each hold a prediction for t. The executed action is their weighted average with
``w_i = exp(-k · i)``, ``i = 0`` for the OLDEST prediction (the paper's convention, as in its reference code:
older predictions weigh more, so a larger ``k`` smooths more and a smaller ``k`` takes in new observations
faster; ``k = 0`` is the plain mean). Weights are normalised to sum to 1.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TemporalEnsemble", "ensemble_weights"]


def ensemble_weights(count: int, k: float) -> np.ndarray:
    """``[count]`` normalised weights ``exp(-k · i)`` for predictions ordered oldest first."""
    if count < 1:
        raise ValueError("no prediction covers this step: add a chunk before asking for an action")
    w = np.exp(-k * np.arange(count, dtype=np.float64))
    return w / w.sum()


class TemporalEnsemble:
    """One sub-env's chunks in flight: ``add`` a fresh chunk ``[H, A]`` each step, then ``step()`` for the action."""

    def __init__(self, k: float) -> None:
        if k < 0:
            raise ValueError(f"the temporal-ensemble coefficient k must be >= 0, got {k}")
        self.k = k
        self._chunks: list[tuple[np.ndarray, int]] = []  # (chunk [H, A], index of the current step in it)

    def __len__(self) -> int:
        return len(self._chunks)

    def add(self, chunk: np.ndarray) -> None:
        """A new prediction ``[H, A]`` whose row 0 is for the current step."""
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.ndim != 2 or len(chunk) < 1:
            raise ValueError(f"expected a chunk [H, A], got shape {chunk.shape}")
        self._chunks.append((chunk, 0))

    def step(self) -> np.ndarray:
        """The ensembled action ``[A]`` for the current step; then advance to the next step."""
        weights = ensemble_weights(len(self._chunks), self.k)
        predictions = np.stack([chunk[offset] for chunk, offset in self._chunks])  # [M, A], oldest first
        action = (weights[:, None] * predictions).sum(axis=0)
        self._chunks = [(c, o + 1) for c, o in self._chunks if o + 1 < len(c)]
        return action.astype(np.float32)

    def clear(self) -> None:
        self._chunks = []
