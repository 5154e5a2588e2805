"""Data order across processes: each shard takes a disjoint part of every global batch, in step with the others."""

from __future__ import annotations

from typing import Any

import pytest

from embodied.training.data_order import DataOrder


def shard_epochs(size: int, shards: int, batch_size: int, epochs: int = 2) -> list[list[list[Any]]]:
    """Per shard, per epoch: the samples it saw, in order."""
    orders = [
        DataOrder(list(range(size)), seed=5, collate=lambda items: {"items": items}, batch_size=batch_size,
                  num_shards=shards, shard=r)
        for r in range(shards)
    ]  # fmt: skip
    seen: list[list[list[Any]]] = [[] for _ in range(shards)]
    for _ in range(epochs):
        for order, epochs_seen in zip(orders, seen, strict=True):
            epochs_seen.append([i for _ in range(order.batches_per_epoch) for i in order.next_batch()["items"]])
        assert len({(o.epoch, o.index) for o in orders}) == 1  # every shard at the same position
    return seen


def test_shards_are_disjoint_and_cover_the_epoch() -> None:
    seen = shard_epochs(size=10, shards=2, batch_size=2)  # 3 global batches: 4 + 4 + 2 samples
    for epoch in range(2):
        first, second = seen[0][epoch], seen[1][epoch]
        assert len(first) == len(second) == 5 and not set(first) & set(second)
        assert sorted(first + second) == list(range(10))
    assert seen[0][0] != seen[0][1]  # a fresh permutation per epoch


def test_uneven_last_batch_wraps_so_every_shard_runs_the_same_steps() -> None:
    seen = shard_epochs(size=11, shards=2, batch_size=2, epochs=1)  # last global batch: 3 samples, 2 per shard
    first, second = seen[0][0], seen[1][0]
    assert len(first) == len(second) == 6
    assert sorted(set(first + second)) == list(range(11)) and len(first + second) == 12  # one sample padded
    assert second[-1] == first[0]  # the pad is the epoch's first sample


def test_one_shard_is_the_plain_order() -> None:
    sharded = shard_epochs(size=10, shards=1, batch_size=4)[0]
    plain = DataOrder(list(range(10)), seed=5, collate=lambda items: {"items": items}, batch_size=4)
    assert sharded[0] == [i for _ in range(3) for i in plain.next_batch()["items"]]


def test_a_shard_outside_the_range_is_refused() -> None:
    with pytest.raises(ValueError, match="shard"):
        DataOrder([1, 2], seed=0, num_shards=2, shard=2)
