"""Reach: touch the named object with the hand ("touch the red cube"). Plan: ``touch(red cube)``."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from embodied.envs.tabletop.objects import COLOURS, RECEPTACLES, ObjectSpec
from embodied.envs.tabletop.tasks.base import Subgoal, Task, draw_pairs


class Reach(Task):
    """One target, two distractor objects and one distractor receptacle; success on the first hand contact."""

    name = "reach"
    env_id = "embodied/Reach-v0"
    train_templates = (
        "touch the {target}",
        "reach out and touch the {target}",
        "put your gripper on the {target}",
        "tap the {target}.",
    )
    heldout_templates = ("make contact with the {target}", "go and poke the {target}!")
    primitive = "touch"
    verbs = frozenset({"touch"})
    allow_grasp = False  # touching is the whole task; a grasp would only get in the way
    max_steps: ClassVar[dict[str, int]] = {"primitive": 3, "ee_delta": 40}

    def sample(self, rng: np.random.Generator, attribute_split: str) -> list[ObjectSpec]:
        chosen = draw_pairs(rng, attribute_split, 3)
        colours = list(COLOURS)
        receptacle = ObjectSpec(colours[int(rng.integers(len(colours)))], RECEPTACLES[int(rng.integers(2))])
        self.bindings = {"target": " ".join(chosen[0])}
        return [ObjectSpec(c, s) for c, s in chosen] + [receptacle]

    def subgoals(self) -> list[Subgoal]:
        return [("touch", self.bindings["target"], "")]
