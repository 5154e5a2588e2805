"""Settings of an ``rl`` stage (``stages.N.rl:``), importable without torch (the config schema reuses them).

An ``rl`` stage learns from the agent's own interaction: every iteration (one ``max_steps`` unit of the stage)
rolls the current policy out in a gymnasium vector env and updates it with the stage's algorithm
(``algorithm: {kind: ppo | grpo | rloo, ...}``, validated against the ``ALGORITHMS`` registry). The learning rate,
its warm-up/cosine schedule, gradient clipping, checkpoint and log cadence are the stage's loop settings, as in
every other stage.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["PromptKind", "RLSpec", "RewardKind", "SelfImitationSettings", "TruncationMode"]

PromptKind = Literal["auto", "action", "plan", "vqa", "instruction"]
RewardKind = Literal["env", "success"]
TruncationMode = Literal["bootstrap", "terminate"]


class SelfImitationSettings(BaseModel):
    """``rl.self_imitation``: extra updates on the agent's own better-than-expected steps (off when ``steps`` is 0)."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(0, ge=0, description="optimizer steps on the buffer after each iteration's update (0: off)")
    batch_size: int = Field(32, ge=1, description="buffer steps per optimizer step (drawn with replacement)")
    capacity: int = Field(2000, ge=1, description="steps the buffer keeps (first in, first out)")
    coef: float = Field(1.0, gt=0, description="multiplies the self-imitation loss")
    weighting: Literal["uniform", "advantage"] = Field(
        "uniform", description="uniform: imitate every kept step alike; advantage: weight each by its advantage"
    )


class RLSpec(BaseModel):
    """Where and how an ``rl`` stage rolls out; the field descriptions are the help text."""

    model_config = ConfigDict(extra="forbid")

    env: str = Field(min_length=1, description="gymnasium env id, e.g. embodied/PickPlace-v0 or module:Id-v0")
    env_kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of gymnasium.make")
    adapter: dict[str, Any] | None = Field(
        None,
        description="wrap the env in GymAdapter with these arguments (third-party envs), e.g. {discrete_mode: bins}",
    )
    num_envs: int = Field(4, ge=1, le=1024, description="sub-envs of the vector env (GRPO: groups × group_size)")
    vector: Literal["sync", "async"] = Field(
        "sync", description="SyncVectorEnv or AsyncVectorEnv (worth it for slow envs)"
    )
    head: str | None = Field(None, description="head that acts (default: the first head with a log-prob)")
    prompt: PromptKind = Field(
        "auto",
        description="prompt: action, plan (the training prompts), vqa (the question), instruction (the bare "
        "instruction: short, for RL from scratch) or auto (vqa when the env asks questions, else action/plan)",
    )
    rollout_steps: int = Field(
        128, ge=1, description="env steps per sub-env per iteration (episodes carry over between iterations)"
    )
    temperature: float = Field(1.0, gt=0, description="sampling temperature of the acting distribution")
    prompt_noise: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="word dropout/replacement/insertion rate on the prompts of sampled rollouts (as the instruct "
        "stage's prompt_noise; greedy evaluation episodes see the clean prompts)",
    )
    reward: RewardKind = Field("env", description="env: the env's reward; success: 1 on info[success_key], else 0")
    success_key: str = Field("success", min_length=1, description="info key that marks success (is_success, ...)")
    reward_scale: float = Field(1.0, gt=0, description="multiplies every reward before the update")
    truncation: TruncationMode = Field(
        "bootstrap",
        description="bootstrap: a time-out adds γ·V(final obs) (stable-baselines3); "
        "terminate: treat it as a termination (CleanRL)",
    )
    seed: int = Field(0, ge=0, description="first episode seed; episode k of the run gets seed + k")
    eval_episodes: int = Field(0, ge=0, description="greedy episodes on held-out seeds at every eval (0: none)")
    eval_seed: int = Field(1_000_000, ge=0, description="first seed of the evaluation episodes")
    eval_max_steps: int = Field(
        10_000, ge=1, description="cap on an evaluation episode's steps (the env's own limit first)"
    )
    self_imitation: SelfImitationSettings = Field(
        default_factory=SelfImitationSettings,
        description="extra updates on the agent's own better-than-expected steps (Oh et al. 2018); off by default",
    )
    algorithm: dict[str, Any] = Field(
        default_factory=lambda: {"kind": "ppo"}, description="{kind: ppo | grpo | rloo, ...its settings}"
    )

    @model_validator(mode="after")
    def _algorithm_kind(self) -> RLSpec:
        if not isinstance(self.algorithm.get("kind"), str) or not self.algorithm["kind"]:
            raise ValueError("rl.algorithm needs 'kind: <registered algorithm>' (see `embodied list`)")
        return self
