"""Toy models, samples and task contexts for the continual-learning hook tests (the hooks only need
``model(**batch).loss``, ``model.named_parameters()``, ``Sample.kind`` and ``ctx.collate``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from embodied.training.continual import TaskContext


@dataclass(frozen=True)
class Item:
    """A stand-in for ``Sample``: a kind, an id, and the toy regression pair (x, y)."""

    kind: str = "action"
    uid: int = 0
    x: float = 1.0
    y: float = 0.0


def collate(items: list[Item]) -> dict[str, Any]:
    return {
        "x": torch.tensor([i.x for i in items]),
        "y": torch.tensor([i.y for i in items]),
        "uid": [i.uid for i in items],
    }


class Toy(nn.Module):
    """loss = mean_b (w·x_b + b − y_b)² + v²: dL/dw = mean 2x(wx + b − y), dL/dv = 2v; ``b`` is frozen."""

    def __init__(self, w: float = 3.0, v: float = 1.0, b: float = 0.0) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([w]))
        self.v = nn.Parameter(torch.tensor([v]))
        self.b = nn.Parameter(torch.tensor([b]), requires_grad=False)
        self.modes: list[bool] = []  # self.training at every forward

    def forward(self, x: torch.Tensor, y: torch.Tensor, uid: list[int] | None = None) -> SimpleNamespace:
        self.modes.append(self.training)
        loss = (self.w * x + self.b - y).pow(2).mean() + self.v.pow(2).sum()
        return SimpleNamespace(loss=loss)

    def set(self, **values: float) -> None:
        with torch.no_grad():
            for name, value in values.items():
                getattr(self, name).fill_(value)


def context(
    model: nn.Module,
    current: Sequence[Item] = (),
    previous: Sequence[Item] = (),
    previous_tasks: Sequence[int] = (),
    task: int = 0,
    seed: int = 0,
    batch_size: int = 4,
    is_last_task: bool = False,
) -> TaskContext:
    return TaskContext(
        task=task,
        task_name=f"task-{task}",
        stage="instruct",
        stage_kind="instruct",
        model=model,  # type: ignore[arg-type]  # the hooks use only nn.Module's API and .loss
        current=current,  # type: ignore[arg-type]
        previous=previous,  # type: ignore[arg-type]
        collate=collate,  # type: ignore[arg-type]
        seed=seed,
        batch_size=batch_size,
        is_last_task=is_last_task,
        previous_tasks=list(previous_tasks),
    )
