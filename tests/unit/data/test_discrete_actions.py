"""Discrete actions stored as int64 indices with their space in ``meta/info.json`` (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest
from gymnasium import spaces

from embodied.data import Episode, collect, read_dataset, validate_dataset, write_dataset
from embodied.data.action_space import DiscreteActions
from embodied.data.collect import EpisodicPolicy


def episode(actions: list[int], space: DiscreteActions) -> Episode:
    n = len(actions)
    images = {"front": np.full((n, 8, 8, 3), 7, np.uint8)}
    return Episode(
        images=images, state=np.zeros((n, 2)), actions=np.array(actions)[:, None], task="go", action_space=space
    )


def test_indices_round_trip_as_int64_with_their_space(tmp_path: Path) -> None:
    space = DiscreteActions(5, start=1)
    root = write_dataset([episode([0, 4, 2], space), episode([3, 1], space)], tmp_path / "d", fps=5)
    feature = json.loads((root / "meta/info.json").read_text())["features"]["action"]
    assert feature == {"dtype": "int64", "shape": [1], "names": None, "info": space.feature_info()}
    column = pq.read_table(root / "data/chunk-000/file-000.parquet").column("action")
    assert str(column.type) == "int64" and column.to_pylist() == [0, 4, 2, 3, 1]  # a scalar column, as LeRobot's
    ds = read_dataset(root)
    assert ds.action_space == space
    back = ds.episode(0)
    assert back.action_space == space and back.actions.tolist() == [[0.0], [4.0], [2.0]]
    assert validate_dataset(root) == []


@pytest.mark.parametrize(
    ("actions", "needle"), [([[5]], "not an index"), ([[1.5]], "not an index"), ([[1, 2]], "[T, 1]")]
)
def test_episode_refuses_what_is_not_an_index(actions: list[list[float]], needle: str) -> None:
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        Episode(images={}, state=np.zeros((1, 0)), actions=np.array(actions), task="t", action_space=DiscreteActions(5))


def test_continuous_and_discrete_episodes_do_not_mix(tmp_path: Path) -> None:
    continuous = Episode(
        images={"front": np.zeros((1, 8, 8, 3), np.uint8)}, state=np.zeros((1, 2)), actions=np.array([[0.5]]), task="go"
    )
    with pytest.raises(ValueError, match="schema"):
        write_dataset([episode([1], DiscreteActions(3)), continuous], tmp_path / "d", fps=5)


class Walk(gym.Env[dict[str, Any], np.int64]):
    """Discrete(3, start=-1) steps along a line; the episode ends after 3 steps."""

    metadata = {"render_modes": [], "render_fps": 5}  # noqa: RUF012  (gymnasium declares it per instance)

    def __init__(self) -> None:
        self.action_space = spaces.Discrete(3, start=-1)
        self.observation_space = spaces.Dict(
            {"state": spaces.Box(-10, 10, (1,), np.float32), "instruction": spaces.Text(8)}
        )
        self.t, self.x = 0, 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict]:
        super().reset(seed=seed)
        self.t, self.x = 0, float(self.np_random.integers(0, 3))
        return self._obs(), {"x": self.x}

    def step(self, action: np.int64) -> tuple[dict[str, Any], float, bool, bool, dict]:
        assert self.action_space.contains(np.int64(action))
        self.t, self.x = self.t + 1, self.x + int(action)
        return self._obs(), 1.0, self.t >= 3, False, {"x": self.x, "success": True}

    def _obs(self) -> dict[str, Any]:
        return {"state": np.array([self.x], np.float32), "instruction": "walk"}


class Alternate(EpisodicPolicy):
    """-1, +1, -1, ... restarted at each episode; records the starts and the infos it saw."""

    def __init__(self) -> None:
        self.starts: list[tuple[int, int | None]] = []
        self.infos: list[dict[str, Any]] = []
        self.t: dict[int, int] = {}

    def start(self, index: int, seed: int | None) -> None:
        self.starts.append((index, seed))
        self.t[index] = 0

    def act(self, index: int, obs: dict[str, Any], info: dict[str, Any], env: gym.Env[Any, Any]) -> Any:
        self.infos.append(info)
        self.t[index] += 1
        return np.int64(-1 if self.t[index] % 2 else 1)


def test_collect_records_indices_and_tells_an_episodic_policy_each_start() -> None:
    policy = Alternate()
    episodes = collect(Walk, policy, 3, seeds=10, num_envs=2, progress=False)
    assert all(ep.action_space == DiscreteActions(3, start=-1) for ep in episodes)
    assert [ep.actions[:, 0].tolist() for ep in episodes] == [[0.0, 2.0, 0.0]] * 3  # action - start
    assert (0, 10) in policy.starts and (1, 11) in policy.starts and (0, 12) in policy.starts
    assert all("x" in info for info in policy.infos)  # every act saw the reset's or the last step's info
