"""``lwf``: Learning without Forgetting (Li & Hoiem 2016, "Learning without Forgetting", ECCV / TPAMI 2017).

The model as it was when the task started is the teacher θ_o; while training on the new task, the student θ
is also pulled towards the teacher's outputs on the same inputs:

    L_lwf = α · Σ_heads  KD(teacher, student)

- categorical heads (``text``: LM logits at the answer/plan tokens; ``action-tokens``: the constrained bin
  distribution; ``pointer``: the location distribution of every argument) — Hinton et al.'s (2015) knowledge
  distillation at temperature T: ``T² · KL(softmax(z_o / T) ‖ softmax(z / T))``, mean over the predicted rows
  (the T² keeps the gradient's scale independent of T);
- ``continuous`` (a Laplace policy with a shared scale b): the exact KL between the teacher's and the student's
  Laplace distributions, ``|μ_o − μ|/b + exp(−|μ_o − μ|/b) − 1``, mean over elements;
- ``diffusion`` has no tractable output distribution and is left out.

Inputs: on ``align`` / ``instruct`` stages the stage's own batch (as LwF distils on the new task's data); on
``preference`` and ``rl`` stages, whose batches are not model batches, ``batch_size`` samples per step drawn
from the task's samples — ``ctx.previous`` (in a plain run: the dataset the supervised stages taught) or else
``ctx.current``. The teacher is rebuilt from the stage's starting model on resume, never saved. On the first task
of a sequence (nothing learned before it) the hook does nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from pydantic import Field

from embodied.models.heads.base import HeadDistribution
from embodied.registry import ComponentSettings
from embodied.training.continual.base import HOOKS, Batch, Hook, TaskContext

if TYPE_CHECKING:
    from embodied.data.samples import Sample
    from embodied.models.mmllm import MMLLM, MMLLMOutput

__all__ = ["LwF", "LwFSettings", "distillation_loss"]


class LwFSettings(ComponentSettings):
    """Learning without Forgetting's hyper-parameters."""

    alpha: float = Field(1.0, ge=0, description="weight α of the distillation loss")
    temperature: float = Field(2.0, gt=0, description="distillation temperature T (categorical heads)")
    batch_size: int | None = Field(
        None, ge=1, description="samples drawn per step on preference/rl stages (default: the stage's batch size)"
    )
    kinds: list[str] | None = Field(
        None, description="sample kinds distilled on preference/rl stages (caption, action, plan, vqa; null: all)"
    )


def categorical_kd(teacher: torch.Tensor, student: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T² · KL(softmax(z_o/T) ‖ softmax(z/T))`` averaged over rows; logits ``[N, C]``."""
    if teacher.numel() == 0:
        return student.sum() * 0.0
    log_p_o = torch.log_softmax(teacher.float() / temperature, dim=-1)
    log_p = torch.log_softmax(student.float() / temperature, dim=-1)
    kl = (log_p_o.exp() * (log_p_o - log_p)).sum(dim=-1)  # [N]
    return temperature**2 * kl.mean()


def laplace_kl(teacher_loc: torch.Tensor, student_loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """KL(Laplace(μ_o, b) ‖ Laplace(μ, b)) = |μ_o − μ|/b + exp(−|μ_o − μ|/b) − 1, averaged over elements."""
    gap = (teacher_loc.float() - student_loc.float()).abs() / scale.float()
    return (gap + torch.exp(-gap) - 1.0).mean()


def distillation_loss(
    teacher: dict[str, HeadDistribution], student: dict[str, HeadDistribution], temperature: float
) -> tuple[torch.Tensor | None, dict[str, float]]:
    """Σ over the heads both sides have of their KD term; per-head values for the log."""
    total: torch.Tensor | None = None
    stats: dict[str, float] = {}
    for name in sorted(set(teacher) & set(student)):
        t, s = teacher[name], student[name]
        if t.family == "laplace":
            assert s.scale is not None
            term = laplace_kl(t.params, s.params, s.scale)
        else:
            term = categorical_kd(t.params, s.params, temperature)
        stats[f"kd/{name}"] = float(term.detach())
        total = term if total is None else total + term
    return total, stats


@HOOKS.register("lwf", LwFSettings)
class LwF(Hook):
    """Learning without Forgetting: distil towards the model as it was at task start (Li & Hoiem 2016)."""

    first_task_inert = True

    settings: LwFSettings

    def __init__(self, settings: LwFSettings, name: str) -> None:
        super().__init__(settings, name)
        self.teacher: MMLLM | None = None
        self.pool: Sequence[Sample] = ()
        self.collate: Callable[[list[Sample]], Batch] | None = None
        self.draw = 1

    def on_task_start(self, ctx: TaskContext) -> None:
        super().on_task_start(ctx)
        if ctx.task == 0 and not ctx.previous:
            self.teacher = None  # the first task of a sequence: nothing learned yet to keep
            return
        self.teacher = _frozen_copy(ctx.model)
        kinds = self.settings.kinds
        source = ctx.previous or ctx.current
        self.pool = [s for s in source if kinds is None or s.kind in kinds]
        self.collate = ctx.collate
        self.draw = self.settings.batch_size or ctx.batch_size

    def _inputs(self, batch: Batch | None) -> Batch | None:
        """The stage's batch, or a batch drawn from the pool (``None`` when there is nothing to distil on)."""
        if batch is not None:
            return batch
        if not self.pool or self.collate is None:
            return None
        index = torch.randint(len(self.pool), (self.draw,), generator=self.generator).tolist()
        return self.collate([self.pool[i] for i in index])

    def extra_loss(
        self, model: MMLLM, batch: Batch | None, outputs: MMLLMOutput | None
    ) -> tuple[torch.Tensor | None, dict[str, float]]:
        if self.teacher is None or self.settings.alpha == 0:
            return None, {}
        inputs = self._inputs(batch)
        if inputs is None:
            return None, {}
        with torch.no_grad():
            teacher = self.teacher.distill_outputs(inputs)
        student = model.distill_outputs(inputs)
        term, stats = distillation_loss(teacher, student, self.settings.temperature)
        if term is None:
            return None, stats
        return self.settings.alpha * term, {**stats, "kd": float(term.detach())}


def _frozen_copy(model: Any) -> Any:
    """A frozen copy of ``model`` in eval mode (the teacher)."""
    teacher = copy.deepcopy(model)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher
