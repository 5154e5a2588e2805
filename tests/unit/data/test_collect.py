"""collect() on a toy env whose observations count steps: exact frames, seeds, extras and autoreset handling."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import SyncVectorEnv, VectorEnv

from embodied.data import VQAPair, collect
from embodied.data.collect import Annotators


class Counter(gym.Env[dict[str, Any], np.ndarray]):
    """Episode length 1 + seed % 3; state = [seed, t]; image filled with t; success iff the seed is even."""

    metadata = {"render_modes": [], "render_fps": 10}  # noqa: RUF012

    def __init__(self) -> None:
        self.observation_space = spaces.Dict(
            {
                "images": spaces.Dict({"cam": spaces.Box(0, 255, (4, 4, 3), np.uint8)}),
                "state": spaces.Box(-np.inf, np.inf, (2,), np.float32),
                "instruction": spaces.Text(32),
            }
        )
        self.action_space = spaces.Box(-1, 1, (1,), np.float32)
        self.seed_value, self.t, self.resets = -1, 0, 0

    def _obs(self) -> dict[str, Any]:
        images = {"cam": np.full((4, 4, 3), self.t, np.uint8)}
        return {"images": images, "state": np.array([self.seed_value, self.t], np.float32), "instruction": "count"}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict]:
        super().reset(seed=seed)
        self.seed_value, self.t = (seed if seed is not None else -1), 0
        self.resets += 1
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        self.t += 1
        done = self.t >= 1 + self.seed_value % 3
        return self._obs(), float(done), done, False, {"success": done and self.seed_value % 2 == 0}


def policy(obs: dict[str, Any], env: gym.Env[Any, Any]) -> np.ndarray:
    return np.array([obs["state"][1] / 10], np.float32)


def test_frames_seeds_and_extras_are_exact() -> None:
    seeds = [10, 11, 12, 13, 14]
    annotators = Annotators(
        plan=lambda env: f"count to {1 + env.unwrapped.seed_value % 3}",
        vqa=lambda env: [("what seed?", str(env.unwrapped.seed_value), "seed")],
        captions=lambda env: [f"counter {env.unwrapped.seed_value}"],
    )
    episodes = collect(Counter, policy, 5, seeds, num_envs=2, annotators=annotators, progress=False)
    assert [ep.seed for ep in episodes] == seeds
    for ep, seed in zip(episodes, seeds, strict=True):
        length = 1 + seed % 3
        assert len(ep) == length  # the autoreset step after each done never became a frame
        np.testing.assert_array_equal(ep.state, np.stack([np.full(length, seed), np.arange(length)], 1))
        np.testing.assert_array_equal(ep.images["cam"][:, 0, 0, 0], np.arange(length))
        np.testing.assert_allclose(ep.actions[:, 0], np.arange(length) / 10)
        assert ep.dones is not None and ep.dones.tolist() == [False] * (length - 1) + [True]
        assert ep.rewards is not None and ep.rewards.tolist() == [0.0] * (length - 1) + [1.0]
        assert ep.success == (seed % 2 == 0) and ep.task == "count"
        assert ep.plan == f"count to {length}" and ep.vqa == [VQAPair("what seed?", str(seed), "seed")]
        assert ep.captions == [f"counter {seed}"]


def test_given_vector_env_is_used_and_left_open() -> None:
    envs = SyncVectorEnv([Counter, Counter, Counter])
    episodes = collect(envs, policy, 2, seeds=7, progress=False)
    assert [ep.seed for ep in episodes] == [7, 8] and [len(ep) for ep in episodes] == [2, 3]
    obs, _ = envs.reset(seed=0)  # still usable: collect does not close envs it did not make
    assert obs["state"].shape == (3, 2)
    envs.close()


def test_unseeded_collection_and_default_extras() -> None:
    episodes = collect(Counter, policy, 3, num_envs=1, progress=False)
    assert [len(ep) for ep in episodes] == [3, 3, 3]  # seed None → seed_value -1 → 1 + (-1 % 3) = 3 frames
    assert all(ep.seed is None and ep.plan is None and ep.vqa == [] for ep in episodes)


class RemoteEnvs(VectorEnv):  # type: ignore[type-arg]
    """Stands in for AsyncVectorEnv: a vector env whose sub-envs live out of process."""


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        collect(Counter, policy, 0)
    with pytest.raises(ValueError, match="2 seeds given for 3 episodes"):
        collect(Counter, policy, 3, [1, 2])
    with pytest.raises(TypeError, match="got RemoteEnvs, pass a SyncVectorEnv"):
        collect(RemoteEnvs(), policy, 1)
    with pytest.raises(ValueError, match="no 'goal' entry"):
        collect(Counter, policy, 1, task_key="goal", progress=False)
