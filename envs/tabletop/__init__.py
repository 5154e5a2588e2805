"""Tabletop worlds: a Franka Panda, a table, coloured objects and receptacles, and the tasks set on them.

Importing this package imports pybullet once with its C-level build banner silenced (see ``quiet``).
"""

from embodied.envs.tabletop.quiet import silence_stdout

with silence_stdout(include_stderr=True):
    import pybullet  # noqa: F401  (imported here so its banner is printed, silenced, exactly once)
