"""What ``embodied continual`` measures after each task (composition: envs + agents on an in-memory model).

- ``task_outcomes``: per-episode success of the model on one task's held-out seeds (``continual.seed`` + k, the
  training instruction templates: new scenes, familiar wording, so a drop is forgetting, not paraphrase), acting
  with the task's adapter when the model has per-task adapters (``adapters`` hook);
- ``language_probe``: the fixed language probe — VQA accuracy on held-out scenes of ``embodied/TabletopVQA-v0``
  and plan validity of the planner agent (the first plan of each episode, judged by the env's ``check_plan``);
- ``checkpoint_curve``: the task's success at every checkpoint of its last stage (FWT's curve).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from embodied.agents.build import default_action_head
from embodied.agents.evaluate import evaluate_agent, evaluate_plans, evaluate_vqa
from embodied.agents.mmllm import MMLLMAgent, head_kind
from embodied.agents.planner import PlannerAgent
from embodied.config.continual import ContinualSpec
from embodied.config.data import DataSpec
from embodied.training.checkpoint import CHECKPOINTS, load_checkpoint
from embodied.training.continual.adapters import adapter_name

__all__ = ["checkpoint_curve", "env_kwargs_for", "language_probe", "task_outcomes"]

logger = logging.getLogger("embodied")

#: the VQA probe's question types (the ones the tabletop scenes answer without a task in progress)
PROBE_QTYPES = ["count", "colour", "shape", "existence"]


def env_kwargs_for(data: DataSpec, model: Any) -> dict[str, Any]:
    """The task's env kwargs with the model's image size and cameras (the observations it was built for)."""
    spec = model.config.model_spec
    return {**data.env_kwargs, "image_size": spec.image_size, "cameras": list(spec.cameras)}


def _act_as(model: Any, task: int) -> None:
    """Select the adapter of ``task`` on a model with per-task adapters (task 0 and later tasks without one:
    the base / the newest adapter the model has up to that task)."""
    if not model.task_adapters:
        return
    name = adapter_name(task)
    while name is not None and name not in model.task_adapters:
        task -= 1
        name = adapter_name(task)
    model.use_task_adapter(name)


@torch.no_grad()
def task_outcomes(model: Any, task: int, data: DataSpec, spec: ContinualSpec) -> list[bool]:
    """Success of each held-out episode of task ``task`` (its first env id)."""
    model.eval()
    _act_as(model, task)
    agent = MMLLMAgent(model, default_action_head(model))
    kwargs = env_kwargs_for(data, model)
    stats = evaluate_agent(
        agent, data.env_ids[0], kwargs, spec.episodes, spec.seed, spec.num_envs, max_steps=spec.max_steps
    )
    return [bool(s) for s in stats.successes]


@torch.no_grad()
def language_probe(model: Any, task: int, data: DataSpec, spec: ContinualSpec) -> dict[str, float]:
    """VQA accuracy and plan validity on held-out scenes, acting as the model does after ``task``."""
    text = next((name for name in model.heads if head_kind(model, name) == "text"), None)
    if text is None:
        return {}
    model.eval()
    _act_as(model, task)
    scores: dict[str, float] = {}
    kwargs = env_kwargs_for(data, model)
    if spec.vqa_episodes:
        vqa_kwargs = {"image_size": kwargs["image_size"], "cameras": kwargs["cameras"], "qtypes": PROBE_QTYPES}
        agent = MMLLMAgent(model, text, prompt="vqa")
        records = evaluate_vqa(agent, spec.vqa_episodes, spec.seed, spec.num_envs, {**vqa_kwargs, "stage_prob": 0.0})
        scores["vqa_accuracy"] = sum(r.correct for r in records) / len(records)
    if spec.plan_episodes and kwargs.get("control", "primitive") == "primitive":
        outcome = evaluate_plans(
            lambda envs: PlannerAgent(model, envs, text),
            data.env_ids[0],
            kwargs,
            spec.plan_episodes,
            spec.seed,
            spec.num_envs,
        )
        scores["plan_validity"] = sum(r.valid for r in outcome.records) / len(outcome.records)
    return scores


def checkpoint_curve(
    model: Any, stage_dir: Path, task: int, data: DataSpec, spec: ContinualSpec
) -> list[tuple[int, list[bool]]]:
    """``(step, outcomes)`` of task ``task`` at every checkpoint of ``stage_dir`` before its last step (the last
    is the stage's final model, evaluated by the caller); the model's weights are put back afterwards."""
    root = stage_dir / CHECKPOINTS
    paths = sorted(p for p in root.glob("step-*") if p.is_dir()) if root.is_dir() else []
    if len(paths) < 2:
        return []
    final = {k: v.clone() for k, v in model.state_dict().items()}
    points = []
    for path in paths[:-1]:
        saved = load_checkpoint(path)
        state = {k.removeprefix("model."): v for k, v in saved.model_state.items()}  # an rl stage saves the policy
        model.load_state_dict({k: state[k] for k in final if k in state}, strict=False)
        points.append((saved.step, task_outcomes(model, task, data, spec)))
    model.load_state_dict(final)
    return points
