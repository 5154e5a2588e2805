"""Q-Former (Li et al., "BLIP-2: Bootstrapping Language-Image Pre-training with Frozen Image Encoders and
Large Language Models", ICML 2023): ``num_queries`` learned queries read the encoder tokens.

Each of ``depth`` pre-LN layers applies self-attention among the queries, cross-attention from the queries to
the (LayerNorm-ed) encoder tokens and a feed-forward block, each residual. BLIP-2 cross-attends every other
layer; here every layer does, the simpler and more common variant. The queries work at ``width`` (default: the
encoder width); a final LayerNorm and ``Linear(width, D_llm)`` (BLIP-2's language projection) map them into
the LLM. Encoder tokens carry their own positions, so none are added.
``[B, N, D_in]`` → ``[B, num_queries, D_llm]``.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from embodied.models.projectors.base import PROJECTORS, Projector
from embodied.models.projectors.layers import Attention, FeedForward, check_sizes, check_tokens, resolve_width
from embodied.registry import ComponentSettings


class QFormerSettings(ComponentSettings):
    """Settings of the ``qformer`` projector."""

    num_queries: int = Field(32, ge=1, le=4096, description="M, the number of learned queries (BLIP-2: 32)")
    depth: int = Field(2, ge=1, le=48, description="number of self-attention + cross-attention + FFN layers")
    num_heads: int = Field(8, ge=1, le=64, description="attention heads per layer")
    head_dim: int = Field(64, ge=1, le=512, description="width of each attention head")
    ff_mult: int = Field(4, ge=1, le=16, description="feed-forward hidden width as a multiple of `width`")
    width: int | None = Field(
        None, ge=1, le=16384, description="working width of the queries; unset: the encoder width"
    )


class QFormerLayer(nn.Module):
    """Queries ``[B, M, W]``: self-attention, cross-attention to ``[B, N, D_in]`` tokens, feed-forward."""

    def __init__(self, width: int, context_dim: int, settings: QFormerSettings) -> None:
        super().__init__()
        self.norm_self = nn.LayerNorm(width)
        self.self_attn = Attention(width, width, settings.num_heads, settings.head_dim)
        self.norm_cross = nn.LayerNorm(width)
        self.cross_attn = Attention(width, context_dim, settings.num_heads, settings.head_dim)
        self.ff = FeedForward(width, settings.ff_mult)

    def forward(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        normed = self.norm_self(queries)
        queries = queries + self.self_attn(normed, normed)  # [B, M, W]
        queries = queries + self.cross_attn(self.norm_cross(queries), context)  # [B, M, W]
        return queries + self.ff(queries)


@PROJECTORS.register("qformer", QFormerSettings)
class QFormerProjector(Projector):
    """BLIP-2 Q-Former: ``num_queries`` learned queries self-attend and cross-attend to the encoder tokens."""

    settings: QFormerSettings

    def __init__(self, settings: QFormerSettings, in_dim: int, out_dim: int, num_in_tokens: int) -> None:
        check_sizes("qformer", in_dim, out_dim, num_in_tokens)
        super().__init__(settings, in_dim, out_dim, num_in_tokens)
        width = resolve_width(settings.width, in_dim)
        self.context_norm = nn.LayerNorm(in_dim)
        self.queries = nn.Parameter(torch.randn(settings.num_queries, width) * 0.02)  # [M, W]
        self.layers = nn.ModuleList(QFormerLayer(width, in_dim, settings) for _ in range(settings.depth))
        self.norm = nn.LayerNorm(width)
        self.out_proj = nn.Linear(width, out_dim)

    @property
    def num_tokens(self) -> int:
        return self.settings.num_queries

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        check_tokens("qformer", tokens, self.in_dim, self.num_in_tokens)
        context = self.context_norm(tokens)  # [B, N, D_in]
        queries = self.queries.unsqueeze(0).expand(tokens.shape[0], -1, -1)  # [B, M, W]
        for layer in self.layers:
            queries = layer(queries, context)
        return self.out_proj(self.norm(queries))  # [B, M, D_llm]
