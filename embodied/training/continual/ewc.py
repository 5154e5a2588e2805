"""Elastic Weight Consolidation: a quadratic pull towards earlier tasks' weights, scaled by their Fisher.

Kirkpatrick et al. 2017, "Overcoming catastrophic forgetting in neural networks" (PNAS 114(13)): after task i,
estimate the diagonal Fisher information ``F_i`` of the trainable parameters and keep their values ``θ*_i``;
while training later tasks add

    L_ewc = (λ / 2) · Σ_i Σ_k F_i,k · (θ_k − θ*_i,k)²

(``lambda_`` is λ). Online EWC (Schwarz et al. 2018, "Progress & Compress: A scalable framework for continual
learning", ICML) keeps one running Fisher and the latest anchor instead of one pair per task:

    F ← γ · F + F_i,    θ* ← θ*_i

so after one task both modes give the same penalty. ``F_i`` is the diagonal *empirical* Fisher, estimated at
``on_task_end`` as the mean over ``fisher_batches`` batches of the task's own samples of the squared gradient
of the batch's mean loss, ``(∂L/∂θ)²`` (the minibatch approximation used by LIBERO's and Avalanche's EWC). Only
parameters with ``requires_grad`` at that moment enter it — with PEFT, the adapter parameters — and they are
stored by their ``named_parameters()`` name. The last task of a sequence estimates nothing (no task follows).

State: JSON ``{"mode", "entries": [{"tasks": [...], "parameters": [...]}]}`` (one entry per task when
separate, at most one when online) and tensors ``fisher.<entry>.<parameter>`` / ``anchor.<entry>.<parameter>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import ConfigDict, Field

from embodied.registry import ComponentSettings
from embodied.training.continual.base import HOOKS, Hook, TaskContext

if TYPE_CHECKING:
    from embodied.models.mmllm import MMLLM, MMLLMOutput

__all__ = ["EWC", "EWCSettings"]

logger = logging.getLogger(__name__)
Tensors = dict[str, torch.Tensor]


class EWCSettings(ComponentSettings):
    """Settings of the ``ewc`` hook; the field descriptions are the help text."""

    model_config = ConfigDict(populate_by_name=True)

    lambda_: float = Field(
        100.0,
        ge=0,
        alias="lambda",
        description="λ, the penalty's weight: loss = λ/2 · Σ F·(θ − θ*)² (written lambda or lambda_; tune per model)",
    )
    mode: Literal["separate", "online"] = Field(
        "separate", description="separate: one (Fisher, anchor) per earlier task; online: one decayed running Fisher"
    )
    gamma: float = Field(1.0, ge=0, le=1, description="online mode: decay γ of the earlier Fisher, F ← γF + F_i")
    fisher_batches: int = Field(8, ge=1, description="batches of the task's samples the Fisher is averaged over")
    fisher_batch_size: int | None = Field(
        None, ge=1, description="samples per Fisher batch (default: the stage's batch_size)"
    )


@dataclass
class Consolidated:
    """One (Fisher, anchor) pair over named parameters; ``tasks``: the tasks folded into it."""

    tasks: list[int]
    fisher: Tensors = field(default_factory=dict)
    anchor: Tensors = field(default_factory=dict)


@HOOKS.register("ewc", EWCSettings)
class EWC(Hook):
    """Elastic Weight Consolidation (diagonal Fisher of the trainable parameters; separate or online γ)."""

    first_task_inert = True

    settings: EWCSettings

    def __init__(self, settings: EWCSettings, name: str) -> None:
        super().__init__(settings, name)
        self.consolidated: list[Consolidated] = []

    def on_task_start(self, ctx: TaskContext) -> None:
        super().on_task_start(ctx)
        names = {name for name, _ in ctx.model.named_parameters()}
        self._check_names(names)

    def on_task_end(self, ctx: TaskContext) -> None:
        if ctx.is_last_task:
            return
        if not ctx.current:
            logger.warning("hook %s: task %d has no samples of its own; no Fisher estimated", self.name, ctx.task)
            return
        fisher_i = self.estimate_fisher(ctx)
        anchor_i = {name: p.detach().clone() for name, p in ctx.model.named_parameters() if name in fisher_i}
        if self.settings.mode == "separate" or not self.consolidated:
            self.consolidated.append(Consolidated([ctx.task], fisher_i, anchor_i))
            return
        # online EWC (Schwarz et al. 2018): F ← γF + F_i, θ* ← θ*_i (a parameter absent from task i keeps γF, θ*)
        running, gamma = self.consolidated[0], self.settings.gamma
        for name in running.fisher.keys() - fisher_i.keys():
            running.fisher[name] = gamma * running.fisher[name]
        for name, f in fisher_i.items():
            old = running.fisher.get(name)
            running.fisher[name] = f if old is None else gamma * old.to(f.device) + f
            running.anchor[name] = anchor_i[name]
        running.tasks.append(ctx.task)

    def estimate_fisher(self, ctx: TaskContext) -> Tensors:
        """Diagonal empirical Fisher ``F_i = mean_b (∂L_b/∂θ)²`` of the parameters trainable now, from
        ``fisher_batches`` batches of ``ctx.current`` drawn with replacement; model in eval mode meanwhile."""
        model = ctx.model
        params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        if not params:
            raise ValueError(f"hook {self.name!r}: no trainable parameter to estimate a Fisher for")
        batch_size = self.settings.fisher_batch_size or ctx.batch_size
        num_batches = self.settings.fisher_batches
        fisher = {name: torch.zeros_like(p, dtype=torch.float32) for name, p in params.items()}
        was_training = model.training
        model.eval()  # no dropout: the Fisher of the model as it is, not of a random sub-network
        try:
            with torch.enable_grad():
                for _ in range(num_batches):
                    draws = torch.randint(len(ctx.current), (batch_size,), generator=self.generator)
                    batch = ctx.collate([ctx.current[d] for d in draws.tolist()])
                    loss = model(**batch).loss
                    if loss is None:
                        raise ValueError(f"hook {self.name!r}: the model returned no loss on a Fisher batch")
                    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
                    for (name, _), grad in zip(params.items(), grads, strict=True):
                        if grad is not None:  # a parameter the loss does not reach has Fisher 0
                            fisher[name] += grad.detach().float().pow(2) / num_batches
        finally:
            model.train(was_training)
            model.zero_grad(set_to_none=True)
        return fisher

    def extra_loss(
        self, model: MMLLM, batch: dict[str, Any] | None, outputs: MMLLMOutput | None
    ) -> tuple[torch.Tensor | None, dict[str, float]]:
        """``(λ/2) · Σ_i Σ_k F_i,k (θ_k − θ*_i,k)²``, or ``(None, {})`` before any task is consolidated."""
        if not self.consolidated:
            return None, {}
        params = dict(model.named_parameters())
        self._check_names(params.keys())
        penalty = torch.zeros((), device=next(iter(params.values())).device)
        for entry in self.consolidated:
            for name in list(entry.fisher):
                theta = params[name]
                fisher, theta_star = self._on_device(entry, name, theta.device)
                penalty = penalty + (fisher * (theta.float() - theta_star.float()).pow(2)).sum()
        loss = self.settings.lambda_ / 2 * penalty
        return loss, {"penalty": float(penalty.detach())}

    def _on_device(self, entry: Consolidated, name: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Fisher and anchor of ``name`` on ``device``, moved there once (a loaded state arrives on the CPU)."""
        if entry.fisher[name].device != device:
            entry.fisher[name] = entry.fisher[name].to(device)
            entry.anchor[name] = entry.anchor[name].to(device)
        return entry.fisher[name], entry.anchor[name]

    def _check_names(self, names: Any) -> None:
        """Every stored parameter must still exist in the model (by ``named_parameters()`` name)."""
        present = set(names)
        for entry in self.consolidated:
            missing = sorted(set(entry.fisher) - present)
            if missing:
                raise ValueError(
                    f"hook {self.name!r}: the EWC Fisher of task(s) {entry.tasks} holds parameter {missing[0]!r}, "
                    f"which the model no longer has ({len(missing)} missing in all)"
                )

    def state_dict(self) -> tuple[dict[str, Any], Tensors]:
        state, tensors = super().state_dict()
        entries = []
        for k, entry in enumerate(self.consolidated):
            entries.append({"tasks": list(entry.tasks), "parameters": list(entry.fisher)})
            tensors.update({f"fisher.{k}.{name}": f for name, f in entry.fisher.items()})
            tensors.update({f"anchor.{k}.{name}": a for name, a in entry.anchor.items()})
        state.update(mode=self.settings.mode, entries=entries)
        return state, tensors

    def load_state_dict(self, state: dict[str, Any], tensors: Tensors) -> None:
        """Restore ``state_dict()``'s output; the mode must be the one saved."""
        if state["mode"] != self.settings.mode:
            raise ValueError(
                f"hook {self.name!r}: EWC state saved in mode {state['mode']!r}, settings say {self.settings.mode!r}"
            )
        consolidated = []
        for k, saved in enumerate(state["entries"]):
            entry = Consolidated([int(t) for t in saved["tasks"]])
            for name in saved["parameters"]:
                for kind, store in (("fisher", entry.fisher), ("anchor", entry.anchor)):
                    key = f"{kind}.{k}.{name}"
                    if key not in tensors:
                        raise ValueError(f"hook {self.name!r}: EWC state lacks the tensor {key!r}")
                    store[name] = tensors[key].clone()
            consolidated.append(entry)
        super().load_state_dict(state, tensors)
        self.consolidated = consolidated
