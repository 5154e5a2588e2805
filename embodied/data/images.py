"""Inline image cells: PNG bytes in Hugging Face ``datasets``' ``Image`` struct (``{"bytes", "path"}``)."""

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
