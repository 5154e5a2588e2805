"""Media for the report: episode GIFs (Pillow, a core dependency) and ``data:`` URIs for embedding files inline.

GIFs are written with Pillow directly, so evaluation needs no optional video extra; Pillow merges identical
consecutive frames into one longer frame, which keeps the playing time (see ``embodied.envs.video``).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["data_uri", "gif_bytes", "write_gif"]


def gif_bytes(frames: Sequence[np.ndarray], fps: float = 4.0) -> bytes:
    """An endlessly looping GIF of ``[H, W, 3]`` uint8 ``frames`` at ``fps``."""
    if len(frames) == 0:
        raise ValueError("cannot encode a GIF with no frames")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    images = [Image.fromarray(np.ascontiguousarray(f, dtype=np.uint8)) for f in frames]
    shapes = {np.asarray(f).shape for f in frames}
    if len(shapes) != 1 or next(iter(shapes))[-1:] != (3,):
        raise ValueError(f"frames must be [H, W, 3] uint8 of one size, got shapes {sorted(shapes)}")
    buffer = io.BytesIO()
    duration = max(round(1000.0 / fps), 20)  # browsers clamp shorter frame delays
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
    return buffer.getvalue()


def write_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float = 4.0) -> Path:
    """Write ``frames`` as a GIF to ``path`` (parents created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gif_bytes(frames, fps))
    return path


def data_uri(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,...`` for embedding ``data`` in HTML."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
