"""``adapters``: a new stock-``peft`` LoRA adapter per task on a frozen shared base, chosen by task id.

The parameter-isolation family of continual learning (Rusu et al. 2016, "Progressive Neural Networks"; with
LoRA: Wang et al. 2023, "O-LoRA", and the per-task adapters of Houlsby et al. 2019, "Parameter-Efficient Transfer
Learning for NLP"). The first task (``task`` 0) trains the shared base as the stage's policy says; each later
task ``k`` adds the adapter ``task-k`` (``MMLLM.add_task_adapter``) and trains it alone — every other parameter of
the model is frozen — so what the model does on an earlier task, with that task's adapter active, cannot change:
backward transfer is 0 by construction. Acting on task ``k`` activates ``task-k`` (``model.use_task_adapter``),
task 0 runs the base. The adapters save with the model and, in stock ``peft``'s layout, under ``model/adapters/``.
It serves ``instruct``, ``preference`` and ``rl`` stages, not ``align``: alignment trains the projector against a
frozen LLM, where a per-task LLM adapter has nothing to learn.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field

from embodied.registry import ComponentSettings
from embodied.training.continual.base import HOOKS, Hook, TaskContext

__all__ = ["TaskAdapters", "TaskAdaptersSettings", "adapter_name"]

logger = logging.getLogger("embodied")


class TaskAdaptersSettings(ComponentSettings):
    """LoRA settings of every task's adapter."""

    r: int = Field(8, ge=1, le=1024, description="rank of each task's LoRA update")
    alpha: int = Field(16, ge=1, description="lora_alpha: the update is scaled by alpha / r")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on the adapter's input")
    target_modules: list[str] | None = Field(
        None, description="backbone module names to adapt (default: the backbone's attention projections)"
    )


def adapter_name(task: int) -> str | None:
    """The adapter task ``task`` acts with (``None``: the shared base, task 0)."""
    return None if task == 0 else f"task-{task}"


@HOOKS.register("adapters", TaskAdaptersSettings)
class TaskAdapters(Hook):
    """A new LoRA adapter per task on the frozen shared base (stock peft), chosen by task id."""

    first_task_inert = True

    settings: TaskAdaptersSettings
    serves = frozenset({"instruct", "preference", "rl"})
    #: parameters the current task's adapter trains (0 on the first task: the base trains)
    trained = 0.0

    def extra_loss(self, model: Any, batch: Any, outputs: Any) -> tuple[None, dict[str, float]]:
        """No loss term: the isolation is in which parameters train; logs how many do."""
        return None, {"adapter_params": self.trained}

    def on_task_start(self, ctx: TaskContext) -> None:
        super().on_task_start(ctx)
        self.trained = 0.0
        model: Any = ctx.model
        name = adapter_name(ctx.task)
        if name is None:
            model.use_task_adapter(None)
            return
        if not hasattr(model.backbone, "default_peft_targets") or not hasattr(model.backbone, "model"):
            raise ValueError(f"the adapters hook needs a peft-capable backbone, not {type(model.backbone).__name__}")
        for param in model.parameters():
            param.requires_grad_(False)
        if name in model.task_adapters:  # the stage's starting model already has it (a later stage of the task)
            model.use_task_adapter(name)
            params = [p for n, p in model.named_parameters() if f".{name}." in f".{n}."]
        else:
            params = model.add_task_adapter(name, self.settings.model_dump(mode="json"))
        for param in params:
            param.requires_grad_(True)
        count = sum(p.numel() for p in params)
        self.trained = float(count)
        logger.info("stage %r, task %d: adapter %r trains alone (%d parameters)", ctx.stage, ctx.task, name, count)
