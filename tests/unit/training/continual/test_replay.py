"""Experience replay (Chaudhry et al. 2019; LIBERO's ER): memory selection, draws, defaults, determinism, state."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
from pydantic import ValidationError

from embodied.training.continual import HOOKS, HookSet
from embodied.training.continual.base import ALL_STAGE_KINDS
from embodied.training.continual.replay import Replay, ReplaySettings
from tests.unit.training.continual.toys import Item, Toy, context

KINDS = ("caption", "action", "plan", "vqa")


def stream(sizes: list[int]) -> tuple[list[Item], list[int]]:
    """Earlier tasks' samples in order (kinds cycling), and the task of each."""
    items: list[Item] = []
    tasks: list[int] = []
    for task, size in enumerate(sizes):
        for _ in range(size):
            items.append(Item(kind=KINDS[len(items) % 4], uid=len(items), x=float(task)))
            tasks.append(task)
    return items, tasks


def replay(**settings: object) -> Replay:
    entry, parsed = HOOKS.resolve({"kind": "replay", **settings})
    hook = entry.target(parsed, "0-replay")
    assert isinstance(hook, Replay)
    return hook


def started(sizes: list[int], seed: int = 0, task: int = 3, stage_batch: int = 8, **settings: object) -> Replay:
    """A replay hook started on task ``task`` after earlier tasks of ``sizes`` samples (stage batch size 8)."""
    items, tasks = stream(sizes)
    hook = replay(**settings)
    ctx = context(Toy(), previous=items, previous_tasks=tasks, task=task, seed=seed, batch_size=stage_batch)
    hook.on_task_start(ctx)
    return hook


def test_per_task_budget_is_respected_for_every_earlier_task() -> None:
    _, tasks = stream([30, 50, 5])
    hook = started([30, 50, 5], per_task=10)
    per_task = Counter(tasks[i] for i in hook.indices)
    assert per_task == {0: 10, 1: 10, 2: 5}  # a task under its budget keeps every sample
    assert len(set(hook.indices)) == 25 and hook.indices == sorted(hook.indices)


def test_per_task_without_task_origins_is_one_budget_and_a_length_mismatch_is_an_error() -> None:
    items, _ = stream([40])
    hook = replay(per_task=10)
    hook.on_task_start(context(Toy(), previous=items))
    assert len(hook.indices) == 10
    with pytest.raises(ValueError, match="previous_tasks has 3 entries for 40 samples"):
        hook.on_task_start(context(Toy(), previous=items, previous_tasks=[0, 0, 0]))


@pytest.mark.parametrize("mode", ["per-task", "reservoir"])
def test_kinds_filter(mode: str) -> None:
    items, _ = stream([40, 40])
    hook = started([40, 40], mode=mode, per_task=5, size=8, kinds=["vqa", "plan"])
    assert hook.indices and {items[i].kind for i in hook.indices} <= {"vqa", "plan"}


def test_reservoir_mode_keeps_at_most_size_over_the_whole_stream() -> None:
    hook = started([30, 50, 5], mode="reservoir", size=12)
    assert len(hook.indices) == len(set(hook.indices)) == 12
    assert len(started([3, 2], mode="reservoir", size=12).indices) == 5


def test_replay_batch_draws_only_memory_samples() -> None:
    items, _ = stream([30, 50])
    hook = started([30, 50], per_task=4, stage_batch=10, ratio=2.0)
    memory = {items[i].uid for i in hook.indices}
    drawn: set[int] = set()
    for _ in range(20):
        replayed = hook.replay_batch()
        assert replayed is not None and replayed.size == len(replayed.batch["uid"]) == 20
        drawn |= set(replayed.batch["uid"])
    assert drawn == memory  # with replacement, 400 draws from 8 entries reach all of them


def test_empty_memory_gives_no_batch() -> None:
    hook = replay()
    hook.on_task_start(context(Toy(), previous=[], task=0))
    assert hook.replay_batch() is None
    assert started([10], kinds=["caption"], per_task=3).indices  # caption is the first kind of the stream
    assert started([1], kinds=["vqa"]).replay_batch() is None  # the only sample is a caption


def test_batch_size_and_weight_defaults() -> None:
    hook = started([20], stage_batch=8)  # ratio 0.5: round(0.5 · 8) = 4 samples, weight 0.5
    assert (hook.batch_size, hook.weight) == (4, 0.5)
    hook = started([20], stage_batch=8, ratio=0.01)  # round(0.08) = 0 → at least 1
    assert (hook.batch_size, hook.weight) == (1, 0.01)
    hook = started([20], stage_batch=8, batch_size=3, weight=2.0)
    assert (hook.batch_size, hook.weight) == (3, 2.0)
    assert hook.replay_batch().size == 3  # type: ignore[union-attr]
    defaults = ReplaySettings()
    assert (defaults.mode, defaults.per_task, defaults.size, defaults.ratio) == ("per-task", 1000, 1000, 0.5)
    assert (defaults.batch_size, defaults.weight, defaults.kinds) == (None, None, None)
    assert Replay.serves == ALL_STAGE_KINDS


def test_same_seed_same_memory_and_draws() -> None:
    def run(seed: int) -> tuple[list[int], list[list[int]]]:
        hook = started([30, 50], seed=seed, per_task=7)
        return hook.indices, [hook.replay_batch().batch["uid"] for _ in range(5)]  # type: ignore[union-attr]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_state_round_trip_on_resume_continues_identically() -> None:
    reference = started([30, 50], per_task=7)
    expected = [reference.replay_batch().batch["uid"] for _ in range(6)]  # type: ignore[union-attr]

    first = started([30, 50], per_task=7)
    for _ in range(3):
        first.replay_batch()
    state, tensors = first.state_dict()
    state = json.loads(json.dumps(state))  # plain JSON
    assert state["indices"] == first.indices and state["task"] == 3 and state["previous"] == 80

    resumed = started([30, 50], per_task=7)  # a resume: on_task_start, then the checkpoint's state
    resumed.replay_batch()  # whatever happened before the load is overwritten
    resumed.load_state_dict(state, {k: v.clone() for k, v in tensors.items()})
    again, again_tensors = resumed.state_dict()
    assert again == state and torch.equal(again_tensors["generator"], tensors["generator"])
    assert [resumed.replay_batch().batch["uid"] for _ in range(3)] == expected[3:]  # type: ignore[union-attr]


def test_state_loaded_before_the_next_task_starts_is_kept_then_replaced() -> None:
    state, tensors = started([30], task=1).state_dict()
    fresh = replay()
    fresh.load_state_dict(state, tensors)  # between tasks: state_files loads before on_task_start
    assert fresh.state_dict()[0] == state
    items, tasks = stream([30, 20])
    fresh.on_task_start(context(Toy(), previous=items, previous_tasks=tasks, task=2))
    assert fresh.state_dict()[0]["task"] == 2 and len(fresh.indices) == 50


def test_a_state_of_another_task_after_start_is_an_error() -> None:
    state, tensors = started([30], task=1).state_dict()
    with pytest.raises(ValueError, match="task 1 over 30 earlier samples, but this is task 2 with 80"):
        started([30, 50], task=2).load_state_dict(state, tensors)
    with pytest.raises(ValueError, match="outside"):
        replay().load_state_dict({**state, "indices": [30]}, tensors)


def test_hookset_adds_weight_times_the_replayed_loss() -> None:
    items, tasks = stream([6, 6])
    model = Toy(w=2.0, v=0.0)  # loss of a task-t sample: (2·t − 0)², so task 0 → 0 and task 1 → 4
    hook = replay(per_task=3, batch_size=5, weight=0.25)
    hook.on_task_start(context(model, previous=items, previous_tasks=tasks))
    generator = torch.Generator().set_state(hook.generator.get_state())
    draws = torch.randint(len(hook.indices), (5,), generator=generator).tolist()
    expected = sum((2.0 * items[hook.indices[d]].x) ** 2 for d in draws) / 5
    total, metrics = HookSet(hooks=[hook], model=model).loss()
    assert total is not None and float(total.detach()) == pytest.approx(0.25 * expected)
    assert metrics["0-replay/replay_samples"] == 5.0
    assert metrics["0-replay/replay_loss"] == pytest.approx(expected)


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="kinds"):
        ReplaySettings.model_validate({"kinds": ["video"]})
    with pytest.raises(ValidationError, match="mode"):
        ReplaySettings.model_validate({"mode": "fifo"})
    with pytest.raises(ValidationError, match="per_task"):
        ReplaySettings.model_validate({"per_task": 0})
