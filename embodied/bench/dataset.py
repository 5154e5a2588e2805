"""Dataset read benchmark: frames/s of ``read_dataset(...).episodes()`` with inline PNG images vs MP4 videos.

One synthetic dataset (``EPISODES`` episodes of ``FRAMES`` frames, one 64×64 camera, smooth moving content so
the codec sees what a camera sees, not noise) is written three ways in the same run: inline PNG (the default),
video with LeRobot's default codec (``libsvtav1``, AV1, g=2, crf=30) and video with ``libx264``. Each is read
back in full (every episode's frames decoded) ``REPEATS`` times; ``frames_per_s`` is frames / best time, and
``video_*_vs_inline`` the ratios. Sizes on disk are reported beside them. Video rows need PyAV; without it they
are ``None``. Nothing runs at import time.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

EPISODES = 10
FRAMES = 50
SIZE = 64
FPS = 10
REPEATS = 3


def _episodes(episodes: int, frames: int) -> list[Any]:
    from embodied.data import Episode

    y, x = np.mgrid[0:SIZE, 0:SIZE]
    out = []
    for e in range(episodes):
        t = np.arange(frames)[:, None, None]
        wave = 127 + 100 * np.sin((x[None] + 2 * t + 7 * e) / 9.0) * np.cos((y[None] - t) / 11.0)
        images = np.stack([wave, np.roll(wave, 5, axis=2), 255 - wave], axis=-1).astype(np.uint8)
        out.append(
            Episode(
                images={"front": images},
                state=np.zeros((frames, 4), np.float32),
                actions=np.zeros((frames, 7), np.float32),
                task="move",
            )
        )
    return out


def _read_frames_per_s(root: Path, repeats: int) -> float:
    from embodied.data import read_dataset

    best = float("inf")
    frames = 0
    for _ in range(repeats):
        start = time.perf_counter()
        frames = sum(len(ep.images["front"]) for ep in read_dataset(root).episodes())
        best = min(best, time.perf_counter() - start)
    return frames / best


def _size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20


def run(quick: bool = False) -> dict[str, Any]:
    """Read frames/s inline vs video (``quick``: fewer episodes and repeats, same keys)."""
    from embodied.data import write_dataset

    episodes = _episodes(3 if quick else EPISODES, 20 if quick else FRAMES)
    repeats = 1 if quick else REPEATS
    try:
        import av  # noqa: F401

        codecs = ["libsvtav1", "libx264"]
    except ImportError:
        codecs = []
    results: dict[str, Any] = {"frames": sum(map(len, episodes)), "image_size": SIZE}
    with tempfile.TemporaryDirectory() as tmp:
        inline = write_dataset(episodes, Path(tmp) / "inline", fps=FPS)
        results["inline_frames_per_s"] = _read_frames_per_s(inline, repeats)
        results["inline_mb"] = _size_mb(inline)
        for codec in ("libsvtav1", "libx264"):
            name = codec.removeprefix("lib")
            if codec not in codecs:
                results |= {
                    f"video_{name}_frames_per_s": None,
                    f"video_{name}_mb": None,
                    f"video_{name}_vs_inline": None,
                }
                continue
            root = write_dataset(episodes, Path(tmp) / codec, fps=FPS, video=True, video_codec=codec)
            rate = _read_frames_per_s(root, repeats)
            results[f"video_{name}_frames_per_s"] = rate
            results[f"video_{name}_mb"] = _size_mb(root)
            results[f"video_{name}_vs_inline"] = rate / results["inline_frames_per_s"]
    return results
