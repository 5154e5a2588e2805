"""``ScriptedAgent``: the tabletop envs' scripted experts behind the ``Agent`` contract (the upper baseline).

The experts read the simulator's privileged state, so the agent holds the vector env and asks each sub-env for
``expert_action()`` (``VectorEnv.call`` works for sync and async vector envs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import VectorEnv

from embodied.agents.base import Agent

__all__ = ["ScriptedAgent"]


class ScriptedAgent(Agent):
    """Acts with every sub-env's scripted expert (privileged: it reads the simulator, not the observation)."""

    name = "scripted"

    def __init__(self, envs: VectorEnv) -> None:
        super().__init__()
        self.envs = envs

    def _act(self, obs: dict[str, Any], info: dict[str, Any]) -> np.ndarray:
        # VectorEnv.call exists on SyncVectorEnv and AsyncVectorEnv (the base class does not declare it)
        actions = self.envs.call("expert_action")  # type: ignore[attr-defined]
        return np.stack([np.asarray(a, np.float32) for a in actions])
