"""Push to zone: push the named object onto a coloured zone ("push the red cube onto the green zone").

The gripper cannot grasp in this task (its fingers still close), so the object has to be pushed; only
cubes and blocks are pushed, since spheres roll away and the tall cylinders tip over and roll. Layouts with a distractor
near the straight path from the object to the zone are re-drawn. Plan: ``push(red cube, green zone)``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from embodied.envs.tabletop.objects import COLOURS, ObjectSpec
from embodied.envs.tabletop.scene import TabletopScene
from embodied.envs.tabletop.tasks.base import Subgoal, Task, draw_pairs

PUSHABLE = ("cube", "block")
PATH_CLEARANCE = 0.08  # metres between a distractor's centre and the push path


class PushToZone(Task):
    name = "push"
    env_id = "embodied/PushToZone-v0"
    train_templates = (
        "push the {target} onto the {zone}",
        "slide the {target} into the {zone}",
        "shove the {target} over to the {zone}",
    )
    heldout_templates = (
        "nudge the {target} until it sits on the {zone}",
        "move the {target} to the {zone} by pushing it",
    )
    primitive = "push"
    verbs = frozenset({"push"})
    allow_grasp = False
    max_steps: ClassVar[dict[str, int]] = {"primitive": 4, "ee_delta": 100}

    def sample(self, rng: np.random.Generator, attribute_split: str) -> list[ObjectSpec]:
        chosen = draw_pairs(rng, attribute_split, 2, primary_shapes=PUSHABLE)
        colours = list(COLOURS)
        zone = colours[int(rng.integers(len(colours)))]
        self.bindings = {"target": " ".join(chosen[0]), "zone": f"{zone} zone"}
        return [ObjectSpec(c, s) for c, s in chosen] + [ObjectSpec(zone, "zone")]

    def subgoals(self) -> list[Subgoal]:
        return [("push", self.bindings["target"], self.bindings["zone"])]

    def layout_ok(self, scene: TabletopScene) -> bool:
        start = scene.position(self.bindings["target"])[:2]
        end = scene.position(self.bindings["zone"])[:2]
        seg = end - start
        for obj in scene.movable:
            if obj.name == self.bindings["target"]:
                continue
            p = scene.position(obj)[:2]
            t = float(np.clip(np.dot(p - start, seg) / np.dot(seg, seg), -0.5, 1.0))
            if np.linalg.norm(p - (start + t * seg)) < PATH_CLEARANCE:
                return False
        return True
