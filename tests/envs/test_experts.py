"""Scripted experts succeed on every task in both control modes, with valid executed plans.

The fast lane runs one seed per task × mode; the slow lane five more. The 100-seed figures come from
``scripts/expert_success.py``.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import embodied.envs
from embodied.envs.tabletop.env import TabletopEnv

CELLS = [(env_id, control) for env_id in embodied.envs.TASK_SPECS for control in ("primitive", "ee_delta")]


def _success_and_valid_plan(env_id: str, control: str, seeds: range) -> list[tuple[bool, bool]]:
    env = gym.make(env_id, control=control, cameras=())
    raw = env.unwrapped
    assert isinstance(raw, TabletopEnv)
    out = []
    try:
        for seed in seeds:
            env.reset(seed=seed)
            terminated = truncated = False
            while not (terminated or truncated):
                action = raw.expert_action()
                assert action in env.action_space
                _, reward, terminated, truncated, info = env.step(action)
            assert info["success"] == terminated and reward == float(terminated)
            out.append((terminated, raw.check_plan(raw.executed_steps).valid))
    finally:
        env.close()
    return out


@pytest.mark.parametrize(("env_id", "control"), CELLS)
def test_expert_succeeds_on_one_seed(env_id: str, control: str) -> None:
    assert _success_and_valid_plan(env_id, control, range(1)) == [(True, True)]


@pytest.mark.slow
@pytest.mark.parametrize(("env_id", "control"), CELLS)
def test_expert_succeeds_on_five_more_seeds(env_id: str, control: str) -> None:
    assert _success_and_valid_plan(env_id, control, range(1, 6)) == [(True, True)] * 5
