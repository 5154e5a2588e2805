"""Episode videos: MP4/GIF files that read back with the written frame count and content."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import imageio.v3 as iio
import numpy as np
import pytest
from gymnasium import spaces

from embodied.envs.video import RecordEpisodes, write_video


def _frames(count: int, height: int = 33, width: int = 47) -> list[np.ndarray]:
    # Flat frames of distinct grey levels: survive H.264 and GIF palettes nearly exactly, and never repeat
    # (Pillow would merge identical consecutive GIF frames).
    return [np.full((height, width, 3), 20 * i, dtype=np.uint8) for i in range(count)]


def test_mp4_reads_back_frame_count_and_content(tmp_path: Path) -> None:
    path = write_video(_frames(12), tmp_path / "sub" / "episode.mp4", fps=5)
    video = iio.imread(path, index=None)
    assert video.shape == (12, 34, 48, 3)  # odd sides padded to even for yuv420p
    levels = video[:, :33, :47].reshape(12, -1).mean(axis=1)
    np.testing.assert_allclose(levels, [20 * i for i in range(12)], atol=3)


def test_gif_reads_back_frame_count_and_content(tmp_path: Path) -> None:
    path = write_video(_frames(9), tmp_path / "episode.gif", fps=4)
    video = iio.imread(path, index=None)
    assert video.shape[:3] == (9, 33, 47)
    np.testing.assert_allclose(video[..., :3].reshape(9, -1).mean(axis=1), [20 * i for i in range(9)], atol=2)
    assert iio.immeta(path, index=0)["duration"] == 250


def test_bad_inputs_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="suffix"):
        write_video(_frames(2), tmp_path / "x.avi")
    with pytest.raises(ValueError, match="no frames"):
        write_video([], tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="uint8"):
        write_video([np.zeros((4, 4, 3), dtype=np.float32)], tmp_path / "x.gif")


class Counter(gym.Env[dict[str, Any], int]):
    """Episode of 3 steps whose camera frame shows the step index as its grey level."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self) -> None:
        self.observation_space = spaces.Dict(
            {"images": spaces.Dict({"front": spaces.Box(0, 255, (16, 16, 3), dtype=np.uint8)})}
        )
        self.action_space = spaces.Discrete(1)
        self._t = 0

    def _obs(self) -> dict[str, Any]:
        return {"images": {"front": np.full((16, 16, 3), 60 * self._t, dtype=np.uint8)}}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action: int):
        self._t += 1
        return self._obs(), 0.0, self._t == 3, False, {}


def test_record_episodes_writes_one_video_per_episode(tmp_path: Path) -> None:
    env = RecordEpisodes(Counter(), tmp_path, suffix=".gif", fps=8)
    for _ in range(2):
        env.reset(seed=0)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(0)
            done = terminated or truncated
    env.reset(seed=1)
    env.step(0)
    env.close()  # the unfinished third episode (2 frames) is flushed on close
    assert [p.name for p in env.paths] == ["episode-0000.gif", "episode-0001.gif", "episode-0002.gif"]
    counts = [iio.imread(p, index=None).shape[0] for p in env.paths]
    assert counts == [4, 4, 2]  # reset frame + one per step
