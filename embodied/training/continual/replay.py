"""Experience replay: mix samples of earlier tasks into every training step.

Experience replay (ER) as in Chaudhry et al. 2019, "On Tiny Episodic Memories in Continual Learning" (a small
episodic memory, replayed batches joined to every current batch), and LIBERO's ER baseline (Liu et al. 2023,
"LIBERO: Benchmarking Knowledge Transfer for Lifelong Robot Learning": a fixed budget of samples per earlier
task, 1000 by default). Two ways to fill the memory from ``ctx.previous`` at ``on_task_start``:

- ``per-task``: up to ``per_task`` samples of each earlier task (``ctx.previous_tasks``), chosen uniformly
  without replacement (LIBERO keeps a fixed budget per task);
- ``reservoir``: ``ctx.previous`` read as one ordered stream through a reservoir of ``size`` (Vitter's
  Algorithm R, ``reservoir.py``), a uniform sample of the whole stream.

Each step, ``replay_batch`` draws ``batch_size`` memory entries with replacement and returns their model batch;
``HookSet`` adds ``weight × loss(replayed batch)`` to the stage's loss (in an ``rl`` stage this is an SFT loss
on replayed demonstrations). The defaults make a replayed sample weigh like a current one: with ``ratio`` r and
stage batch size B, ``batch_size = round(r·B)`` and ``weight = r``, so the replayed mean loss enters with the
weight of its share of the samples. The memory holds indices into ``ctx.previous`` (its JSON state), never
samples; selection and draws use the hook's own generator (seeded per task by ``Hook``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import Field

from embodied.registry import ComponentSettings
from embodied.training.continual.base import HOOKS, Hook, ReplayBatch, TaskContext
from embodied.training.continual.reservoir import ReservoirBuffer

if TYPE_CHECKING:
    from embodied.data.samples import Sample

__all__ = ["Replay", "ReplaySettings"]

#: embodied.data.KINDS, spelled out so that config validation does not import the data package
SampleKind = Literal["caption", "action", "plan", "vqa"]


class ReplaySettings(ComponentSettings):
    """Settings of the ``replay`` hook; the field descriptions are the help text."""

    mode: Literal["per-task", "reservoir"] = Field(
        "per-task",
        description="how the memory is filled: per-task (a budget per earlier task, LIBERO's ER) or reservoir "
        "(a uniform sample of all earlier samples, Algorithm R)",
    )
    per_task: int = Field(1000, ge=1, description="per-task mode: samples kept from each earlier task (LIBERO: 1000)")
    size: int = Field(1000, ge=1, description="reservoir mode: capacity of the memory")
    ratio: float = Field(0.5, gt=0, description="replayed samples per current sample in a step")
    batch_size: int | None = Field(
        None, ge=1, description="replayed samples per step (default: max(1, round(ratio × the stage's batch_size)))"
    )
    weight: float | None = Field(
        None, ge=0, description="loss weight of the replayed batch (default: ratio, so each sample weighs the same)"
    )
    kinds: list[SampleKind] | None = Field(
        None, description="sample kinds to replay (caption, action, plan, vqa); default: every kind"
    )


@HOOKS.register("replay", ReplaySettings)
class Replay(Hook):
    """Experience replay of earlier tasks' samples (per-task budget or reservoir), mixed in at a ratio."""

    first_task_inert = True

    settings: ReplaySettings

    def __init__(self, settings: ReplaySettings, name: str) -> None:
        super().__init__(settings, name)
        self.indices: list[int] = []  # the memory: indices into ctx.previous
        self._task: int | None = None  # the task whose ctx.previous the indices point into
        self._previous_count = 0
        self._previous: Sequence[Sample] = ()
        self._collate: Callable[[list[Sample]], dict[str, Any]] | None = None
        self.batch_size = settings.batch_size or 1
        self.weight = settings.ratio if settings.weight is None else settings.weight

    def on_task_start(self, ctx: TaskContext) -> None:
        super().on_task_start(ctx)
        s = self.settings
        self._task, self._previous, self._collate = ctx.task, ctx.previous, ctx.collate
        self._previous_count = len(ctx.previous)
        self.batch_size = s.batch_size or max(1, round(s.ratio * ctx.batch_size))
        eligible = [i for i, sample in enumerate(ctx.previous) if s.kinds is None or sample.kind in s.kinds]
        if s.mode == "reservoir":
            buffer = ReservoirBuffer(s.size, self.generator)
            for index in eligible:
                buffer.insert(index)
            self.indices = buffer.items()
        else:
            self.indices = self._per_task(eligible, _task_of_each(ctx))

    def _per_task(self, eligible: list[int], tasks: Sequence[int]) -> list[int]:
        """Up to ``per_task`` indices of each earlier task, uniform without replacement, in stream order."""
        by_task: dict[int, list[int]] = {}
        for index in eligible:
            by_task.setdefault(tasks[index], []).append(index)
        chosen: list[int] = []
        for task in sorted(by_task):
            pool = by_task[task]
            if len(pool) > self.settings.per_task:
                keep = torch.randperm(len(pool), generator=self.generator)[: self.settings.per_task]
                pool = [pool[k] for k in sorted(keep.tolist())]
            chosen.extend(pool)
        return chosen

    def replay_batch(self) -> ReplayBatch | None:
        """``batch_size`` memory samples drawn with replacement, or ``None`` while the memory is empty."""
        if not self.indices:
            return None
        if self._collate is None:
            raise RuntimeError(f"hook {self.name!r}: replay_batch() before on_task_start()")
        draws = torch.randint(len(self.indices), (self.batch_size,), generator=self.generator)
        samples = [self._previous[self.indices[d]] for d in draws.tolist()]
        return ReplayBatch(batch=self._collate(samples), weight=self.weight, size=len(samples))

    def state_dict(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super().state_dict()
        state.update(task=self._task, previous=self._previous_count, indices=list(self.indices))
        return state, tensors

    def load_state_dict(self, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Restore the memory; loaded after ``on_task_start`` (a resume), it must be this task's memory."""
        indices = [int(i) for i in state["indices"]]
        previous = int(state["previous"])
        if any(not 0 <= i < previous for i in indices):
            raise ValueError(f"hook {self.name!r}: replay state has indices outside its {previous} samples")
        if self._collate is not None and (state["task"] != self._task or previous != self._previous_count):
            raise ValueError(
                f"hook {self.name!r}: replay state of task {state['task']} over {previous} earlier samples, but "
                f"this is task {self._task} with {self._previous_count} earlier samples"
            )
        super().load_state_dict(state, tensors)
        self._task, self._previous_count, self.indices = state["task"], previous, indices


def _task_of_each(ctx: TaskContext) -> Sequence[int]:
    """``ctx.previous_tasks``, or one earlier task for all samples when their origin is not recorded."""
    if not ctx.previous_tasks:
        return [0] * len(ctx.previous)
    if len(ctx.previous_tasks) != len(ctx.previous):
        raise ValueError(
            f"TaskContext.previous_tasks has {len(ctx.previous_tasks)} entries for {len(ctx.previous)} samples"
        )
    return ctx.previous_tasks
