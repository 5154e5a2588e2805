"""Settings of the training stages (``stages:`` section): each stage is data, run in order on one model.

A stage names its ``kind`` (``align``: caption pairs, projector only; ``instruct``: SFT on actions, plans and VQA;
``preference``: DPO on correct vs wrong VQA answers; ``rl``: PPO / GRPO from the agent's own rollouts in an env,
set by the stage's ``rl:`` section), its continual-learning ``hooks`` (``embodied.training.continual``), the
``trainable`` policy applied before it (same format as
``model.trainable``; groups left out keep ``model.trainable``'s policy), the ``mixture`` weights per sample kind,
the supervised loop's hyper-parameters (``LoopSettings``: ``max_steps``, ``lr``, ``batch_size``, ...) and, for
``preference``, DPO's ``beta``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from embodied.config.model import POLICY_GROUPS, PolicySpec
from embodied.training.rl.settings import RLSpec
from embodied.training.settings import LoopSettings

StageKind = Literal["align", "instruct", "preference", "rl"]
SAMPLE_KINDS = ("caption", "action", "plan", "vqa")  # embodied.data.KINDS, without importing the data package


class StageSpec(LoopSettings):
    """One training stage; the loop settings (``max_steps``, ``lr``, ...) sit next to ``name`` and ``kind``."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="stage name, also its run sub-dir")
    kind: StageKind = Field(description="align, instruct, preference or rl")
    trainable: dict[str, PolicySpec] = Field(
        default_factory=dict, description="per component group: frozen, full or a PEFT method (as model.trainable)"
    )
    mixture: dict[str, float] = Field(
        default_factory=lambda: {"vqa": 1.0}, description="weight per sample kind (caption, action, plan, vqa)"
    )
    prompt_noise: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="word dropout/replacement/insertion rate on action and plan prompts (instruction augmentation)",
    )
    beta: float = Field(0.1, gt=0, description="DPO β (preference stages only)")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="conservative-DPO ε (preference stages only)")
    rl: RLSpec | None = Field(None, description="env, rollout and algorithm of an rl stage (rl stages only)")
    hooks: list[dict[str, Any]] = Field(
        default_factory=list,
        description="continual-learning hooks guarding earlier skills, run in order: [{kind: replay, ...}, ...]",
    )

    @model_validator(mode="after")
    def _stage_checks(self) -> StageSpec:
        unknown = sorted(set(self.trainable) - set(POLICY_GROUPS))
        if unknown:
            raise ValueError(f"trainable has unknown group(s) {unknown}; expected some of {list(POLICY_GROUPS)}")
        kinds = sorted(set(self.mixture) - set(SAMPLE_KINDS))
        if kinds:
            raise ValueError(f"mixture has unknown sample kind(s) {kinds}; expected some of {list(SAMPLE_KINDS)}")
        if any(w < 0 for w in self.mixture.values()) or not any(w > 0 for w in self.mixture.values()):
            raise ValueError("mixture weights must be >= 0 with at least one positive")
        if self.kind == "preference" and set(k for k, w in self.mixture.items() if w > 0) != {"vqa"}:
            raise ValueError("a preference stage learns from VQA pairs only: its mixture must be {vqa: 1.0}")
        if any(not isinstance(hook.get("kind"), str) for hook in self.hooks):
            raise ValueError("every entry of hooks needs a 'kind' (a registered hook: see `embodied list`)")
        if (self.kind == "rl") != (self.rl is not None):
            raise ValueError("an rl stage needs an 'rl:' section (env, algorithm), and only rl stages take one")
        return self


def default_stages() -> list[StageSpec]:
    """Alignment (captions, projector only), instruction tuning (actions, plans, VQA), DPO on VQA answers."""
    frozen_llm = {"encoders": "frozen", "projector": "full", "backbone": "frozen", "heads": "frozen"}
    return [
        StageSpec(name="align", kind="align", trainable=frozen_llm, mixture={"caption": 1.0}, lr=1e-3),
        StageSpec(name="instruct", kind="instruct", mixture={"action": 0.6, "plan": 0.2, "vqa": 0.2}),
        StageSpec(name="preference", kind="preference", mixture={"vqa": 1.0}, lr=1e-5),
    ]
