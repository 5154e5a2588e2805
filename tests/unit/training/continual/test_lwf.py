"""LwF: the distillation terms against hand-computed values; zero when student and teacher are the same model;
positive (and pulling back) once the student moves; drawn inputs on stages without model batches."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from embodied.models.config import MMLLMConfig
from embodied.models.heads.base import HeadDistribution
from embodied.models.mmllm import MMLLM
from embodied.training.continual.base import HOOKS, TaskContext
from embodied.training.continual.lwf import LwF, categorical_kd, distillation_loss, laplace_kl
from tests.factory import HEAD_SPECS, batch_for, tiny_spec

HEADS = ("text", "action-tokens", "continuous", "pointer")


def tiny_model() -> MMLLM:
    torch.manual_seed(0)
    heads = {name: HEAD_SPECS[name] for name in HEADS}
    return MMLLM(MMLLMConfig(spec=tiny_spec(heads=heads)))


def context(model: MMLLM, previous: list[Any] | None = None, kind: str = "instruct") -> TaskContext:
    return TaskContext(
        task=1,
        task_name="t1",
        stage="s",
        stage_kind=kind,
        model=model,
        current=[],
        previous=previous or [],
        collate=lambda items: batch_for(model, n=len(items), seed=int(items[0].kind == "x")),
        seed=0,
        batch_size=2,
    )


def hook(**settings: Any) -> LwF:
    entry, resolved = HOOKS.resolve({"kind": "lwf", **settings})
    built = entry.target(resolved, "0-lwf")  # type: ignore[call-arg]
    assert isinstance(built, LwF)
    return built


def test_categorical_kd_hand_computed() -> None:
    # teacher logits [0, ln 3] → p = [1/4, 3/4]; student [0, 0] → q = [1/2, 1/2]; T = 1:
    # KL(p‖q) = 1/4 ln(1/2) + 3/4 ln(3/2) = 0.130812
    teacher, student = torch.tensor([[0.0, math.log(3.0)]]), torch.zeros(1, 2)
    assert float(categorical_kd(teacher, student, 1.0)) == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5))
    # T = 2: p = softmax([0, ln3 / 2]) = [1/(1+√3), √3/(1+√3)], q unchanged; times T² = 4
    p1 = 1 / (1 + math.sqrt(3))
    expected = 4 * (p1 * math.log(p1 / 0.5) + (1 - p1) * math.log((1 - p1) / 0.5))
    assert float(categorical_kd(teacher, student, 2.0)) == pytest.approx(expected, rel=1e-6)


def test_laplace_kl_hand_computed() -> None:
    # |μ_o − μ| / b = 1 → 1 + e^{-1} − 1 = e^{-1}; 0 → 0; mean of the two = e^{-1} / 2
    value = laplace_kl(torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.0]), torch.tensor([0.5, 0.5]))
    assert float(value) == pytest.approx(math.exp(-1) / 2)


def test_only_shared_heads_count() -> None:
    t = {
        "a": HeadDistribution("categorical", torch.zeros(2, 3)),
        "b": HeadDistribution("categorical", torch.ones(1, 2)),
    }
    s = {"a": HeadDistribution("categorical", torch.zeros(2, 3))}
    total, stats = distillation_loss(t, s, 2.0)
    assert total is not None and float(total) == 0.0 and set(stats) == {"kd/a"}


def test_zero_when_student_is_teacher_and_positive_after_a_step() -> None:
    model = tiny_model()
    lwf = hook(alpha=1.0, temperature=2.0)
    lwf.on_task_start(context(model))
    batch = batch_for(model, n=4)
    loss, stats = lwf.extra_loss(model, batch, None)
    assert loss is not None and float(loss.detach()) == pytest.approx(0.0, abs=1e-6)
    assert {f"kd/{h}" for h in HEADS} <= set(stats)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    moved, stats = lwf.extra_loss(model, batch, None)
    assert moved is not None and float(moved.detach()) > 1e-4
    moved.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    assert lwf.teacher is not None and all(p.grad is None for p in lwf.teacher.parameters())


def test_draws_inputs_where_the_stage_has_no_model_batches() -> None:
    from embodied.data.samples import Sample

    model = tiny_model()
    lwf = hook(batch_size=3, kinds=["vqa"])
    samples = [Sample(kind="vqa", observation={}, prompt="q", target="a", episode=0, frame=0) for _ in range(5)]
    lwf.on_task_start(context(model, previous=samples, kind="rl"))
    assert len(lwf.pool) == 5 and lwf.draw == 3
    loss, _ = lwf.extra_loss(model, None, None)
    assert loss is not None and float(loss.detach()) == pytest.approx(0.0, abs=1e-6)
    empty = hook(kinds=["plan"])
    empty.on_task_start(context(model, previous=samples, kind="rl"))
    assert empty.extra_loss(model, None, None) == (None, {})


def test_the_first_task_of_a_sequence_has_no_teacher() -> None:
    model = tiny_model()
    lwf = hook()
    ctx = context(model)
    ctx.task = 0
    lwf.on_task_start(ctx)
    assert lwf.teacher is None and lwf.extra_loss(model, batch_for(model, n=2), None) == (None, {})
