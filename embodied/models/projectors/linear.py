"""Linear projector: one ``Linear(D_in, D_llm)`` per token, as in LLaVA (Liu et al., "Visual Instruction
Tuning", NeurIPS 2023). Keeps the token count: ``[B, N, D_in]`` → ``[B, N, D_llm]``.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from embodied.models.projectors.base import PROJECTORS, Projector
from embodied.models.projectors.layers import check_sizes, check_tokens
from embodied.registry import ComponentSettings


class LinearSettings(ComponentSettings):
    """Settings of the ``linear`` projector."""

    bias: bool = Field(True, description="add a learned bias to the projection")


@PROJECTORS.register("linear", LinearSettings)
class LinearProjector(Projector):
    """One linear map from encoder width to LLM width per token (LLaVA); M = N."""

    settings: LinearSettings

    def __init__(self, settings: LinearSettings, in_dim: int, out_dim: int, num_in_tokens: int) -> None:
        check_sizes("linear", in_dim, out_dim, num_in_tokens)
        super().__init__(settings, in_dim, out_dim, num_in_tokens)
        self.proj = nn.Linear(in_dim, out_dim, bias=settings.bias)

    @property
    def num_tokens(self) -> int:
        return self.num_in_tokens

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        check_tokens("linear", tokens, self.in_dim, self.num_in_tokens)
        return self.proj(tokens)  # [B, N, D_in] → [B, N, D_llm]
