"""Second validation pass of a task sequence: each task's data and stages, and every method's hooks.

A task's ``data`` is merged over the experiment's ``data:`` section and validated as a ``DataSpec``; its stages
(or the experiment's) get the same checks as the experiment's stages; a method's hooks are checked against
``HOOKS`` and against the kind of every stage they are put on (``continual.hook_stages``).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from embodied.config.components import resolve_policies
from embodied.config.data import DataSpec
from embodied.config.errors import Problem
from embodied.config.hooks import resolve_hooks
from embodied.config.model import ModelSpec
from embodied.config.rl_stage import resolve_rl_stage
from embodied.config.stages import StageSpec
from embodied.config.validation import locate, problems_from
from embodied.config.yaml_source import Origins

__all__ = ["method_stages", "resolve_task_sequence", "task_data"]


def task_data(base: DataSpec, overrides: dict[str, Any]) -> DataSpec:
    """The task's ``DataSpec``: its overrides over the experiment's data section."""
    return DataSpec.model_validate({**base.model_dump(mode="json"), **overrides})


def method_stages(
    stages: list[StageSpec], hooks: list[dict[str, Any]], hook_stages: list[str] | None
) -> list[StageSpec]:
    """``stages`` with a method's ``hooks`` replacing the hooks of every stage in ``hook_stages`` (null: all)."""
    return [
        stage.model_copy(update={"hooks": [dict(h) for h in hooks]})
        if hook_stages is None or stage.name in hook_stages
        else stage
        for stage in stages
    ]


def resolve_task_sequence(
    tasks: list[Any], continual: Any, base_stages: list[StageSpec], data: DataSpec, model: ModelSpec, origins: Origins
) -> list[Problem]:
    """Validate every task's data and stages and every method's hooks in place; return the problems found."""
    problems: list[Problem] = []
    for index, task in enumerate(tasks):
        try:
            task_data(data, task.data)
        except ValidationError as err:
            problems += problems_from(err, origins, DataSpec, ("tasks", index, "data"))
        for s, stage in enumerate(task.stages or []):
            prefix = ("tasks", index, "stages", s)
            problems += resolve_policies(stage.trainable, origins, (*prefix, "trainable"))
            if stage.rl is not None:
                problems += resolve_rl_stage(stage.rl, model, origins, (*prefix, "rl"))
            problems += resolve_hooks(stage, origins, (*prefix, "hooks"))
    names = {stage.name for task in tasks for stage in (task.stages or base_stages)}
    unknown = sorted(set(continual.hook_stages or []) - names)
    if unknown:
        file, line = locate(origins, ("continual", "hook_stages"))
        problems.append(
            Problem("continual.hook_stages", f"names of the tasks' stages {sorted(names)}", str(unknown), file, line)
        )
    for method, hooks in continual.methods.items():
        for stage in method_stages(base_stages, hooks, continual.hook_stages):
            if stage.hooks and stage.hooks == hooks:
                problems += resolve_hooks(stage, origins, ("continual", "methods", method))
                hooks[:] = stage.hooks  # the resolved entries (defaults filled in)
    return problems
