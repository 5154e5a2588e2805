"""gymnasium's ``check_env`` passes with zero warnings for every registered tabletop id and control mode."""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import embodied.envs


@pytest.mark.parametrize("control", ["primitive", "ee_delta"])
@pytest.mark.parametrize("env_id", sorted(embodied.envs.TASK_SPECS))
def test_check_env_without_warnings(env_id: str, control: str) -> None:
    env = gym.make(env_id, control=control, image_size=32)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)
    finally:
        env.close()
    assert [str(w.message) for w in caught] == []


def test_every_registered_id_is_made_by_gymnasium() -> None:
    for env_id in embodied.envs.ENV_IDS:
        assert env_id.startswith("embodied/") and env_id.rsplit("-v", 1)[1].isdigit()
        assert env_id in gym.registry
