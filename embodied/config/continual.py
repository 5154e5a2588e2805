"""Settings of a task sequence (``tasks:``) and of its evaluation (``continual:``), run by ``embodied continual``.

Each task names its data — overrides of the experiment's ``data:`` section (env ids, env kwargs, episodes, seed)
— and optionally its own ``stages`` (default: the experiment's). ``continual:`` says how every task is evaluated
after each task (held-out seeds, episodes, a language probe of VQA questions and plans) and which methods to
compare side by side: each method is a list of hooks put on the stages named in ``hook_stages``, run over the
whole sequence from the same seeds; ``multitask: true`` adds joint training on every task's data (the upper
bound), and ``sequential`` (no hooks) is the reference row every method is compared with.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from embodied.config.stages import StageSpec

__all__ = ["ContinualSpec", "TaskSpec"]


class TaskSpec(BaseModel):
    """One task of a sequence."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="task name, also its run sub-dir")
    data: dict[str, Any] = Field(
        default_factory=dict, description="overrides of the experiment's data section (env_ids, episodes, ...)"
    )
    stages: list[StageSpec] | None = Field(None, description="this task's stages (default: the experiment's)")


class ContinualSpec(BaseModel):
    """How a task sequence is evaluated and which continual-learning methods it compares."""

    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(20, ge=1, description="held-out episodes per task at every evaluation")
    seed: int = Field(1_000_000, ge=0, description="first held-out seed of every task (episode k: seed + k)")
    num_envs: int = Field(4, ge=1, description="sub-envs of the batched evaluator")
    max_steps: int | None = Field(
        None,
        ge=1,
        description="steps per evaluation episode (null: the env's own limit; 1 with primitive control: "
        "success at the first attempt)",
    )
    vqa_episodes: int = Field(0, ge=0, description="language probe: VQA questions on held-out scenes (0: none)")
    plan_episodes: int = Field(0, ge=0, description="language probe: planner episodes, plan validity (0: none)")
    curve: bool = Field(
        True, description="also evaluate each task at every checkpoint of its last stage (the FWT curve)"
    )
    methods: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="method name → hooks put on the hook_stages (e.g. replay: [{kind: replay}]); empty: one run "
        "with the stages' own hooks",
    )
    hook_stages: list[str] | None = Field(None, description="stages that get a method's hooks (null: every stage)")
    multitask: bool = Field(False, description="also train jointly on every task's data (the upper bound)")
    bootstrap_seed: int = Field(0, ge=0, description="seed of the bootstrap intervals of FWT, NBT and AUC")

    @model_validator(mode="after")
    def _names(self) -> ContinualSpec:
        bad = [name for name in self.methods if not name.replace("-", "").replace("_", "").isalnum()]
        if bad or "multitask" in self.methods:
            raise ValueError(f"method names must be alphanumeric (with - or _) and not 'multitask'; got {bad}")
        for name, hooks in self.methods.items():
            if any(not isinstance(h, dict) or not isinstance(h.get("kind"), str) for h in hooks):
                raise ValueError(f"every hook of method {name!r} needs a 'kind' (a registered hook)")
        return self
