"""The continual-learning ``Hook`` contract, the ``HOOKS`` registry and ``HookSet`` (the hooks of one stage).

A hook guards earlier skills while a stage trains on a new task. It is attached to a stage with
``stages.N.hooks: [{kind: ewc, lambda_: 100}, ...]`` and has a small fixed set of points:

- ``on_task_start(ctx)``: the stage is about to train on task ``ctx.task`` (after the stage's trainable policy
  is applied, before the optimizer is built: a hook may add parameters here, e.g. a per-task adapter);
- ``replay_batch()``: an extra model batch of earlier tasks' samples and its loss weight, or ``None``;
- ``extra_loss(model, batch, outputs)``: a loss term added to the stage's loss (``batch`` / ``outputs``: the
  stage's own model batch and ``MMLLMOutput`` where the stage trains the ``MMLLM`` on model batches — ``align``
  and ``instruct``; ``None`` for ``preference`` and ``rl`` stages, whose hooks draw inputs from ``ctx``);
- ``on_task_end(ctx)``: the stage has finished task ``ctx.task`` (e.g. EWC estimates its Fisher here).

State: ``state_dict()`` returns plain JSON plus named tensors; the trainer writes them into every checkpoint
(``hooks.json`` + ``hooks.safetensors``) and the stage writes them beside its model when it ends, where the same
stage of the next task picks them up. ``load_state_dict`` restores them exactly; whatever a hook derives from
the stage's starting model in ``on_task_start`` (LwF's teacher) is derived again on resume, never saved.

Every loss term and statistic a hook returns is logged under ``<hook name>/<key>`` in ``metrics.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from embodied.registry import ComponentSettings, Registry

if TYPE_CHECKING:
    from embodied.data.samples import Sample
    from embodied.models.mmllm import MMLLM, MMLLMOutput

__all__ = ["ALL_STAGE_KINDS", "HOOKS", "Hook", "HookSet", "ReplayBatch", "TaskContext"]

Batch = dict[str, Any]
Tensors = dict[str, torch.Tensor]

#: every stage kind (embodied.config.stages.StageKind)
ALL_STAGE_KINDS: frozenset[str] = frozenset({"align", "instruct", "preference", "rl"})


@dataclass
class TaskContext:
    """What a hook sees at a task boundary.

    - ``task`` / ``task_name``: index (0-based) and name of the task the stage trains on; a plain ``embodied
      train`` run is the one task 0 (``is_last_task`` True);
    - ``stage`` / ``stage_kind``: the stage the hook is attached to;
    - ``model``: the ``MMLLM`` being trained (its ``requires_grad`` set by the stage's policy);
    - ``current``: training samples of this task's own data (every kind its episodes give; empty when the task
      has no dataset, e.g. an ``rl``-only run);
    - ``previous``: samples of the skills learned before this task — earlier tasks' samples in a task sequence;
      in a plain run, the dataset's samples for ``preference`` and ``rl`` stages (what the supervised stages
      taught) and nothing for ``align`` / ``instruct``;
    - ``previous_tasks``: the task index of each sample of ``previous`` (same length; per-task replay budgets);
    - ``collate``: samples → a model batch (``to_batch`` with this model);
    - ``seed``: the stage's seed (hooks seed their own generators from it and ``task``);
    - ``batch_size``: the stage's batch size (the default size of the batches hooks draw).
    """

    task: int
    task_name: str
    stage: str
    stage_kind: str
    model: MMLLM
    current: Sequence[Sample]
    previous: Sequence[Sample]
    collate: Callable[[list[Sample]], Batch]
    seed: int
    batch_size: int
    is_last_task: bool = True
    previous_tasks: Sequence[int] = field(default_factory=list)


@dataclass
class ReplayBatch:
    """A model batch of replayed samples; its loss enters the stage's loss times ``weight``."""

    batch: Batch
    weight: float
    size: int


class Hook:
    """Base of every continual-learning hook; ``settings`` is its registered settings model."""

    #: stage kinds the hook can serve (a hook on any other kind is a ConfigError naming both)
    serves: ClassVar[frozenset[str]] = ALL_STAGE_KINDS
    #: True when the hook cannot change how the first task of a sequence trains (nothing learned yet to guard),
    #: so ``embodied continual`` may train that task once for every method (``seal_task_hooks``)
    first_task_inert: ClassVar[bool] = False

    def __init__(self, settings: ComponentSettings, name: str) -> None:
        self.settings, self.name = settings, name
        self.generator = torch.Generator()

    def seed_generator(self, ctx: TaskContext) -> None:
        """Seed the hook's generator from the stage seed and the task (deterministic per task)."""
        self.generator.manual_seed(ctx.seed * 1_000_003 + ctx.task)

    def on_task_start(self, ctx: TaskContext) -> None:
        self.seed_generator(ctx)

    def on_task_end(self, ctx: TaskContext) -> None:
        return None

    def replay_batch(self) -> ReplayBatch | None:
        return None

    def extra_loss(
        self, model: MMLLM, batch: Batch | None, outputs: MMLLMOutput | None
    ) -> tuple[torch.Tensor | None, dict[str, float]]:
        """A loss term (``None``: none this step) and statistics to log."""
        return None, {}

    def state_dict(self) -> tuple[dict[str, Any], Tensors]:
        """Plain JSON and named tensors; the base class saves the generator's state."""
        return {}, {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], tensors: Tensors) -> None:
        if "generator" in tensors:
            self.generator.set_state(tensors["generator"].to(torch.uint8))


HOOKS: Registry[Hook] = Registry("hook")


@dataclass
class HookSet:
    """The hooks of one stage, run in order; names are ``<index>-<kind>`` so two hooks of a kind stay apart.

    ``model``: the ``MMLLM`` the hooks guard (replay batches run through it); ``model_batches``: whether the
    stage's own batches are ``MMLLM`` batches (``align`` / ``instruct``), which ``extra_loss`` then receives.
    """

    hooks: list[Hook] = field(default_factory=list)
    model: Any = None
    model_batches: bool = False

    def __bool__(self) -> bool:
        return bool(self.hooks)

    def on_task_start(self, ctx: TaskContext) -> None:
        for hook in self.hooks:
            hook.on_task_start(ctx)

    def on_task_end(self, ctx: TaskContext) -> None:
        for hook in self.hooks:
            hook.on_task_end(ctx)

    def loss(
        self, batch: Batch | None = None, outputs: MMLLMOutput | None = None
    ) -> tuple[torch.Tensor | None, dict[str, float]]:
        """The hooks' replay losses and extra losses, summed (``None`` when no hook adds one), and their
        statistics keyed ``<hook>/<key>`` (plus ``hooks/loss``, the sum). ``batch`` / ``outputs``: the stage's
        own model batch and output, passed on only when ``model_batches``."""
        model = self.model
        if model is None:
            raise ValueError("HookSet.model is not set")
        if not self.model_batches:
            batch, outputs = None, None
        total: torch.Tensor | None = None
        metrics: dict[str, float] = {}
        for hook in self.hooks:
            replay = hook.replay_batch()
            if replay is not None:
                out = model(**replay.batch)
                if out.loss is not None:
                    total = _add(total, replay.weight * out.loss)
                    metrics[f"{hook.name}/replay_loss"] = float(out.loss.detach())
                metrics[f"{hook.name}/replay_samples"] = float(replay.size)
            term, stats = hook.extra_loss(model, batch, outputs)
            if term is not None:
                total = _add(total, term)
            metrics.update({f"{hook.name}/{k}": v for k, v in stats.items()})
        if total is not None:
            metrics["hooks/loss"] = float(total.detach())
        return total, metrics

    def state_dict(self) -> tuple[dict[str, Any], Tensors]:
        """Every hook's state: JSON ``{name: state}``, tensors named ``<name>/<key>``."""
        tree: dict[str, Any] = {}
        tensors: Tensors = {}
        for hook in self.hooks:
            state, own = hook.state_dict()
            tree[hook.name] = state
            tensors.update({f"{hook.name}/{k}": v.detach().cpu().contiguous() for k, v in own.items()})
        return tree, tensors

    def load_state_dict(self, tree: dict[str, Any], tensors: Tensors, source: str) -> None:
        """Restore from ``state_dict()``'s output; the hook list must be the one saved (``source`` names the
        file in the error otherwise)."""
        names = [hook.name for hook in self.hooks]
        if sorted(tree) != sorted(names):
            raise ValueError(f"{source} holds the state of hooks {sorted(tree)}, but this stage has {names}")
        for hook in self.hooks:
            prefix = f"{hook.name}/"
            own = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            hook.load_state_dict(tree[hook.name], own)


def _add(total: torch.Tensor | None, term: torch.Tensor) -> torch.Tensor:
    return term if total is None else total + term
