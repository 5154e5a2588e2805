"""Registration metadata (``TASK_SPECS``, ``ENV_IDS``) agrees with the task classes it describes."""

from __future__ import annotations

import re

import gymnasium as gym

import embodied.envs
from embodied.envs.tabletop.tasks import TASKS


def test_task_specs_match_the_task_classes() -> None:
    assert {spec.task for spec in embodied.envs.TASK_SPECS.values()} == set(TASKS)
    for env_id, spec in embodied.envs.TASK_SPECS.items():
        cls = TASKS[spec.task]
        assert cls.env_id == env_id
        assert set(spec.plan_verbs) == set(cls.verbs)
        assert set(spec.control_modes) == set(cls.max_steps)
        patterns = [re.sub(r"\\\{\w+\\\}", r"[a-z ]+", re.escape(t)) for t in cls.train_templates]
        assert any(re.fullmatch(p, spec.example_instruction) for p in patterns), spec.example_instruction
        assert gym.spec(env_id).kwargs["task"] == spec.task
        assert env_id in embodied.envs.ENV_IDS
