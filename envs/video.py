"""Write episodes (lists of ``[H, W, 3]`` uint8 frames) to MP4 or GIF, and a wrapper that records them.

imageio (and imageio-ffmpeg for MP4) are optional (``pip install embodied[video]``) and imported only when a
video is written, so ``embodied.envs`` keeps to gymnasium + pybullet + numpy at import time.

* MP4: H.264 (``libx264``, ``yuv420p`` so ordinary players open it). yuv420p needs even sides, so odd-sized
  frames are padded by one edge row/column rather than letting imageio rescale them.
* GIF: written by imageio's Pillow plugin, looping forever. Pillow merges *identical consecutive* frames into
  one longer frame, so a GIF can hold fewer frames than were written while its playing time stays the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

VIDEO_SUFFIXES = (".mp4", ".gif")


def _check_frames(frames: Sequence[np.ndarray]) -> np.ndarray:
    if len(frames) == 0:
        raise ValueError("cannot write a video with no frames")
    stack = np.stack([np.asarray(f) for f in frames])
    if stack.dtype != np.uint8 or stack.ndim != 4 or stack.shape[-1] != 3:
        raise ValueError(f"frames must be [H, W, 3] uint8 of one size, got {stack.shape} {stack.dtype}")
    return stack


def _pad_even(stack: np.ndarray) -> np.ndarray:
    """Pad ``[T, H, W, 3]`` to even H and W by repeating the last row/column (yuv420p subsamples by 2)."""
    pad_h, pad_w = stack.shape[1] % 2, stack.shape[2] % 2
    if pad_h or pad_w:
        stack = np.pad(stack, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return stack


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: float = 10.0) -> Path:
    """Write ``frames`` to ``path``; the suffix (``.mp4`` or ``.gif``) picks the format. Returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"unsupported video suffix {path.suffix!r}; expected one of {VIDEO_SUFFIXES}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    stack = _check_frames(frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    import imageio.v3 as iio  # lazy: optional dependency

    if suffix == ".mp4":
        iio.imwrite(
            path,
            _pad_even(stack),
            plugin="FFMPEG",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,
        )
    else:
        iio.imwrite(path, stack, plugin="pillow", extension=".gif", duration=1000.0 / fps, loop=0)
    return path


class RecordEpisodes(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Collect ``obs["images"][camera]`` at reset and every step; write one video per finished episode.

    Files are ``{directory}/{prefix}-{episode:04d}{suffix}``; ``paths`` lists the ones written so far. An
    episode still running at ``close()`` is written then, so the last partial episode is not lost.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        directory: str | Path,
        *,
        camera: str = "front",
        fps: float = 10.0,
        suffix: str = ".mp4",
        prefix: str = "episode",
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, directory=str(directory), camera=camera, fps=fps, suffix=suffix, prefix=prefix
        )
        gym.Wrapper.__init__(self, env)
        if suffix not in VIDEO_SUFFIXES:
            raise ValueError(f"unsupported video suffix {suffix!r}; expected one of {VIDEO_SUFFIXES}")
        self.directory = Path(directory)
        self.camera, self.fps, self.suffix, self.prefix = camera, fps, suffix, prefix
        self.paths: list[Path] = []
        self._frames: list[np.ndarray] = []

    def _flush(self) -> None:
        if self._frames:
            name = f"{self.prefix}-{len(self.paths):04d}{self.suffix}"
            self.paths.append(write_video(self._frames, self.directory / name, self.fps))
        self._frames = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        self._flush()
        obs, info = self.env.reset(seed=seed, options=options)
        self._frames.append(np.array(obs["images"][self.camera]))
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frames.append(np.array(obs["images"][self.camera]))
        if terminated or truncated:
            self._flush()
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        self._flush()
        super().close()
