"""Put all: put every object of one colour into a bowl ("put all the red objects in the blue bowl").

Multi-step: two or three objects of the named colour (distinct shapes), one distractor of another colour,
one bowl. Plan: ``pick(o), place(bowl)`` for each object of the colour, in any order.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from embodied.envs.tabletop.objects import COLOURS, ObjectSpec
from embodied.envs.tabletop.splits import pairs
from embodied.envs.tabletop.tasks.base import Subgoal, Task

BOWL_SIZE = 0.17  # inner side (m): room for three objects side by side


class PutAll(Task):
    name = "put_all"
    env_id = "embodied/PutAll-v0"
    train_templates = (
        "put all the {colour} objects in the {receptacle}",
        "move every {colour} object into the {receptacle}",
        "place each {colour} item inside the {receptacle}",
    )
    heldout_templates = (
        "gather the {colour} things into the {receptacle}",
        "collect all {colour} objects in the {receptacle}.",
    )
    max_steps: ClassVar[dict[str, int]] = {"primitive": 6, "ee_delta": 200}

    def sample(self, rng: np.random.Generator, attribute_split: str) -> list[ObjectSpec]:
        n_targets = int(rng.integers(2, 4))
        primary_pool = pairs(attribute_split)
        primary = primary_pool[int(rng.integers(len(primary_pool)))]
        colour = primary[0]
        same = [p for p in pairs("train", colours=[colour]) if p != primary]
        targets = [primary] + [same[int(i)] for i in rng.choice(len(same), size=n_targets - 1, replace=False)]
        others = pairs("train", colours=[c for c in COLOURS if c != colour])
        distractor = others[int(rng.integers(len(others)))]
        bowl = str(rng.choice(list(COLOURS)))
        self.targets = [" ".join(p) for p in targets]
        self.bindings = {"colour": colour, "receptacle": f"{bowl} bowl"}
        return [ObjectSpec(*p) for p in targets] + [ObjectSpec(*distractor), ObjectSpec(bowl, "bowl", BOWL_SIZE)]

    def subgoals(self) -> list[Subgoal]:
        return [("place", t, self.bindings["receptacle"]) for t in self.targets]
