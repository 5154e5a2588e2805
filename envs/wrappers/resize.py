"""Numpy-only image resizing for adapted observations (no Pillow/OpenCV, so `embodied.envs` stays light).

Two modes: ``"nearest"`` picks the source pixel under each target pixel's centre; ``"area"`` averages the
source pixels that fall in each target cell (box filter), which avoids aliasing when shrinking large renders
to the 32–224 px images the encoders take. ``"area"`` falls back to nearest along an axis that is being
enlarged, because averaging is only meaningful when several source pixels map to one target pixel.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

ResizeMode = Literal["nearest", "area"]


def _nearest_index(src: int, dst: int) -> np.ndarray:
    # Source index under the centre of each target pixel: floor((i + 0.5) * src / dst).
    return np.minimum(((np.arange(dst) + 0.5) * src / dst).astype(np.int64), src - 1)


def _area_axis(image: np.ndarray, dst: int, axis: int) -> np.ndarray:
    """Average along ``axis`` from its current length down to ``dst`` (float64 result)."""
    src = image.shape[axis]
    if dst >= src:
        return np.take(image, _nearest_index(src, dst), axis=axis).astype(np.float64)
    # Cell i covers source rows [starts[i], starts[i+1]); starts are strictly increasing because dst < src.
    starts = (np.arange(dst) * src) // dst
    sums = np.add.reduceat(image.astype(np.float64), starts, axis=axis)
    counts = np.diff(np.append(starts, src)).astype(np.float64)
    shape = [1] * image.ndim
    shape[axis] = dst
    return sums / counts.reshape(shape)


def resize_image(image: np.ndarray, size: tuple[int, int], mode: ResizeMode = "area") -> np.ndarray:
    """Resize an ``[H, W, C]`` (or ``[H, W]``) uint8 image to ``size = (height, width)``.

    Returns a new uint8 array ``[height, width, C]``; a grey ``[H, W]`` input gains a channel axis of 3 so
    every adapted camera has the same HWC RGB layout.
    """
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3:
        raise ValueError(f"expected an [H, W, C] image, got shape {image.shape}")
    height, width = size
    if height <= 0 or width <= 0:
        raise ValueError(f"target size must be positive, got {size}")
    if image.shape[:2] == (height, width):
        return np.ascontiguousarray(image, dtype=np.uint8)
    if mode == "nearest":
        rows = _nearest_index(image.shape[0], height)
        cols = _nearest_index(image.shape[1], width)
        return np.ascontiguousarray(image[rows][:, cols], dtype=np.uint8)
    if mode == "area":
        out = _area_axis(_area_axis(image, height, axis=0), width, axis=1)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    raise ValueError(f"unknown resize mode {mode!r}; expected 'nearest' or 'area'")
