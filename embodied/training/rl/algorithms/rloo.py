"""RLOO: REINFORCE with a leave-one-out baseline — Kool et al., "Buy 4 REINFORCE Samples, Get a Baseline for
Free!", ICLR workshop 2019; Ahmadian et al., "Back to Basics: Revisiting REINFORCE Style Optimization for Learning
from Human Feedback in LLMs", 2024.

The cheap baseline: GRPO's groups and collection, but the advantage of episode ``i`` is ``R_i − mean_{j≠i} R_j``
(unbiased, no std scaling) and the loss is plain REINFORCE, ``−mean_t Â · log π_θ(a_t|s_t)`` (+ ``β`` k3 KL),
one on-policy pass per iteration.
"""

from __future__ import annotations

import torch
from pydantic import Field

from embodied.training.rl.advantages import leave_one_out_advantages
from embodied.training.rl.algorithms.base import ALGORITHMS, Learner, Minibatch, k3_kl
from embodied.training.rl.algorithms.grpo import GRPO, GRPOSettings
from embodied.training.rl.policy import PolicyOutput

__all__ = ["RLOO", "RLOOSettings"]


class RLOOSettings(GRPOSettings):
    """RLOO's settings: GRPO's group settings; one epoch, one minibatch (on-policy)."""

    update_epochs: int = Field(1, ge=1, le=1, description="REINFORCE is on-policy: one pass")


@ALGORITHMS.register("rloo", RLOOSettings)
class RLOO(GRPO):
    """REINFORCE with a leave-one-out baseline within each group (Kool et al. 2019; Ahmadian et al. 2024)."""

    def advantages(self, returns: torch.Tensor) -> torch.Tensor:
        return leave_one_out_advantages(returns)

    def minibatch_loss(
        self, out: PolicyOutput, mb: Minibatch, learner: Learner
    ) -> tuple[torch.Tensor, dict[str, float]]:
        s = self.settings
        loss = -(mb.advantages * out.log_prob).mean()
        kl = k3_kl(out.log_prob, learner.reference_log_prob(mb)) if s.beta > 0 else None
        if kl is not None:
            loss = loss + s.beta * kl.mean()
        if s.ent_coef > 0:
            loss = loss - s.ent_coef * out.entropy.mean()
        return loss, {"kl_ref": 0.0 if kl is None else float(kl.mean().detach())}
