"""Shared by the parallel heads (``continuous``, ``diffusion``): learned query tokens, action-chunk targets read
from a batch, and the masked mean of a per-element loss.
"""

from __future__ import annotations

import torch
from torch import nn

from embodied.models.heads.base import Batch

#: std of freshly initialised query embeddings: small next to the LM's token embeddings, as for new tokens
QUERY_INIT_STD = 0.02


def learned_queries(count: int, dim: int) -> nn.Parameter:
    """``[Q, D]`` query embeddings, initialised N(0, 0.02²)."""
    return nn.Parameter(torch.randn(count, dim) * QUERY_INIT_STD)


def check_queries(name: str, hidden: torch.Tensor, count: int, dim: int) -> None:
    """``hidden`` must be the query states ``[B, Q, D]``."""
    if hidden.dim() != 3 or tuple(hidden.shape[1:]) != (count, dim):
        raise ValueError(
            f"the {name} head reads the hidden states of its {count} query tokens [B, {count}, {dim}], "
            f"got {tuple(hidden.shape)}"
        )


def chunk_targets(batch: Batch, chunk: int, action_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``chunk`` steps of ``batch["actions"] [B, H', A]`` and their weights ``[B, chunk, 1]``.

    Batches made for several heads carry the longest chunk (H' ≥ H); a head trains on its first H steps.
    ``batch["action_mask"] [B, H']`` (1: real step, 0: padding past an episode's end) becomes the weights.
    """
    actions = batch["actions"]
    if actions.dim() != 3 or actions.shape[1] < chunk or actions.shape[2] != action_dim:
        raise ValueError(
            f"expected batch['actions'] [B, >= {chunk}, {action_dim}] (chunk, action_dim), got {tuple(actions.shape)}"
        )
    mask = batch.get("action_mask")
    if mask is None:
        weights = actions.new_ones(actions.shape[0], chunk, 1)
    else:
        if mask.shape != actions.shape[:2]:
            raise ValueError(f"action_mask {tuple(mask.shape)} does not match actions {tuple(actions.shape[:2])}")
        weights = mask[:, :chunk, None].to(actions.dtype)
    return actions[:, :chunk].float(), weights.float()


def masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of ``values [B, H, A]`` over the elements whose step weight ``[B, H, 1]`` is set."""
    total = (weights.expand_as(values)).sum()
    return (values * weights).sum() / total.clamp(min=1.0)
