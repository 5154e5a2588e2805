"""PPO: Schulman et al., "Proximal Policy Optimization Algorithms", 2017 (arXiv:1707.06347).

Follows CleanRL's ``ppo.py`` (Huang et al., "The 37 Implementation Details of Proximal Policy Optimization",
ICLR blog track 2022): GAE, per-minibatch advantage normalisation, the clipped surrogate, optional value
clipping with the same ε, an entropy bonus, ``target_kl`` early stopping; plus an optional k3 KL penalty to the
frozen starting policy (RLHF-style, so a fine-tuned VLA does not drift far from what it imitated). The value head
is a small MLP on the LLM's hidden state at the position just before the first action output (RLinf).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from pydantic import Field

from embodied.registry import ComponentSettings
from embodied.training.rl.advantages import bootstrapped_rewards, gae
from embodied.training.rl.algorithms.base import ALGORITHMS, Learner, RLAlgorithm, UpdateStats, k3_kl, minibatches
from embodied.training.rl.rollout import Collector, Rollout
from embodied.training.rl.settings import RLSpec

__all__ = ["PPO", "PPOSettings", "PPOTerms", "explained_variance", "ppo_terms"]


class PPOSettings(ComponentSettings):
    """PPO's hyper-parameters (CleanRL's defaults); the learning rate is the stage's ``lr``."""

    gamma: float = Field(0.99, ge=0, le=1, description="discount factor γ")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="λ of GAE")
    update_epochs: int = Field(4, ge=1, description="passes over each rollout")
    num_minibatches: int = Field(4, ge=1, description="minibatches per pass")
    clip_coef: float = Field(0.2, gt=0, description="ε of the clipped surrogate (and of value clipping)")
    clip_vloss: bool = Field(True, description="clip the value loss around the rollout's values")
    norm_adv: bool = Field(True, description="normalise advantages within each minibatch")
    ent_coef: float = Field(0.01, ge=0, description="entropy bonus coefficient")
    vf_coef: float = Field(0.5, ge=0, description="value loss coefficient")
    kl_coef: float = Field(0.0, ge=0, description="k3 KL penalty to the frozen starting policy (0: none)")
    target_kl: float | None = Field(None, gt=0, description="stop the epochs once approx_kl exceeds this")
    value_hidden: int = Field(64, ge=1, description="hidden width of the value head MLP")


@dataclass
class PPOTerms:
    """One minibatch's loss terms (scalars) and diagnostics."""

    pg_loss: torch.Tensor
    v_loss: torch.Tensor
    entropy_loss: torch.Tensor
    approx_kl: float
    clipfrac: float


def ppo_terms(
    newlogprob: torch.Tensor,
    oldlogprob: torch.Tensor,
    advantages: torch.Tensor,
    newvalue: torch.Tensor,
    oldvalue: torch.Tensor,
    returns: torch.Tensor,
    entropy: torch.Tensor,
    clip_coef: float,
    clip_vloss: bool = True,
    norm_adv: bool = False,
) -> PPOTerms:
    """The clipped surrogate, the (clipped) value loss and the entropy of one minibatch, CleanRL's formulas."""
    logratio = newlogprob - oldlogprob
    ratio = logratio.exp()
    with torch.no_grad():
        approx_kl = float(((ratio - 1) - logratio).mean())  # the k3 estimator of KL(old ‖ new)
        clipfrac = float(((ratio - 1.0).abs() > clip_coef).float().mean())
    mb_advantages = advantages
    if norm_adv and advantages.numel() > 1:
        mb_advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    # policy loss: the pessimistic (max of the negated) of the unclipped and clipped objectives
    pg_loss1 = -mb_advantages * ratio
    pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
    pg_loss = torch.max(pg_loss1, pg_loss2).mean()
    # value loss
    if clip_vloss:
        v_loss_unclipped = (newvalue - returns) ** 2
        v_clipped = oldvalue + torch.clamp(newvalue - oldvalue, -clip_coef, clip_coef)
        v_loss_clipped = (v_clipped - returns) ** 2
        v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
    else:
        v_loss = 0.5 * ((newvalue - returns) ** 2).mean()
    return PPOTerms(pg_loss, v_loss, entropy.mean(), approx_kl, clipfrac)


def explained_variance(y_pred: torch.Tensor, y_true: torch.Tensor) -> float:
    """``1 − Var[y_true − y_pred] / Var[y_true]`` (NaN when the targets do not vary)."""
    var_y = float(np.var(y_true.numpy()))
    return float("nan") if var_y == 0 else 1.0 - float(np.var((y_true - y_pred).numpy())) / var_y


@ALGORITHMS.register("ppo", PPOSettings)
class PPO(RLAlgorithm):
    """Proximal Policy Optimization with GAE and a value head (Schulman et al. 2017)."""

    uses_critic = True
    settings: PPOSettings

    def __init__(self, settings: PPOSettings, spec: RLSpec) -> None:
        super().__init__(settings, spec)
        self.rollout_steps, self.truncation = spec.rollout_steps, spec.truncation

    @property
    def value_hidden(self) -> int | None:
        return self.settings.value_hidden

    def collect(self, collector: Collector) -> Rollout:
        return collector.steps(self.rollout_steps)

    def prepare(self, rollout: Rollout) -> dict[str, float]:
        s = self.settings
        rewards = bootstrapped_rewards(
            rollout.rewards, rollout.terminated, rollout.truncated, rollout.final_values, s.gamma, self.truncation
        )
        dones = rollout.terminated | rollout.truncated
        rollout.advantages, rollout.returns = gae(
            rewards, rollout.values, dones, rollout.last_values, s.gamma, s.gae_lambda
        )
        return {"explained_variance": explained_variance(rollout.values.flatten(), rollout.returns.flatten())}

    def update(self, rollout: Rollout, learner: Learner) -> dict[str, float]:
        s = self.settings
        stats = UpdateStats()
        for _epoch in range(s.update_epochs):
            for mb in minibatches(rollout, s.num_minibatches, learner.generator):
                out = learner.evaluate(mb)
                assert out.value is not None, "PPO needs the value head"
                terms = ppo_terms(
                    out.log_prob,
                    mb.log_probs,
                    mb.advantages,
                    out.value,
                    mb.values,
                    mb.returns,
                    out.entropy,
                    s.clip_coef,
                    s.clip_vloss,
                    s.norm_adv,
                )
                loss = terms.pg_loss - s.ent_coef * terms.entropy_loss + s.vf_coef * terms.v_loss
                kl_ref = torch.zeros(())
                if s.kl_coef > 0:
                    kl_ref = k3_kl(out.log_prob, learner.reference_log_prob(mb)).mean()
                    loss = loss + s.kl_coef * kl_ref
                record = {
                    "policy_loss": float(terms.pg_loss.detach()),
                    "value_loss": float(terms.v_loss.detach()),
                    "entropy": float(terms.entropy_loss.detach()),
                    "approx_kl": terms.approx_kl,
                    "clipfrac": terms.clipfrac,
                    "kl_ref": float(kl_ref.detach()),
                    **learner.step(loss),
                }
                stats.add(record)
                last_kl = terms.approx_kl
            if s.target_kl is not None and last_kl > s.target_kl:
                break
        return stats.means()
