"""Discrete action spaces of a dataset: actions stored as integer indices, their space in ``meta/info.json``.

An env whose (adapted) action space is ``Discrete(n, start)`` records episodes with ``Episode.action_space =
DiscreteActions(n, start)`` and ``Episode.actions [T, 1]`` holding the *index* ``a - start`` in ``0 .. n-1``
(float32 in memory: exact for any index below 2**24). The writer stores the ``action`` feature as LeRobot stores a
shape-``[1]`` feature — a plain ``int64`` column (``datasets.Value("int64")``) — and records the space in the
feature's ``info``::

    "action": {"dtype": "int64", "shape": [1], "names": null,
               "info": {"action_space": "discrete", "n": 7, "start": 0}}

LeRobot ignores ``info`` on non-video features, so it loads such a dataset as any other int64 feature. Models
decode indices exactly with an ``action-tokens`` head of ``bins: n`` and ``model.discrete_actions: n``
(``embodied.config.model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DiscreteActions"]

_KIND = "discrete"


@dataclass(frozen=True)
class DiscreteActions:
    """``Discrete(n, start)``: index ``i`` in ``0 .. n-1`` is the env action ``start + i``."""

    n: int
    start: int = 0

    def __post_init__(self) -> None:
        if int(self.n) < 1:
            raise ValueError(f"a discrete action space needs n >= 1, got {self.n}")
        object.__setattr__(self, "n", int(self.n))
        object.__setattr__(self, "start", int(self.start))

    def feature_info(self) -> dict[str, Any]:
        """The ``info`` of the ``action`` feature in ``meta/info.json``."""
        return {"action_space": _KIND, "n": self.n, "start": self.start}

    @classmethod
    def from_feature(cls, feature: dict[str, Any]) -> DiscreteActions | None:
        """The space recorded in an ``action`` feature, or None for continuous actions."""
        info = feature.get("info") or {}
        if not isinstance(info, dict) or info.get("action_space") != _KIND:
            return None
        return cls(int(info["n"]), int(info.get("start", 0)))

    def check_indices(self, actions: np.ndarray, name: str = "actions") -> None:
        """``actions [T, 1]`` are integers in ``0 .. n-1``; else a ValueError naming what is wrong."""
        if actions.ndim != 2 or actions.shape[1] != 1:
            raise ValueError(f"{name} of a Discrete({self.n}) space must be [T, 1] indices, got {actions.shape}")
        bad = (actions != np.round(actions)) | (actions < 0) | (actions >= self.n)
        if bool(bad.any()):
            value = actions[bad][0]
            raise ValueError(f"{name} holds {value!r}, not an index of Discrete({self.n}) (integers 0..{self.n - 1})")
