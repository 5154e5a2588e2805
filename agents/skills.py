"""Privileged skills for plan steps: a plan step's objects → one ``primitive`` action, read from the simulator.

As in SayCan (Ahn et al., "Do As I Can, Not As I Say", 2022), the language model chooses *which* skill to run and
a low-level skill carries it out; here the skills are exact, reading object poses from the tabletop simulator
(the scripted expert's geometry: grasp point and yaw of the object, release height above the target's surface,
a free corner of a shared bowl, a push stroke from behind the object toward the zone). A plan's steps map to
skills — and one skill is one ``primitive`` env action:

- ``pick(o)`` followed by ``place(t)`` → ``pick-place`` (the primitive grasps, carries and releases in one go);
- ``touch(o)`` → ``touch``; ``push(o, zone)`` → ``push``.

A step that no skill can run — a ``pick`` without its ``place``, a ``place`` with nothing picked, a name the
scene does not hold — gives ``None``: the planner treats it as a failed step and re-plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from embodied.envs.tabletop.control import encode_primitive
from embodied.envs.tabletop.experts import (
    DROP,
    PUSH_HEIGHT,
    grasp_point,
    grasp_yaw,
    push_geometry,
    surface_height,
    target_xy,
)
from embodied.envs.tabletop.plans import PlanStep

__all__ = ["IDLE_ACTION", "Skill", "next_skill", "skill_action"]

#: a harmless primitive (grasp in mid-air above the workspace centre; the expert's action once a task is done)
IDLE_ACTION = encode_primitive(np.array([0.45, 0.0, 0.2, 0.45, 0.0, 0.2, 0.0]))


@dataclass(frozen=True)
class Skill:
    """``verb`` ("pick-place", "touch", "push"), its item names, and how many plan steps it covers."""

    verb: str
    args: tuple[str, ...]
    steps: int


def next_skill(steps: list[PlanStep], start: int) -> Skill | None:
    """The skill that runs plan steps ``start, ...``; ``None`` when no skill can (see the module docstring)."""
    if start >= len(steps):
        return None
    step = steps[start]
    if step.verb in ("touch", "push"):
        return Skill(step.verb, step.args, 1)
    if step.verb == "pick" and start + 1 < len(steps) and steps[start + 1].verb == "place":
        return Skill("pick-place", (step.args[0], steps[start + 1].args[0]), 2)
    return None


def skill_action(env: Any, skill: Skill) -> np.ndarray | None:
    """The normalised ``primitive`` action ``[7]`` running ``skill`` in a tabletop env (``env.unwrapped``), or
    ``None`` when an item it names is not in the scene."""
    scene, task = env.scene, env.task
    names = {o.name for o in scene.movable} | {r.name for r in scene.receptacles}
    if any(arg not in names for arg in skill.args):
        return None
    obj = scene.get(skill.args[0])
    th = scene.table_height
    if skill.verb == "push":
        u, centre, r = push_geometry(scene, obj, scene.get(skill.args[1]))
        start = scene.position(obj)[:2] - u * (r + 0.03)
        end = centre - u * (0.01 + 0.8 * r)
        yaw = float((np.arctan2(u[1], u[0]) + np.pi / 2) % np.pi - np.pi / 2)
        return encode_primitive(np.array([*start, PUSH_HEIGHT, *end, PUSH_HEIGHT, yaw]))
    pick = grasp_point(scene, obj)
    if skill.verb == "touch":  # the closed hand touches down 1 cm into the object's top
        pick[2] = max(pick[2], scene.aabb(obj)[1][2] - 0.01)
        place = pick.copy()
    else:
        target = scene.get(skill.args[1])
        z = surface_height(scene, target) + (pick[2] - scene.aabb(obj)[0][2]) + DROP
        place = np.array([*target_xy(scene, task, obj, target), z])
    lift = np.array([0.0, 0.0, th])
    return encode_primitive(np.array([*(pick - lift), *(place - lift), grasp_yaw(scene, obj)]))
