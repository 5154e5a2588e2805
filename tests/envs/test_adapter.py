"""GymAdapter: third-party gymnasium envs in the ``embodied`` observation format with normalised actions."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from embodied.envs.wrappers.action_mapping import ActionMapping
from embodied.envs.wrappers.adapter import GymAdapter
from embodied.envs.wrappers.resize import resize_image
from embodied.envs.wrappers.text import TEXT_CHARSET


class MissionGrid(gym.Env[dict[str, Any], int]):
    """A MiniGrid-like third-party env: image + mission observation, optional rgb_array render.

    The agent cell is drawn white in a 6×8 grid of 4-px cells; actions 0/1/2/3 move it right/left/down/up.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(0, 255, (24, 32, 3), dtype=np.uint8),
                "direction": spaces.Discrete(4),
                "mission": spaces.Text(64, charset=TEXT_CHARSET + "é\n"),
            }
        )
        self.action_space = spaces.Discrete(4)
        self._pos = np.zeros(2, dtype=np.int64)
        self._dir = 0

    def _image(self, scale: int) -> np.ndarray:
        img = np.zeros((6 * scale, 8 * scale, 3), dtype=np.uint8)
        r, c = self._pos
        img[r * scale : (r + 1) * scale, c * scale : (c + 1) * scale] = 255
        return img

    def _obs(self) -> dict[str, Any]:
        return {"image": self._image(4), "direction": self._dir, "mission": "go to the\ncorner, café"}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._pos = self.np_random.integers(0, (6, 8)).astype(np.int64)
        self._dir = 0
        return self._obs(), {}

    def step(self, action: int):
        moves = {0: (0, 1), 1: (0, -1), 2: (1, 0), 3: (-1, 0)}
        self._pos = np.clip(self._pos + np.array(moves[int(action)]), 0, (5, 7))
        self._dir = int(action)
        done = bool(self._pos[0] == 5 and self._pos[1] == 7)
        return self._obs(), float(done), done, False, {}

    def render(self) -> np.ndarray:
        return self._image(10)  # 60×80, a different size from the observation image


def _checker_warnings(env: gym.Env) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    # check_env always notes that a wrapped env is not its unwrapped version; that one is expected here.
    return [str(w.message) for w in caught if "different from the unwrapped version" not in str(w.message)]


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "FrozenLake-v1"])
def test_adapter_passes_env_checker_without_new_warnings(env_id: str) -> None:
    assert _checker_warnings(GymAdapter(gym.make(env_id), instruction="do it")) == []


def test_cartpole_end_to_end_state_only() -> None:
    """Classic-control renderers need pygame (not installed), so CartPole is adapted state-only."""
    env = GymAdapter(gym.make("CartPole-v1"), instruction="keep the pole upright")
    raw = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=3)
    raw_obs, _ = raw.reset(seed=3)
    assert set(obs) == {"state", "instruction"} and not env.has_images
    assert obs["instruction"] == "keep the pole upright"
    np.testing.assert_array_equal(obs["state"], raw_obs)
    assert env.action_space == spaces.Discrete(2)
    steps = 0
    for t in range(500):
        action = t % 2
        obs, reward, terminated, truncated, _ = env.step(action)
        raw_obs, raw_reward, raw_term, raw_trunc, _ = raw.step(action)
        np.testing.assert_array_equal(obs["state"], raw_obs)  # Discrete passes through unchanged
        assert (reward, terminated, truncated) == (raw_reward, raw_term, raw_trunc)
        assert obs in env.observation_space
        steps += 1
        if terminated or truncated:
            break
    assert 0 < steps < 500 and terminated


def test_pendulum_box_actions_are_rescaled_from_unit_range() -> None:
    env = GymAdapter(gym.make("Pendulum-v1"))
    assert env.action_space == spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    mapping = env.action_mapping
    np.testing.assert_allclose(mapping.decode(np.array([-1.0])), [-2.0])
    np.testing.assert_allclose(mapping.decode(np.array([0.5])), [1.0])
    np.testing.assert_allclose(mapping.decode(np.array([3.0])), [2.0])  # clipped to the unit range first
    raw = gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=0)
    raw.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.uniform(-1, 1, size=1).astype(np.float32)
        obs, reward, *_ = env.step(a)
        raw_obs, raw_reward, *_ = raw.step(np.float32(2.0) * a)  # torque = 2 · a for bounds [-2, 2]
        np.testing.assert_allclose(obs["state"], raw_obs, rtol=1e-6)
        assert reward == pytest.approx(raw_reward)
        assert obs["state"].dtype == np.float32 and obs in env.observation_space


def test_box_mapping_round_trip() -> None:
    mapping = ActionMapping(
        spaces.Box(np.array([-2, 0, 10], np.float32), np.array([2, 1, 30], np.float32), dtype=np.float32)
    )
    rng = np.random.default_rng(1)
    for _ in range(50):
        env_action = rng.uniform([-2, 0, 10], [2, 1, 30]).astype(np.float32)
        normalised = mapping.encode(env_action)
        assert normalised in mapping.space
        np.testing.assert_allclose(mapping.decode(normalised), env_action, rtol=1e-5, atol=1e-5)


def test_discrete_bins_round_trip_and_edges() -> None:
    mapping = ActionMapping(spaces.Discrete(5, start=2), discrete_mode="bins")
    assert mapping.space == spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    for k in range(2, 7):
        assert mapping.decode(mapping.encode(k)) == k
    assert mapping.decode(np.array([-1.0])) == 2 and mapping.decode(np.array([1.0])) == 6
    assert mapping.decode(np.array([-0.61])) == 2 and mapping.decode(np.array([-0.59])) == 3  # bins of width 0.4


def test_unsupported_and_unbounded_action_spaces_are_rejected() -> None:
    with pytest.raises(TypeError, match="not supported"):
        ActionMapping(spaces.MultiBinary(3))
    with pytest.raises(ValueError, match="infinite bounds"):
        ActionMapping(spaces.Box(-np.inf, np.inf, (2,)))


def test_image_and_mission_from_observation() -> None:
    env = GymAdapter(MissionGrid(), image_size=12, resize="nearest")
    obs, _ = env.reset(seed=5)
    inner = env.unwrapped._obs()
    assert set(obs) == {"images", "state", "instruction"}
    frame = obs["images"]["front"]
    assert frame.shape == (12, 12, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame, resize_image(inner["image"], (12, 12), "nearest"))
    assert obs["instruction"] == "go to the corner, caf"  # newline → space, "é" is outside the charset
    np.testing.assert_array_equal(obs["state"], [1, 0, 0, 0])  # direction 0 one-hot
    obs, *_ = env.step(2)
    np.testing.assert_array_equal(obs["state"], [0, 0, 1, 0])
    assert _checker_warnings(GymAdapter(MissionGrid(), image_size=12)) == []


def test_image_from_render_when_observation_has_none() -> None:
    env = GymAdapter(MissionGrid(render_mode="rgb_array"), image_source="render", camera="top", image_size=(6, 8))
    obs, _ = env.reset(seed=0)
    frame = obs["images"]["top"]
    # The 60×80 render averaged over 10×10 cells is exactly the grid: 255 in the agent cell, 0 elsewhere.
    r, c = env.unwrapped._pos
    expected = np.zeros((6, 8, 3), dtype=np.uint8)
    expected[r, c] = 255
    np.testing.assert_array_equal(frame, expected)
    assert obs["state"].shape == (4,)  # the observation image is not state; direction still is
    with pytest.raises(ValueError, match="render_mode"):
        GymAdapter(MissionGrid(), image_source="render")


def test_resize_area_averages_and_nearest_picks() -> None:
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    area = resize_image(image, (2, 3), "area")
    expected = image.reshape(2, 2, 3, 2, 3).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_array_equal(area, np.rint(expected).astype(np.uint8))
    nearest = resize_image(image, (2, 3), "nearest")
    np.testing.assert_array_equal(nearest, image[[1, 3]][:, [1, 3, 5]])
    grey = resize_image(np.full((5, 5), 7, dtype=np.uint8), (10, 10), "area")
    assert grey.shape == (10, 10, 3) and np.all(grey == 7)


def test_history_adds_the_previous_frames_as_cameras() -> None:
    env = GymAdapter(MissionGrid(), image_size=(6, 8), resize="nearest", history=3)
    assert env.cameras == ["front", "front-1", "front-2"]
    assert set(env.observation_space["images"].spaces) == {"front", "front-1", "front-2"}
    first, _ = env.reset(seed=0)
    frames = [first["images"]["front"]]
    assert all(np.array_equal(first["images"][c], frames[0]) for c in env.cameras)  # the first frame repeated
    for action in (0, 2, 0):
        obs, *_ = env.step(action)
        assert obs in env.observation_space
        np.testing.assert_array_equal(obs["images"]["front-1"], frames[-1])
        np.testing.assert_array_equal(obs["images"]["front-2"], frames[-2] if len(frames) > 1 else frames[-1])
        frames.append(obs["images"]["front"])
    assert not np.array_equal(frames[0], frames[-1])  # the agent moved: the history is not a constant
    again, _ = env.reset(seed=1)
    assert all(np.array_equal(again["images"][c], again["images"]["front"]) for c in env.cameras)  # reset clears


def test_history_needs_an_image_and_a_positive_length() -> None:
    with pytest.raises(ValueError, match="history must be an int >= 1"):
        GymAdapter(MissionGrid(), history=0)
    with pytest.raises(ValueError, match="stacks camera frames, but this env gives no image"):
        GymAdapter(gym.make("CartPole-v1"), history=2)
