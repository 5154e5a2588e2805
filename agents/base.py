"""The ``Agent`` contract: batched decisions over the ``N`` sub-envs of a gymnasium vector env.

An agent sees what the vector env returns — ``obs`` batched per key (``images`` camera → ``[N, H, W, 3]`` uint8,
``state`` ``[N, S]`` float32, ``instruction`` a tuple of ``N`` strings, ``question`` for VQA envs) and ``info``
(batched dict; tabletop envs put ``camera_params`` there at reset) — and returns one action per sub-env:
``[N, A]`` float32 for Box action spaces, or a tuple of ``N`` strings for text actions (VQA envs).

Lifecycle: ``reset(num_envs, seeds)`` before a batch of episodes; ``act(obs, info)`` per step;
``episode_done(i)`` when sub-env ``i`` ends (agents that keep per-env state — action-chunk queues, plans — drop
it). ``decision_seconds`` records the wall-clock time of every ``act`` call (evaluation reports latency).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Agent"]


class Agent(ABC):
    """Base class of every agent; subclasses implement ``_act`` (and ``reset``/``episode_done`` if stateful)."""

    #: short name used in evaluation results and reports
    name: str = "agent"

    def __init__(self) -> None:
        self.decision_seconds: list[float] = []
        self.num_envs = 1

    def reset(self, num_envs: int = 1, seeds: Sequence[int | None] | None = None) -> None:
        """Start a new batch of ``num_envs`` episodes (``seeds`` are the env seeds, when known)."""
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs

    def act(self, obs: dict[str, Any], info: dict[str, Any] | None = None) -> Any:
        """One action per sub-env for the batched ``obs``; the call's wall-clock time is recorded."""
        start = time.perf_counter()
        action = self._act(obs, info or {})
        self.decision_seconds.append(time.perf_counter() - start)
        return action

    @abstractmethod
    def _act(self, obs: dict[str, Any], info: dict[str, Any]) -> Any:
        """The batched decision (see the module docstring for the formats)."""

    def episode_done(self, index: int) -> None:
        """Sub-env ``index`` finished its episode: forget any state kept for it (stateless agents keep none)."""
        return None


def batch_size(obs: dict[str, Any]) -> int:
    """``N`` of a batched observation (from ``state``, else the first image, else ``instruction``)."""
    if "state" in obs:
        return int(np.asarray(obs["state"]).shape[0])
    if obs.get("images"):
        return int(next(iter(obs["images"].values())).shape[0])
    return len(obs["instruction"])
