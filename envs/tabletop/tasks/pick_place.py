"""Pick and place: put the named object into the named bowl ("put the red cube in the blue bowl").

Scene: the target, two distractor objects, the target bowl and a distractor zone.
Plan: ``pick(red cube)``, ``place(blue bowl)``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from embodied.envs.tabletop.objects import COLOURS, ObjectSpec
from embodied.envs.tabletop.tasks.base import Subgoal, Task, draw_pairs


class PickPlace(Task):
    name = "pick_place"
    env_id = "embodied/PickPlace-v0"
    train_templates = (
        "put the {target} in the {receptacle}",
        "pick up the {target} and place it in the {receptacle}",
        "move the {target} into the {receptacle}",
        "place the {target} inside the {receptacle}.",
    )
    heldout_templates = (
        "drop the {target} into the {receptacle}",
        "the {target} belongs in the {receptacle}; put it there",
    )
    max_steps: ClassVar[dict[str, int]] = {"primitive": 3, "ee_delta": 80}

    def sample(self, rng: np.random.Generator, attribute_split: str) -> list[ObjectSpec]:
        chosen = draw_pairs(rng, attribute_split, 3)
        bowl, zone = (str(c) for c in rng.choice(list(COLOURS), size=2, replace=False))
        self.bindings = {"target": " ".join(chosen[0]), "receptacle": f"{bowl} bowl"}
        return [ObjectSpec(c, s) for c, s in chosen] + [ObjectSpec(bowl, "bowl"), ObjectSpec(zone, "zone")]

    def subgoals(self) -> list[Subgoal]:
        return [("place", self.bindings["target"], self.bindings["receptacle"])]
