"""``RandomAgent``: uniform random actions from the env's action space (the lower baseline)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from embodied.agents.base import Agent, batch_size

__all__ = ["RandomAgent"]


class RandomAgent(Agent):
    """Samples each sub-env's action uniformly from ``action_space`` (a single env's space), seeded."""

    name = "random"

    def __init__(self, action_space: spaces.Space[Any], seed: int = 0) -> None:
        super().__init__()
        self.action_space = action_space
        self.action_space.seed(seed)

    def _act(self, obs: dict[str, Any], info: dict[str, Any]) -> np.ndarray:
        return np.stack([np.asarray(self.action_space.sample()) for _ in range(batch_size(obs))])
