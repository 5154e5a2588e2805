"""Sort by colour: put every object into the bowl of its own colour (long horizon: four pick-and-places).

Two colours, two objects of each (distinct shapes) and one bowl per colour. Plan: ``pick(o), place(<colour of
o> bowl)`` for every object, in any order.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from embodied.envs.tabletop.objects import ObjectSpec
from embodied.envs.tabletop.splits import pairs
from embodied.envs.tabletop.tasks.base import Subgoal, Task

PER_COLOUR = 2


class SortByColour(Task):
    name = "sort"
    env_id = "embodied/SortByColour-v0"
    train_templates = (
        "sort the objects by colour into the matching bowls",
        "put each object in the bowl of the same colour",
        "place every object into the bowl that matches its colour",
    )
    heldout_templates = (
        "tidy up: each object goes to the bowl with its colour",
        "group the objects by colour, using the bowls.",
    )
    max_steps: ClassVar[dict[str, int]] = {"primitive": 7, "ee_delta": 250}

    def sample(self, rng: np.random.Generator, attribute_split: str) -> list[ObjectSpec]:
        primary_pool = pairs(attribute_split)
        primary = primary_pool[int(rng.integers(len(primary_pool)))]
        other_colours = sorted({c for c, _ in pairs("train")} - {primary[0]})
        second = other_colours[int(rng.integers(len(other_colours)))]
        objects = [primary]
        for colour, n in ((primary[0], PER_COLOUR - 1), (second, PER_COLOUR)):
            pool = [p for p in pairs("train", colours=[colour]) if p not in objects]
            objects += [pool[int(i)] for i in rng.choice(len(pool), size=n, replace=False)]
        self.objects = [" ".join(p) for p in objects]
        self.bindings = {"colours": f"{primary[0]} and {second}"}
        bowls = [ObjectSpec(primary[0], "bowl"), ObjectSpec(second, "bowl")]
        return [ObjectSpec(*p) for p in objects] + bowls

    def subgoals(self) -> list[Subgoal]:
        return [("place", o, f"{o.split()[0]} bowl") for o in self.objects]
