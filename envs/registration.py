"""Register every ``embodied/`` env id with gymnasium (string entry points, so nothing heavy is imported).

``REGISTRATIONS`` is the single list of ``(id, entry_point, kwargs)``; ``register_all()`` (called when
``embodied.envs`` is imported) registers each id not yet registered. Version suffixes are bumped whenever the
dynamics, reward or renderer of an id change, so a result names exactly what it was measured on.

Tabletop tasks take their options as ``gymnasium.make`` kwargs, e.g.
``gymnasium.make("embodied/PickPlace-v0", control="ee_delta", image_size=64)``; see
``embodied.envs.tabletop.env.TabletopEnv`` for all of them. Truncation happens inside the env (the step
limit depends on the control mode), so no ``max_episode_steps`` is set here.

``TASK_SPECS`` describes each tabletop id for catalogues (the test suite checks it against the task classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym

TABLETOP_ENTRY_POINT = "embodied.envs.tabletop.env:TabletopEnv"


@dataclass(frozen=True)
class TaskSpec:
    """What a catalogue needs to describe one registered tabletop id."""

    env_id: str
    task: str  # the ``task=`` argument of ``TabletopEnv``
    description: str
    control_modes: tuple[str, ...]
    example_instruction: str
    plan_verbs: tuple[str, ...]


_CONTROL = ("primitive", "ee_delta")
TASK_SPECS: dict[str, TaskSpec] = {
    s.env_id: s
    for s in (
        TaskSpec("embodied/Reach-v0", "reach", "touch the named object with the hand", _CONTROL,
                 "touch the red cube", ("touch",)),
        TaskSpec("embodied/PushToZone-v0", "push", "push the named object onto a coloured zone (no grasping)",
                 _CONTROL, "push the red cube onto the green zone", ("push",)),
        TaskSpec("embodied/PickPlace-v0", "pick_place", "put the named object into the named bowl", _CONTROL,
                 "put the red cube in the blue bowl", ("pick", "place")),
        TaskSpec("embodied/Stack-v0", "stack", "stack one object on top of another", _CONTROL,
                 "stack the red cube on the blue block", ("pick", "place")),
        TaskSpec("embodied/PutAll-v0", "put_all", "put every object of one colour into a bowl (2-3 objects)",
                 _CONTROL, "put all the red objects in the blue bowl", ("pick", "place")),
        TaskSpec("embodied/SortByColour-v0", "sort", "sort four objects into the bowls of their colours",
                 _CONTROL, "sort the objects by colour into the matching bowls", ("pick", "place")),
    )
}  # fmt: skip

REGISTRATIONS: list[tuple[str, str, dict[str, Any]]] = [
    (spec.env_id, TABLETOP_ENTRY_POINT, {"task": spec.task}) for spec in TASK_SPECS.values()
]
# Envs with their own class register beside the tasks:
REGISTRATIONS.append(("embodied/TabletopVQA-v0", "embodied.envs.tabletop.vqa_env:TabletopVQAEnv", {}))
ENV_IDS: tuple[str, ...] = tuple(env_id for env_id, _, _ in REGISTRATIONS)


def register_all() -> None:
    """Register every id in ``REGISTRATIONS`` that gymnasium does not know yet (safe to call repeatedly)."""
    for env_id, entry_point, kwargs in REGISTRATIONS:
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, kwargs=dict(kwargs))
