"""One file per task; ``TASKS`` maps a task name to its class (the env's ``task=`` argument)."""

from __future__ import annotations

from embodied.envs.tabletop.tasks.base import Task
from embodied.envs.tabletop.tasks.pick_place import PickPlace
from embodied.envs.tabletop.tasks.push import PushToZone
from embodied.envs.tabletop.tasks.put_all import PutAll
from embodied.envs.tabletop.tasks.reach import Reach
from embodied.envs.tabletop.tasks.sort import SortByColour
from embodied.envs.tabletop.tasks.stack import Stack

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (Reach, PushToZone, PickPlace, Stack, PutAll, SortByColour)}

__all__ = ["TASKS", "PickPlace", "PushToZone", "PutAll", "Reach", "SortByColour", "Stack", "Task"]
