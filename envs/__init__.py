"""Simulated worlds for ``embodied`` (gymnasium + pybullet + numpy only; never torch or the core library).

Importing this package registers every ``embodied/`` id with gymnasium (string entry points: pybullet loads
on first ``gymnasium.make``). ``ENV_IDS`` lists them; ``TASK_SPECS`` describes the tabletop tasks.
"""

from embodied.envs.registration import ENV_IDS, TASK_SPECS, TaskSpec, register_all

register_all()

__all__ = ["ENV_IDS", "TASK_SPECS", "TaskSpec", "register_all"]
