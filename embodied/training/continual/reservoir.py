"""A reservoir buffer: a uniform random subset of fixed size over a stream of integer item ids.

Vitter's Algorithm R (J. S. Vitter, "Random Sampling with a Reservoir", ACM TOMS 11(1), 1985), the memory of
reservoir experience replay (Chaudhry et al. 2019, "On Tiny Episodic Memories in Continual Learning"): after
``seen`` inserts, every item seen so far is in the buffer with probability ``min(1, size / seen)``. The buffer
holds ids only (indices into the caller's sample list); its draws come from the caller's ``torch.Generator`` (a
hook's own, which the hook's base class saves), so its state is plain JSON.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ReservoirBuffer"]


class ReservoirBuffer:
    """At most ``size`` item ids, a uniform sample of all ids inserted so far (Algorithm R)."""

    def __init__(self, size: int, generator: torch.Generator) -> None:
        if size < 1:
            raise ValueError(f"a reservoir needs size >= 1, got {size}")
        self.size = size
        self.generator = generator
        self.seen = 0
        self._items: list[int] = []

    def insert(self, item_id: int) -> None:
        """Offer one item: the first ``size`` fill the buffer; the n-th (1-based) then replaces slot ``j`` when a
        uniform ``j ∈ [0, n)`` falls inside the buffer, i.e. with probability ``size / n``."""
        self.seen += 1
        if len(self._items) < self.size:
            self._items.append(item_id)
            return
        j = int(torch.randint(self.seen, (1,), generator=self.generator).item())
        if j < self.size:
            self._items[j] = item_id

    def items(self) -> list[int]:
        """The ids held, in slot order (a copy)."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON: capacity, inserts so far and the ids in slot order."""
        return {"size": self.size, "seen": self.seen, "items": list(self._items)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output; the capacity must be this buffer's."""
        if int(state["size"]) != self.size:
            raise ValueError(f"reservoir state has size {state['size']}, but this buffer holds {self.size}")
        items = [int(i) for i in state["items"]]
        seen = int(state["seen"])
        if len(items) != min(seen, self.size):
            raise ValueError(f"reservoir state holds {len(items)} items after {seen} inserts into size {self.size}")
        self.seen, self._items = seen, items
