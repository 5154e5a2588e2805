"""Normalisation statistics in LeRobot's ``stats.json`` form, with the quantiles LeRobot's normalisers read.

Per feature: ``min``, ``max``, ``mean``, ``std`` (population), ``count`` (frames) and the quantiles
``q01``, ``q10``, ``q50``, ``q90``, ``q99`` — the keys and shapes of LeRobot v3's
``lerobot.datasets.compute_stats.get_feature_stats`` (``DEFAULT_QUANTILES = [0.01, 0.10, 0.50, 0.90, 0.99]``,
keys ``f"q{int(q * 100):02d}"``), which its ``QUANTILES`` / ``QUANTILE10`` normalisation modes (π0.5's
default) require.

Shapes follow LeRobot exactly, because LeRobot aggregates our numbers with its own when it appends episodes:

- numeric features ``[N, *shape]`` are reduced over every axis but the last (LeRobot's ``RunningQuantileStats``
  reshapes a batch to ``[-1, shape[-1]]``): ``action [N, 7]`` → ``[7]``, scalars → ``[1]``, ``[N, K, 2]`` → ``[2]``;
- RGB images ``[N, H, W, C]`` uint8 → per-channel statistics of pixels scaled to [0, 1], shape ``[C, 1, 1]``;
- depth images (``is_depth_map``) → one channel in their stored unit (not scaled), shape ``[1, 1, 1]``.

Where LeRobot estimates quantiles from a 5000-bin histogram, ours are exact: ``numpy.quantile`` (linear
interpolation) over every value; for uint8 images they come from exact per-channel pixel counts, which gives the
same numbers as ``numpy.quantile`` without sorting millions of pixels. The dataset-wide statistics are computed
over all frames at once (not aggregated from per-episode summaries), so they equal numpy's over the whole data.
"""

from __future__ import annotations

import numpy as np

StatsDict = dict[str, list]

#: LeRobot's ``DEFAULT_QUANTILES`` and the stats keys it derives from them
QUANTILES: tuple[float, ...] = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS: tuple[str, ...] = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)
#: every key of one feature's statistics, in LeRobot's order
STAT_KEYS: tuple[str, ...] = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)


def feature_stats(values: np.ndarray, *, image: bool = False) -> StatsDict:
    """Statistics of numeric ``values`` ``[N, ...]``, or of RGB ``image`` frames ``[N, H, W, C]`` uint8."""
    if image:
        counts = pixel_counts(values)
        return image_stats(counts, len(values))
    data = values.astype(np.float64).reshape(-1, values.shape[-1] if values.ndim > 1 else 1)  # [M, D]
    stats = _moments(data) | dict(zip(QUANTILE_KEYS, np.quantile(data, QUANTILES, axis=0), strict=True))
    return {k: np.asarray(v).tolist() for k, v in stats.items()} | {"count": [len(values)]}


def features_stats(arrays: dict[str, np.ndarray]) -> dict[str, StatsDict]:
    """``feature_stats`` of every array in ``arrays`` (equal up to float64 rounding); the ``[N]`` / ``[N, D]`` ones of
    one length are reduced together, one quantile call over ``[N, sum D]`` instead of one per feature (issue 14:
    numpy's per-call overhead dominated ``write_dataset``'s per-episode statistics)."""
    lengths = {len(v) for v in arrays.values()}
    flat = {k: v for k, v in arrays.items() if v.ndim <= 2 and len(lengths) == 1}
    out = {k: feature_stats(v) for k, v in arrays.items() if k not in flat}
    if not flat:
        return out
    columns = [v.astype(np.float64).reshape(len(v), -1) for v in flat.values()]
    data = np.concatenate(columns, axis=1)  # [N, sum D]
    stats = _moments(data) | dict(zip(QUANTILE_KEYS, np.quantile(data, QUANTILES, axis=0), strict=True))
    start = 0
    for (key, values), column in zip(flat.items(), columns, strict=True):
        width = column.shape[1]
        out[key] = {k: v[start : start + width].tolist() for k, v in stats.items()} | {"count": [len(values)]}
        start += width
    return {k: out[k] for k in arrays}


def depth_stats(values: np.ndarray) -> StatsDict:
    """Statistics of depth frames ``[N, H, W]`` in their stored unit, in LeRobot's ``[1, 1, 1]`` shape."""
    data = values.astype(np.float64).reshape(-1, 1)
    stats = _moments(data) | dict(zip(QUANTILE_KEYS, np.quantile(data, QUANTILES, axis=0), strict=True))
    return {k: np.asarray(v).reshape(1, 1, 1).tolist() for k, v in stats.items()} | {"count": [len(values)]}


def pixel_counts(frames: np.ndarray) -> np.ndarray:
    """How often each value 0..255 occurs per channel in uint8 ``frames [N, H, W, C]``: ``[C, 256]`` int64."""
    if frames.dtype != np.uint8:
        raise ValueError(f"image statistics need uint8 frames, got {frames.dtype}")
    channels = frames.reshape(-1, frames.shape[-1])
    return np.stack([np.bincount(channels[:, c], minlength=256) for c in range(channels.shape[1])])


def image_stats(counts: np.ndarray, frames: int) -> StatsDict:
    """Per-channel statistics of pixels scaled to [0, 1] from ``pixel_counts`` ``[C, 256]`` of ``frames`` frames.

    Exact: the mean and population std of the pixel values, and the quantiles ``numpy.quantile`` would give on
    the sorted pixels (linear interpolation between the values at ranks ``floor(q·(n-1))`` and ``ceil``).
    """
    levels = np.arange(256, dtype=np.float64) / 255.0
    total = counts.sum(1, keepdims=True).astype(np.float64)  # [C, 1]
    mean = (counts * levels).sum(1) / total[:, 0]
    std = np.sqrt((counts * (levels - mean[:, None]) ** 2).sum(1) / total[:, 0])
    present = counts > 0
    stats = {
        "min": np.array([levels[row].min() for row in present]),
        "max": np.array([levels[row].max() for row in present]),
        "mean": mean,
        "std": std,
    }
    cumulative = counts.cumsum(1)  # [C, 256]: number of pixels <= each level
    for key, q in zip(QUANTILE_KEYS, QUANTILES, strict=True):
        position = q * (total[:, 0] - 1)
        low, high = np.floor(position), np.ceil(position)
        value_low = np.array(
            [levels[np.searchsorted(c, r, side="right")] for c, r in zip(cumulative, low, strict=True)]
        )
        value_high = np.array(
            [levels[np.searchsorted(c, r, side="right")] for c, r in zip(cumulative, high, strict=True)]
        )
        stats[key] = value_low + (position - low) * (value_high - value_low)
    return {k: v.reshape(-1, 1, 1).tolist() for k, v in stats.items()} | {"count": [frames]}


def _moments(data: np.ndarray) -> dict[str, np.ndarray]:
    """Column-wise min, max, mean and population std of ``data`` ``[M, D]``."""
    return {"min": data.min(0), "max": data.max(0), "mean": data.mean(0), "std": data.std(0)}
