"""Map a third-party action space onto the normalised action specification the agents decode into.

* ``Box(low, high)`` with finite bounds → ``Box(-1, 1)`` of the same shape, float32, with the affine map
  ``env = low + (a + 1) / 2 * (high - low)`` (actions outside [-1, 1] are clipped first). Continuous action
  heads always predict in [-1, 1], so every suite looks the same to them.
* ``Discrete(n, start)`` → exposed unchanged by default (``"discrete"``): the agent's action-token head emits
  one of ``n`` indices and ``start`` is kept, so ``env.step(k)`` receives ``k`` exactly. With ``"bins"`` it
  is exposed as ``Box(-1, 1, (1,))`` and decoded by binning: [-1, 1] is cut into ``n`` equal bins and bin
  ``i`` becomes action ``start + i``; ``encode`` returns the bin centre, so ``decode(encode(k)) == k``. Use
  bins when a single continuous head must drive discrete and continuous suites alike.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from gymnasium import spaces

DiscreteMode = Literal["discrete", "bins"]


class ActionMapping:
    """Two-way map between the normalised space (``space``) and the wrapped env's ``env_space``."""

    def __init__(self, env_space: spaces.Space[Any], discrete_mode: DiscreteMode = "discrete") -> None:
        self.env_space = env_space
        self.discrete_mode = discrete_mode
        if isinstance(env_space, spaces.Box):
            low = np.asarray(env_space.low, dtype=np.float64)
            high = np.asarray(env_space.high, dtype=np.float64)
            if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                raise ValueError(f"Box action space {env_space} has infinite bounds; cannot rescale to [-1, 1]")
            self._low, self._high = low, high
            self.space: spaces.Space[Any] = spaces.Box(-1.0, 1.0, env_space.shape, dtype=np.float32)
        elif isinstance(env_space, spaces.Discrete):
            if discrete_mode == "discrete":
                self.space = spaces.Discrete(int(env_space.n), start=int(env_space.start))
            elif discrete_mode == "bins":
                self.space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
            else:
                raise ValueError(f"unknown discrete_mode {discrete_mode!r}; expected 'discrete' or 'bins'")
        else:
            raise TypeError(f"action space {env_space} is not supported; the adapter maps Box and Discrete spaces")

    def decode(self, action: Any) -> Any:
        """Normalised action → the wrapped env's action."""
        space = self.env_space
        if isinstance(space, spaces.Box):
            a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
            return (self._low + (a + 1.0) * 0.5 * (self._high - self._low)).astype(space.dtype)
        assert isinstance(space, spaces.Discrete)
        if self.discrete_mode == "discrete":
            return np.int64(action)
        n = int(space.n)
        scalar = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        index = min(int((scalar + 1.0) * 0.5 * n), n - 1)  # a == 1.0 belongs to the last bin
        return np.int64(int(space.start) + index)

    def encode(self, env_action: Any) -> Any:
        """The wrapped env's action → normalised action (inverse of ``decode``; bin centre for ``"bins"``)."""
        space = self.env_space
        if isinstance(space, spaces.Box):
            a = np.asarray(env_action, dtype=np.float64)
            span = np.where(self._high > self._low, self._high - self._low, 1.0)
            return (2.0 * (a - self._low) / span - 1.0).astype(np.float32)
        assert isinstance(space, spaces.Discrete)
        if self.discrete_mode == "discrete":
            return np.int64(env_action)
        n = int(space.n)
        index = int(env_action) - int(space.start)
        return np.array([(index + 0.5) / n * 2.0 - 1.0], dtype=np.float32)
