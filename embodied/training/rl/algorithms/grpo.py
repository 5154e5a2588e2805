"""GRPO: Shao et al., "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models", 2024
(arXiv:2402.03300), §4.1 — with SimpleVLA-RL's dynamic sampling (Li et al., "SimpleVLA-RL", 2025) for 0/1 rewards.

No critic: ``G`` episodes from the same reset seed form a group, and each episode's return, normalised within
its group, is the advantage of every step of it (outcome supervision):

    Â_i = (R_i − mean(R)) / (std(R) + eps)              # std Bessel-corrected, as TRL
    L   = −mean_t min(ρ_t Â, clip(ρ_t, 1 − ε, 1 + ε) Â) + β · mean_t k3(π_θ ‖ π_ref)

Dynamic sampling: a group whose returns are all equal has zero advantage everywhere and carries no signal; it
is dropped and more groups are collected (at most ``max_refills`` times), and the dropped fraction is logged.
Every iteration updates on exactly ``groups`` groups (uninformative ones fill in when refills run out), so all
processes take the same number of steps.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from embodied.registry import ComponentSettings
from embodied.training.errors import TrainingError
from embodied.training.rl.advantages import group_advantages
from embodied.training.rl.algorithms.base import (
    ALGORITHMS,
    Learner,
    Minibatch,
    RLAlgorithm,
    UpdateStats,
    k3_kl,
    minibatches,
)
from embodied.training.rl.policy import PolicyOutput
from embodied.training.rl.rollout import Collector, Rollout
from embodied.training.rl.settings import RLSpec

__all__ = ["GRPO", "GRPOSettings", "episode_returns", "grpo_loss"]


class GRPOSettings(ComponentSettings):
    """GRPO's hyper-parameters (TRL's defaults: G 8, β 0, ε 0.2); the learning rate is the stage's ``lr``."""

    group_size: int = Field(8, ge=2, description="G, episodes per group (same reset seed)")
    beta: float = Field(0.0, ge=0, description="k3 KL coefficient to the reference (TRL 0; DeepSeekMath 0.04)")
    clip_coef: float = Field(0.2, gt=0, description="ε of the clipped ratio")
    update_epochs: int = Field(1, ge=1, description="passes over each iteration's samples (μ in the paper)")
    num_minibatches: int = Field(1, ge=1, description="minibatches per pass")
    scale_rewards: bool = Field(True, description="divide by the group's std (False: Dr. GRPO's centring only)")
    eps: float = Field(1e-4, gt=0, description="added to the group std")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus coefficient")
    dynamic_sampling: bool = Field(True, description="drop groups whose returns are all equal and collect more")
    max_refills: int = Field(4, ge=0, description="extra collections per iteration to replace dropped groups")


def episode_returns(rollout: Rollout) -> torch.Tensor:
    """Per sub-env, the return of its (one) episode: the sum of its valid steps' rewards ``[N]``."""
    return (rollout.rewards * rollout.valid.float()).sum(dim=0)


def grpo_loss(
    newlogprob: torch.Tensor,
    oldlogprob: torch.Tensor,
    advantages: torch.Tensor,
    clip_coef: float,
    kl: torch.Tensor | None = None,
    beta: float = 0.0,
) -> tuple[torch.Tensor, float]:
    """The clipped surrogate plus ``β`` · mean k3 KL; also the clipped fraction."""
    ratio = torch.exp(newlogprob - oldlogprob)
    surrogate = torch.min(ratio * advantages, torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef) * advantages)
    loss = -surrogate.mean()
    if kl is not None and beta > 0:
        loss = loss + beta * kl.mean()
    return loss, float(((ratio - 1.0).abs() > clip_coef).float().mean())


@ALGORITHMS.register("grpo", GRPOSettings)
class GRPO(RLAlgorithm):
    """Group Relative Policy Optimization: group-normalised outcome advantages, no critic (Shao et al. 2024)."""

    settings: GRPOSettings

    def __init__(self, settings: GRPOSettings, spec: RLSpec) -> None:
        super().__init__(settings, spec)
        if spec.num_envs % settings.group_size:
            raise TrainingError(
                f"rl.num_envs ({spec.num_envs}) must be a multiple of rl.algorithm.group_size ({settings.group_size}): "
                "each group's episodes run side by side"
            )
        self.groups = spec.num_envs // settings.group_size

    def advantages(self, returns: torch.Tensor) -> torch.Tensor:
        """Per-episode advantages ``[groups, G]`` from the returns ``[groups, G]``."""
        return group_advantages(returns, self.settings.eps, self.settings.scale_rewards)

    def collect(self, collector: Collector) -> Rollout:
        g, collected = self.settings.group_size, 0
        kept: list[tuple[Rollout, int]] = []
        dropped: list[tuple[Rollout, int]] = []
        for _ in range(1 + (self.settings.max_refills if self.settings.dynamic_sampling else 0)):
            seeds = [collector.next_seed() for _ in range(self.groups)]
            part = collector.episodes([s for s in seeds for _ in range(g)], [i // g for i in range(self.groups * g)])
            collected += self.groups
            returns = episode_returns(part).reshape(self.groups, g)
            informative = (returns.max(dim=1).values > returns.min(dim=1).values).tolist()
            for index, useful in enumerate(informative):
                (kept if useful or not self.settings.dynamic_sampling else dropped).append((part, index))
            if len(kept) >= self.groups:
                break
        chosen = (kept + dropped)[: self.groups]  # uninformative groups fill in when refills ran out
        rollout = _select_groups(chosen, g)
        rollout.stats["dropped_groups"] = (collected - len(kept)) / collected if self.settings.dynamic_sampling else 0.0
        rollout.stats["groups_collected"] = float(collected)
        return rollout

    def prepare(self, rollout: Rollout) -> dict[str, float]:
        g = self.settings.group_size
        returns = episode_returns(rollout).reshape(-1, g)
        per_episode = self.advantages(returns).flatten()  # [N]
        rollout.advantages = per_episode.expand_as(rollout.rewards) * rollout.valid.float()
        rollout.returns = returns.flatten().expand_as(rollout.rewards).clone()
        return {"group_return_std": float(returns.std(dim=1).mean()), **rollout.stats}

    def minibatch_loss(
        self, out: PolicyOutput, mb: Minibatch, learner: Learner
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """GRPO's loss on one minibatch (RLOO overrides it)."""
        s = self.settings
        kl = k3_kl(out.log_prob, learner.reference_log_prob(mb)) if s.beta > 0 else None
        loss, clipfrac = grpo_loss(out.log_prob, mb.log_probs, mb.advantages, s.clip_coef, kl, s.beta)
        if s.ent_coef > 0:
            loss = loss - s.ent_coef * out.entropy.mean()
        return loss, {"clipfrac": clipfrac, "kl_ref": 0.0 if kl is None else float(kl.mean().detach())}

    def update(self, rollout: Rollout, learner: Learner) -> dict[str, float]:
        stats = UpdateStats()
        for _epoch in range(self.settings.update_epochs):
            for mb in minibatches(rollout, self.settings.num_minibatches, learner.generator):
                out = learner.evaluate(mb)
                loss, terms = self.minibatch_loss(out, mb, learner)
                with torch.no_grad():
                    logratio = out.log_prob - mb.log_probs
                    approx_kl = float(((logratio.exp() - 1) - logratio).mean())
                record = {
                    "policy_loss": float(loss.detach()),
                    "entropy": float(out.entropy.mean().detach()),
                    "approx_kl": approx_kl,
                    **terms,
                    **learner.step(loss),
                }
                stats.add(record)
        return stats.means()


def _select_groups(chosen: list[tuple[Rollout, int]], group_size: int) -> Rollout:
    """A rollout made of the chosen groups' columns (each from the collection it came from), padded in time."""
    steps = max(part.shape[0] for part, _ in chosen)
    columns = []
    for part, index in chosen:
        rows = list(range(index * group_size, (index + 1) * group_size))
        columns.append(_columns(part, rows, steps))
    n = len(chosen) * group_size
    obs, prompts, actions = [], [], []
    for t in range(steps):
        for c in columns:
            obs += c["observations"][t]
            prompts += c["prompts"][t]
            actions += c["actions"][t]
    names = ("log_probs", "values", "rewards", "terminated", "truncated", "final_values", "valid", "episode")
    stacked: dict[str, Any] = {name: torch.cat([c[name] for c in columns], dim=1) for name in names}
    return Rollout(
        obs,
        prompts,
        actions,
        **stacked,
        group=torch.arange(n).div(group_size, rounding_mode="floor").expand(steps, n).clone(),
        last_values=torch.zeros(n),
    )


def _columns(part: Rollout, rows: list[int], steps: int) -> dict[str, Any]:
    """Sub-env columns ``rows`` of ``part``, padded to ``steps`` with invalid copies of its last step."""
    t_len, n = part.shape
    pick = [min(t, t_len - 1) for t in range(steps)]
    out: dict[str, Any] = {}
    for name in ("log_probs", "values", "rewards", "terminated", "truncated", "final_values", "valid", "episode"):
        column = getattr(part, name)[pick][:, rows]
        if name == "valid":
            column = column & torch.tensor([t < t_len for t in range(steps)])[:, None]
        out[name] = column
    for name in ("observations", "prompts", "actions"):
        values = getattr(part, name)
        out[name] = [[values[p * n + i] for i in rows] for p in pick]
    return out
