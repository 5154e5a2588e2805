"""User policies for ``embodied collect --policy`` (issue 14), on MiniGrid's Empty-5x5 with ``Discrete(7)`` actions.

``tests.byo_policies:byo/GridDiscrete-v0`` is the ``byo/Grid-v0`` env of ``tests.byo_envs`` with the adapter's
default ``discrete_mode="discrete"``: actions stay indices and datasets store them as int64.

- ``GridBot``: walks to the goal from MiniGrid's OWN egocentric observation (``obs["image"]``, 7×7 cells
  ``[x, y]``, the agent at ``(3, 6)`` facing up in the view) and answers in MiniGrid's own action space
  (0 left, 1 right, 2 forward); ``reset(seed)`` seeds its tie-breaking, so episodes are reproducible;
- ``WrongBot``: answers 9, outside ``Discrete(7)``; ``NOT_CALLABLE``, ``NoAct``: broken factories.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from minigrid.core.constants import OBJECT_TO_IDX

from embodied.envs import register_adapted
from tests.byo_envs import FORWARD, LEFT, RIGHT, ExpertEmptyEnv

GRID_DISCRETE = "tests.byo_policies:byo/GridDiscrete-v0"
_AGENT = (3, 6)  # the agent's cell in MiniGrid's egocentric 7×7 view


class GridBot:
    """Turn until the goal is in view, walk until it is beside or ahead, turn to it, walk in."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.steps = 0

    def reset(self, seed: int | None) -> None:
        self.rng = np.random.default_rng(seed)
        self.steps = 0

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        self.steps += 1
        cells = np.argwhere(obs["image"][:, :, 0] == OBJECT_TO_IDX["goal"])
        if len(cells) == 0:
            return int(self.rng.choice([LEFT, RIGHT]))  # not in view: look around
        x, y = (int(v) for v in cells[0])
        ahead, lateral = _AGENT[1] - y, x - _AGENT[0]
        if lateral == 0 or ahead > 0:
            return FORWARD
        return LEFT if lateral < 0 else RIGHT


class WrongBot(GridBot):
    """Answers an action outside MiniGrid's ``Discrete(7)``."""

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        return 9


class NoAct:
    """A factory result without ``act``."""

    def reset(self, seed: int | None) -> None:
        return None


NOT_CALLABLE = 3

register_adapted("byo/GridDiscrete-v0", ExpertEmptyEnv, max_episode_steps=60, success="reward>0", image_size=32)
