"""Advantage estimators over a rollout: GAE (PPO's critic-based) and group-relative (GRPO's critic-free).

Shapes are ``[T, N]`` (time steps × sub-envs) for GAE and ``[G, K]`` (groups × samples per group) for groups.
"""

from __future__ import annotations

import torch

__all__ = ["bootstrapped_rewards", "gae", "group_advantages", "leave_one_out_advantages"]


def bootstrapped_rewards(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    final_values: torch.Tensor,
    gamma: float,
    truncation: str = "bootstrap",
) -> torch.Tensor:
    """Rewards with ``γ · V(s_final)`` added where an episode was truncated (a time-out, not a real end).

    stable-baselines3 does this (``truncation="bootstrap"``): the episode did not end, the env merely stopped it,
    so the return goes on beyond the cut. CleanRL treats a truncation as a termination (``"terminate"``): the
    rewards stay as they are. All inputs ``[T, N]``; ``final_values`` is read only where ``truncated``.
    """
    if truncation == "terminate":
        return rewards
    if truncation != "bootstrap":
        raise ValueError(f"truncation must be 'bootstrap' or 'terminate', got {truncation!r}")
    cut = truncated.bool() & ~terminated.bool()
    return rewards + gamma * final_values * cut.to(rewards.dtype)


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized Advantage Estimation (Schulman et al., "High-Dimensional Continuous Control Using Generalized
    Advantage Estimation", ICLR 2016), as in CleanRL's ``ppo.py``.

    ``rewards``, ``values``, ``dones`` ``[T, N]`` where ``dones[t]`` says the episode ended AT step ``t`` (so
    ``s_{t+1}`` belongs to a new episode); ``last_values [N]`` = V(s_T) after the last step. Returns
    ``(advantages, returns)`` ``[T, N]``, ``returns = advantages + values`` (the value targets).

        δ_t = r_t + γ V(s_{t+1}) (1 − done_t) − V(s_t)
        A_t = δ_t + γ λ (1 − done_t) A_{t+1}
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    lastgaelam = torch.zeros_like(last_values)
    for t in reversed(range(steps)):
        nextnonterminal = 1.0 - dones[t].to(rewards.dtype)
        nextvalues = last_values if t == steps - 1 else values[t + 1]
        delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
        lastgaelam = delta + gamma * gae_lambda * nextnonterminal * lastgaelam
        advantages[t] = lastgaelam
    return advantages, advantages + values


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4, scale: bool = True) -> torch.Tensor:
    """GRPO's outcome advantage (Shao et al., "DeepSeekMath", 2024, §4.1.2): within each group of samples from
    the same prompt (here: the same reset seed), ``Â_i = (r_i − mean(r)) / (std(r) + eps)``.

    ``rewards [G, K]`` → ``[G, K]``. ``std`` is Bessel-corrected (``torch.std``'s default, as TRL computes it);
    ``scale=False`` keeps only the centring (Dr. GRPO, Liu et al. 2025). A group whose rewards are all equal
    gives zeros: it carries no learning signal.
    """
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(f"group rewards must be [groups, group_size >= 2], got {tuple(rewards.shape)}")
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if not scale:
        return centred
    return centred / (rewards.std(dim=1, keepdim=True) + eps)


def leave_one_out_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """RLOO's baseline (Ahmadian et al., "Back to Basics: Revisiting REINFORCE Style Optimization for Learning
    from Human Feedback in LLMs", 2024): ``Â_i = r_i − mean_{j≠i} r_j`` within each group ``[G, K]``."""
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(f"group rewards must be [groups, group_size >= 2], got {tuple(rewards.shape)}")
    k = rewards.shape[1]
    return rewards * k / (k - 1) - rewards.sum(dim=1, keepdim=True) / (k - 1)
