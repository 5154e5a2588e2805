"""Perceiver resampler (Alayrac et al., "Flamingo: a Visual Language Model for Few-Shot Learning",
NeurIPS 2022; also IDEFICS/IDEFICS2): ``num_latents`` learned latent tokens read any number of encoder tokens.

Each of ``depth`` layers lets the latents attend to the concatenation ``[inputs; latents]`` (Flamingo's
keys/values), then applies a feed-forward block, both pre-LN and residual. Inputs first get a position
embedding over their ``num_in_tokens`` positions (learned, as Flamingo's time embeddings, or sinusoidal), and
the resampler works at ``width`` (default: the encoder width, as in Flamingo); a final LayerNorm and
``Linear(width, D_llm)`` map the latents into the LLM. ``[B, N, D_in]`` → ``[B, num_latents, D_llm]``.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from embodied.models.projectors.base import PROJECTORS, Projector
from embodied.models.projectors.layers import (
    Attention,
    FeedForward,
    check_sizes,
    check_tokens,
    resolve_width,
    sinusoidal_positions,
)
from embodied.registry import ComponentSettings


class PerceiverSettings(ComponentSettings):
    """Settings of the ``perceiver`` projector."""

    num_latents: int = Field(64, ge=1, le=4096, description="M, the number of learned latents")
    depth: int = Field(2, ge=1, le=48, description="number of cross-attention + feed-forward layers")
    num_heads: int = Field(8, ge=1, le=64, description="attention heads per layer")
    head_dim: int = Field(64, ge=1, le=512, description="width of each attention head")
    ff_mult: int = Field(4, ge=1, le=16, description="feed-forward hidden width as a multiple of `width`")
    width: int | None = Field(
        None, ge=1, le=16384, description="working width of the latents; unset: the encoder width (Flamingo)"
    )
    positions: Literal["learned", "sinusoidal"] = Field(
        "learned", description="position embedding added to the input tokens: learned or fixed sinusoidal"
    )


class PerceiverLayer(nn.Module):
    """Latents ``[B, M, W]`` attend to ``[inputs; latents]`` ``[B, N + M, W]``, then a feed-forward block."""

    def __init__(self, width: int, settings: PerceiverSettings) -> None:
        super().__init__()
        self.norm_media = nn.LayerNorm(width)
        self.norm_latents = nn.LayerNorm(width)
        self.attn = Attention(width, width, settings.num_heads, settings.head_dim)
        self.ff = FeedForward(width, settings.ff_mult)

    def forward(self, media: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        query = self.norm_latents(latents)  # [B, M, W]
        context = torch.cat([self.norm_media(media), query], dim=1)  # [B, N + M, W]
        latents = latents + self.attn(query, context)
        return latents + self.ff(latents)


@PROJECTORS.register("perceiver", PerceiverSettings)
class PerceiverProjector(Projector):
    """Flamingo Perceiver resampler: ``num_latents`` learned latents cross-attend to the encoder tokens."""

    settings: PerceiverSettings

    def __init__(self, settings: PerceiverSettings, in_dim: int, out_dim: int, num_in_tokens: int) -> None:
        check_sizes("perceiver", in_dim, out_dim, num_in_tokens)
        super().__init__(settings, in_dim, out_dim, num_in_tokens)
        width = resolve_width(settings.width, in_dim)
        self.in_proj: nn.Module = nn.Linear(in_dim, width) if width != in_dim else nn.Identity()
        self.position: torch.Tensor
        if settings.positions == "learned":
            self.position = nn.Parameter(torch.randn(num_in_tokens, width) * 0.02)  # [N, W]
        else:
            self.register_buffer("position", sinusoidal_positions(num_in_tokens, width), persistent=False)
        self.latents = nn.Parameter(torch.randn(settings.num_latents, width) * 0.02)  # [M, W]
        self.layers = nn.ModuleList(PerceiverLayer(width, settings) for _ in range(settings.depth))
        self.norm = nn.LayerNorm(width)
        self.out_proj = nn.Linear(width, out_dim)

    def reset_buffers(self) -> None:
        """Recompute the sinusoidal table (``from_pretrained`` builds on the meta device; see MMLLM)."""
        if self.settings.positions != "learned":
            self.position = sinusoidal_positions(self.num_in_tokens, self.position.shape[-1]).to(self.latents.device)

    @property
    def num_tokens(self) -> int:
        return self.settings.num_latents

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        check_tokens("perceiver", tokens, self.in_dim, self.num_in_tokens)
        media = self.in_proj(tokens) + self.position  # [B, N, W]
        latents = self.latents.unsqueeze(0).expand(tokens.shape[0], -1, -1)  # [B, M, W]
        for layer in self.layers:
            latents = layer(media, latents)
        return self.out_proj(self.norm(latents))  # [B, M, D_llm]
