"""Training data order: a fresh permutation per epoch, with a position ``(epoch, index)`` that resume restores.

The permutation of epoch ``e`` is drawn from a ``torch.Generator`` seeded with ``seed + e``, so it is a function
of ``(seed, epoch)`` alone: a run resumed at ``(epoch, index)`` regenerates the same permutation and continues at
the same batch, whatever happened to any other random number generator.

Several processes (``num_shards``) share one order: global batch ``g`` is the ``batch_size × num_shards`` positions
after ``g × batch_size × num_shards`` and process ``shard`` takes its contiguous ``batch_size`` of them, so the
processes see disjoint samples and ``(epoch, index)`` is the same position on all of them. The last global batch
of an epoch is split evenly, ``ceil(rest / num_shards)`` per process, with positions past the end wrapping around
to the epoch's start (as ``torch.utils.data.DistributedSampler`` pads): every process runs the same number of
steps. With one shard this is the plain order, the last batch possibly smaller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

Collate = Callable[[list[Any]], dict[str, Any]]


class DataOrder:
    """Yields batches of ``dataset`` in per-epoch shuffled order, forever; ``epoch`` / ``index`` mark the next one.

    Without ``collate`` every item of ``dataset`` already is a batch (an in-memory list of batches) and
    ``batch_size`` must be 1. With ``collate`` the items are samples and each batch collates ``batch_size`` of
    them; the last batch of an epoch may be smaller (no sample is ever dropped).
    """

    def __init__(
        self,
        dataset: Sequence[Any],
        seed: int,
        collate: Collate | None = None,
        batch_size: int = 1,
        num_shards: int = 1,
        shard: int = 0,
    ) -> None:
        if len(dataset) == 0:
            raise ValueError("the training data is empty")
        if batch_size < 1 or (collate is None and batch_size != 1):
            raise ValueError(f"batch_size must be 1 without a collate function and >= 1 with one, got {batch_size}")
        if not 0 <= shard < num_shards:
            raise ValueError(f"shard must lie in [0, num_shards={num_shards}), got {shard}")
        self.dataset = dataset
        self.seed = seed
        self.collate = collate
        self.batch_size = batch_size
        self.num_shards = num_shards
        self.shard = shard
        self.generator = torch.Generator()
        self.epoch = 0
        self.index = 0
        self._order = self._permutation(0)

    @property
    def batches_per_epoch(self) -> int:
        return -(-len(self.dataset) // (self.batch_size * self.num_shards))

    def _positions(self) -> range:
        """Positions in this epoch's permutation of this shard's part of the current global batch."""
        start = self.index * self.batch_size * self.num_shards
        size = min(self.batch_size, -(-(len(self.dataset) - start) // self.num_shards))
        first = start + self.shard * size
        return range(first, first + size)

    def _permutation(self, epoch: int) -> list[int]:
        self.generator.manual_seed(self.seed + epoch)
        return torch.randperm(len(self.dataset), generator=self.generator).tolist()

    def seek(self, epoch: int, index: int) -> None:
        """Continue at batch ``index`` of ``epoch`` (the position a checkpoint recorded)."""
        if epoch < 0 or not 0 <= index < self.batches_per_epoch:
            raise ValueError(f"position (epoch={epoch}, index={index}) is outside this data")
        self.epoch, self.index = epoch, index
        self._order = self._permutation(epoch)

    def next_batch(self) -> Any:
        """The batch at the current position; the position then moves on (into the next epoch at the end)."""
        chosen = [self._order[p % len(self._order)] for p in self._positions()]
        self.index += 1
        if self.index == self.batches_per_epoch:
            self.seek(self.epoch + 1, 0)
        if self.collate is None:
            return self.dataset[chosen[0]]
        return self.collate([self.dataset[i] for i in chosen])
