"""Simulated worlds for ``embodied`` (gymnasium + pybullet + numpy only; never torch or the core library).

Importing this package registers every ``embodied/`` id with gymnasium (string entry points: pybullet loads
on first ``gymnasium.make``). ``ENV_IDS`` lists them; ``TASK_SPECS`` describes the tabletop tasks.
``register_adapted`` adds a third-party env under its own id (see ``embodied.envs.adapted``);
``resolve_env_id`` / ``is_registered`` understand gymnasium's ``module:Id`` form.
"""

from embodied.envs.adapted import is_registered, register_adapted, resolve_env_id
from embodied.envs.registration import ENV_IDS, TASK_SPECS, TaskSpec, register_all

register_all()

__all__ = ["ENV_IDS", "TASK_SPECS", "TaskSpec", "is_registered", "register_adapted", "register_all", "resolve_env_id"]
