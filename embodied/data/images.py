"""Inline image cells in Hugging Face ``datasets``' ``Image`` struct (``{"bytes", "path"}``): PNG for RGB frames,
single-channel TIFF (float metres) or 16-bit PNG (uint16 millimetres) for depth frames."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

# zlib level 1: PNG stays lossless whatever the level, and level 1 encodes several times faster than 6.
PNG_COMPRESS_LEVEL = 1


def encode_png(image: np.ndarray) -> bytes:
    """``[H, W, 3]`` uint8 → PNG bytes (lossless)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def decode_image(cell: dict[str, bytes | str | None], root: Path) -> np.ndarray:
    """An image struct → ``[H, W, C]`` uint8; a cell without bytes is read from ``path`` (relative to ``root``)."""
    data, path = cell.get("bytes"), cell.get("path")
    if data is None:
        if not path:
            raise ValueError("image cell has neither bytes nor path")
        data = (root / str(path)).read_bytes()
    with Image.open(io.BytesIO(data)) as image:  # type: ignore[arg-type]
        array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array


def encode_depth(depth: np.ndarray) -> bytes:
    """``[H, W]`` float32 metres → single-channel float TIFF (uncompressed, lossless): what LeRobot's image writer
    produces for a float depth frame (``write_image`` to ``frame-XXXXXX.tiff`` with ``compression="raw"``)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(depth, dtype=np.float32)).save(buffer, format="TIFF", compression="raw")
    return buffer.getvalue()


def decode_depth(cell: dict[str, bytes | str | None], root: Path, unit: str | None) -> np.ndarray:
    """A depth image cell (TIFF or 16-bit PNG, one channel) → ``[H, W]`` float32 metres.

    ``unit`` is the feature's ``info.depth_unit`` (``"m"`` or ``"mm"``); without one the pixel type decides, as
    LeRobot's ``infer_depth_unit`` does: floating point is metres, integers (uint16) are millimetres.
    """
    array = decode_image(cell, root)[..., 0]
    if unit is None:
        unit = "m" if np.issubdtype(array.dtype, np.floating) else "mm"
    if unit not in DEPTH_SCALE:
        raise ValueError(f"depth_unit {unit!r} is not one of {sorted(DEPTH_SCALE)}")
    metres = array.astype(np.float32)
    return metres if unit == "m" else metres * np.float32(DEPTH_SCALE[unit])


DEPTH_SCALE = {"m": 1.0, "mm": 1e-3}  # metres per unit of LeRobot's depth_unit values
