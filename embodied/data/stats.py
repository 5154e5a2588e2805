"""Normalisation statistics in LeRobot's ``stats.json`` form: min, max, mean, std and count per feature.

Vector features get per-dimension statistics (shape ``[D]``); scalar features shape ``[1]``; images get
per-channel statistics of pixel values scaled to [0, 1] with shape ``[C, 1, 1]``, as LeRobot computes them.
"""

from __future__ import annotations

import numpy as np

StatsDict = dict[str, list]


def feature_stats(values: np.ndarray, *, image: bool = False) -> StatsDict:
    """Statistics of ``values`` (``[N, ...]``; images ``[N, H, W, C]`` uint8) as JSON-ready nested lists."""
    if image:
        pixels = values.reshape(-1, values.shape[-1]).astype(np.float64) / 255.0  # [N·H·W, C]
        return {k: v.reshape(-1, 1, 1).tolist() for k, v in _moments(pixels).items()} | {"count": [len(values)]}
    data = values.astype(np.float64).reshape(len(values), -1)  # [N, D]; scalars become D = 1
    return {k: v.tolist() for k, v in _moments(data).items()} | {"count": [len(values)]}


def _moments(data: np.ndarray) -> dict[str, np.ndarray]:
    """Column-wise min, max, mean and population std of ``data`` ``[M, D]``."""
    return {"min": data.min(0), "max": data.max(0), "mean": data.mean(0), "std": data.std(0)}
