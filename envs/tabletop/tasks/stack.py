"""Stack: put the named object on top of another ("stack the red cube on the blue block").

Only flat-sided shapes take part: the top is a cube, cylinder or block, the base a cube or block (wide
enough to hold anything). One distractor object. Plan: ``pick(red cube)``, ``place(blue block)`` — the
reverse order stacks the wrong way and is invalid.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from embodied.envs.tabletop.objects import SHAPES, ObjectSpec
from embodied.envs.tabletop.splits import pairs
from embodied.envs.tabletop.tasks.base import Subgoal, Task, draw_pairs

TOP_SHAPES = ("cube", "cylinder", "block")
BASE_SHAPES = ("cube", "block")


class Stack(Task):
    name = "stack"
    env_id = "embodied/Stack-v0"
    train_templates = (
        "stack the {top} on the {base}",
        "put the {top} on top of the {base}",
        "place the {top} onto the {base}",
    )
    heldout_templates = ("build a tower with the {top} above the {base}", "set the {top} down on the {base}.")
    max_steps: ClassVar[dict[str, int]] = {"primitive": 3, "ee_delta": 80}

    def sample(self, rng: np.random.Generator, attribute_split: str) -> list[ObjectSpec]:
        top = draw_pairs(rng, attribute_split, 1, primary_shapes=TOP_SHAPES)[0]
        base_pool = [p for p in pairs("train", shapes=BASE_SHAPES) if p[0] != top[0]]
        base = base_pool[int(rng.integers(len(base_pool)))]
        others = [p for p in pairs("train", shapes=SHAPES) if p not in (top, base)]
        distractor = others[int(rng.integers(len(others)))]
        self.bindings = {"top": " ".join(top), "base": " ".join(base)}
        return [ObjectSpec(*top), ObjectSpec(*base), ObjectSpec(*distractor)]

    def subgoals(self) -> list[Subgoal]:
        return [("place", self.bindings["top"], self.bindings["base"])]
