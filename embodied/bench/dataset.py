"""Dataset read benchmark: frames/s of ``read_dataset(...).episodes()`` with inline PNG images vs MP4 videos.

One synthetic dataset (``EPISODES`` episodes of ``FRAMES`` frames, one 64×64 camera, smooth moving content so
the codec sees what a camera sees, not noise) is written three ways in the same run: inline PNG (the default),
video with LeRobot's default codec (``libsvtav1``, AV1, g=2, crf=30) and video with ``libx264``. Each is read
back in full (every episode's frames decoded) ``REPEATS`` times; ``frames_per_s`` is frames / best time, and
``video_*_vs_inline`` the ratios. Sizes on disk are reported beside them. Video rows need PyAV; without it they
are ``None``.

Write throughput (issue 14): ``write_frames_per_s`` is frames / best time of ``write_dataset`` on ``WRITE_SIZE``
(56×56) frames with state and actions; ``write_reference_frames_per_s`` runs the same call with the previous
path patched back in (Pillow's PNG encoder at level 1, one frame after another, and one statistics call per
feature), and
``write_speedup`` is their ratio — both measured in this run. Nothing runs at import time.
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
WRITE_SIZE = 56
FPS = 10
REPEATS = 3


def _episodes(episodes: int, frames: int, size: int = SIZE) -> list[Any]:
    from embodied.data import Episode

    y, x = np.mgrid[0:size, 0:size]
    out = []
    for e in range(episodes):
        t = np.arange(frames)[:, None, None]
        wave = 127 + 100 * np.sin((x[None] + 2 * t + 7 * e) / 9.0) * np.cos((y[None] - t) / 11.0)
        images = np.stack([wave, np.roll(wave, 5, axis=2), 255 - wave], axis=-1).astype(np.uint8)
        out.append(
            Episode(
                images={"front": images},
                state=np.sin(np.arange(frames * 4, dtype=np.float32) + e).reshape(frames, 4),
                actions=np.cos(np.arange(frames * 7, dtype=np.float32) + e).reshape(frames, 7),
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


def _reference_png(image: np.ndarray) -> bytes:
    """The previous encoder: Pillow, zlib level 1."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _reference_pngs(frames: np.ndarray) -> list[bytes]:
    """The previous path encoded one frame after another."""
    return [_reference_png(f) for f in frames]


def _reference_stats(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The previous statistics: one ``feature_stats`` call per feature."""
    from embodied.data.stats import feature_stats

    return {key: feature_stats(values) for key, values in arrays.items()}


def _write_frames_per_s(episodes: list[Any], tmp: Path, repeats: int, reference: bool) -> float:
    """Frames / best time of ``write_dataset`` (``reference``: with the previous encoder and statistics)."""
    import embodied.data.writer as writer

    patched = {"encode_pngs": _reference_pngs, "features_stats": _reference_stats} if reference else {}
    saved = {name: getattr(writer, name) for name in patched}
    best = float("inf")
    try:
        for name, value in patched.items():
            setattr(writer, name, value)
        for r in range(repeats):
            start = time.perf_counter()
            writer.write_dataset(episodes, tmp / f"write-{reference}-{r}", fps=FPS, overwrite=True)
            best = min(best, time.perf_counter() - start)
    finally:
        for name, value in saved.items():
            setattr(writer, name, value)
    return sum(map(len, episodes)) / best


def _write_rates(quick: bool, tmp: Path) -> dict[str, Any]:
    """``write_dataset`` frames/s now and with the previous path, alternated so both see the same machine load."""
    episodes = _episodes(4 if quick else EPISODES, 20 if quick else FRAMES, WRITE_SIZE)
    repeats = 1 if quick else REPEATS
    new = reference = 0.0
    for _ in range(1 if quick else 2):
        new = max(new, _write_frames_per_s(episodes, tmp, repeats, reference=False))
        reference = max(reference, _write_frames_per_s(episodes, tmp, repeats, reference=True))
    return {
        "write_image_size": WRITE_SIZE,
        "write_frames_per_s": new,
        "write_reference_frames_per_s": reference,
        "write_speedup": new / reference,
    }


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
        results |= _write_rates(quick, Path(tmp))
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
