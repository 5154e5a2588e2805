"""``continuous`` head: a whole action chunk from one forward pass, regressed with L1 (OpenVLA-OFT).

Following Kim et al., "Fine-Tuning Vision-Language-Action Models: Optimizing Speed and Success" (OpenVLA-OFT,
2025): H learned query tokens are appended after the prompt and decoded in parallel (no causal dependence between
them is needed); an MLP maps each query's hidden state ``[D]`` to one step's action ``[A]``, trained with L1 on
the normalised actions. The output is unbounded during training (L1 keeps full gradients at the ±1 edges, where
a tanh would saturate) and clamped to [-1, 1] by ``predict``.

For RL the L1 objective is read as a Laplace likelihood: ``a ~ Laplace(μ(hidden), b)`` with a learned
per-dimension scale ``b = exp(log_scale)``. L1 on μ is the Laplace negative log-likelihood for any fixed b, so
supervised training fits μ and leaves ``log_scale`` to the objectives that use ``log_prob`` (PPO, GRPO), as the
state-independent log-std of a Gaussian policy is learned in PPO.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from pydantic import Field
from torch import nn

from embodied.models.context import BuildContext
from embodied.models.heads.base import HEADS, Batch, Head, HeadDistribution
from embodied.models.heads.chunks import check_queries, chunk_targets, learned_queries, masked_mean
from embodied.registry import ComponentSettings


class ContinuousSettings(ComponentSettings):
    """Settings of the ``continuous`` head."""

    chunk: int = Field(
        default=8, ge=1, le=256, description="H, actions per prediction; one learned query token per step"
    )
    hidden_dim: int = Field(
        default=256, ge=1, le=16384, description="width of the MLP from a query's state to an action"
    )
    init_scale: float = Field(
        default=0.1, gt=0.0, le=10.0, description="initial Laplace scale b of every action dimension (used by log_prob)"
    )


@HEADS.register("continuous", ContinuousSettings)
class ContinuousHead(Head):
    """Parallel decoding of an action chunk from learned queries, L1 loss (OpenVLA-OFT)."""

    has_log_prob = True

    def __init__(self, settings: ContinuousSettings, ctx: BuildContext) -> None:
        super().__init__()
        if ctx.action_dim < 1 or ctx.embed_dim < 1:
            raise ValueError(
                f"the continuous head needs action_dim and embed_dim >= 1, got {ctx.action_dim} and {ctx.embed_dim}"
            )
        self.settings = settings
        self.action_dim, self.embed_dim = ctx.action_dim, ctx.embed_dim
        self.queries = learned_queries(settings.chunk, ctx.embed_dim)  # [H, D]
        self.mlp = nn.Sequential(
            nn.LayerNorm(ctx.embed_dim),
            nn.Linear(ctx.embed_dim, settings.hidden_dim),
            nn.GELU(),
            nn.Linear(settings.hidden_dim, ctx.action_dim),
        )
        self.log_scale = nn.Parameter(torch.full((ctx.action_dim,), math.log(settings.init_scale)))  # [A]

    @property
    def chunk_length(self) -> int:
        return self.settings.chunk

    @property
    def num_queries(self) -> int:
        return self.settings.chunk

    def query_embeddings(self) -> torch.Tensor:
        return self.queries

    def has_targets(self, batch: Batch) -> bool:
        return batch.get("actions") is not None

    def mean(self, hidden: torch.Tensor) -> torch.Tensor:
        """Query states ``[B, H, D]`` → Laplace location μ ``[B, H, A]`` (unbounded)."""
        check_queries("continuous", hidden, self.num_queries, self.embed_dim)
        out: torch.Tensor = self.mlp(hidden).float()
        return out

    def distribution(self, hidden: torch.Tensor) -> torch.distributions.Laplace:
        """The policy ``Laplace(μ [B, H, A], b [A])``."""
        return torch.distributions.Laplace(self.mean(hidden), self.log_scale.float().exp().expand(self.action_dim))

    def loss(self, hidden: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean L1 between μ and ``batch["actions"]`` over real steps (``action_mask``)."""
        targets, weights = chunk_targets(batch, self.chunk_length, self.action_dim)
        loss = masked_mean((self.mean(hidden) - targets).abs(), weights)
        return loss, {"loss": float(loss.detach()), "scale": float(self.log_scale.detach().exp().mean())}

    def distribution_params(self, hidden: torch.Tensor, batch: Batch) -> HeadDistribution | None:
        """The Laplace policy: locations μ ``[B, H, A]`` and the scale b ``[A]``."""
        return HeadDistribution("laplace", self.mean(hidden), self.log_scale.float().exp())

    def log_prob(self, actions: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """Sum of Laplace log-densities of ``actions [B, H, A]`` given query states ``[B, H, D]`` → ``[B]``."""
        if actions.shape[1:] != (self.chunk_length, self.action_dim):
            expected = f"[B, {self.chunk_length}, {self.action_dim}]"
            raise ValueError(f"expected actions {expected}, got {tuple(actions.shape)}")
        return self.distribution(hidden).log_prob(actions.float()).sum(dim=(1, 2))

    def predict(
        self,
        hidden: torch.Tensor,
        sample: bool = False,
        generator: torch.Generator | None = None,
        clip: bool = True,
        temperature: float = 1.0,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Action chunks ``[B, H, A]``: μ, or a Laplace sample drawn with ``generator`` when ``sample`` (scale
        ``b · temperature``, as the RL acting distribution).

        ``clip=False`` returns the raw sample, whose ``log_prob`` is exact; RL rollouts store that one.
        """
        mean = self.mean(hidden)
        if sample:
            # inverse CDF with torch.distributions.Laplace's uniform range, but from the caller's generator
            eps = torch.finfo(mean.dtype).eps
            u = torch.empty(mean.shape, dtype=mean.dtype, device=mean.device)
            u.uniform_(eps - 1.0, 1.0, generator=generator)
            mean = mean - temperature * self.log_scale.float().exp() * u.sign() * torch.log1p(-u.abs())
        return mean.clamp(-1.0, 1.0) if clip else mean
