"""MLP projector with GELU, the ``mlp2x_gelu`` connector of LLaVA-1.5 (Liu et al., "Improved Baselines with
Visual Instruction Tuning", CVPR 2024). ``depth`` counts Linear layers (LLaVA's ``mlp{depth}x_gelu``); every
hidden layer is ``hidden_mult × D_llm`` wide (LLaVA-1.5 uses 1). Keeps the token count:
``[B, N, D_in]`` → ``[B, N, D_llm]``.
"""

from __future__ import annotations

import itertools

import torch
from pydantic import Field
from torch import nn

from embodied.models.projectors.base import PROJECTORS, Projector
from embodied.models.projectors.layers import check_sizes, check_tokens
from embodied.registry import ComponentSettings


class MLPSettings(ComponentSettings):
    """Settings of the ``mlp`` projector."""

    depth: int = Field(2, ge=1, le=8, description="number of Linear layers (GELU between them); 1 is linear")
    hidden_mult: float = Field(
        1.0, gt=0.0, le=16.0, description="hidden width as a multiple of the LLM width (LLaVA-1.5: 1)"
    )


@PROJECTORS.register("mlp", MLPSettings)
class MLPProjector(Projector):
    """LLaVA-1.5 MLP connector: ``Linear → GELU → Linear`` per token; M = N."""

    settings: MLPSettings

    def __init__(self, settings: MLPSettings, in_dim: int, out_dim: int, num_in_tokens: int) -> None:
        check_sizes("mlp", in_dim, out_dim, num_in_tokens)
        super().__init__(settings, in_dim, out_dim, num_in_tokens)
        hidden = max(1, round(settings.hidden_mult * out_dim))
        widths = [in_dim] + [hidden] * (settings.depth - 1) + [out_dim]
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(itertools.pairwise(widths)):
            if i > 0:
                layers.append(nn.GELU())
            layers.append(nn.Linear(d_in, d_out))
        self.net = nn.Sequential(*layers)

    @property
    def num_tokens(self) -> int:
        return self.num_in_tokens

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        check_tokens("mlp", tokens, self.in_dim, self.num_in_tokens)
        return self.net(tokens)  # [B, N, D_in] → [B, N, D_llm]
