"""Building blocks shared by the projector families: shape checks, attention, feed-forward, positions.

Attention is written out (rather than ``nn.MultiheadAttention``) so that queries and keys may have different
widths and the inner width is ``num_heads × head_dim`` whatever the model width, as in Flamingo's resampler.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def check_sizes(family: str, in_dim: int, out_dim: int, num_in_tokens: int) -> None:
    """Refuse non-positive sizes when a projector is built, naming the family and the bad value."""
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("num_in_tokens", num_in_tokens)):
        if value < 1:
            raise ValueError(f"{family} projector needs {name} >= 1, got {value}")


def check_tokens(family: str, tokens: torch.Tensor, in_dim: int, num_in_tokens: int) -> None:
    """Raise ``ValueError`` unless ``tokens`` is ``[B, num_in_tokens, in_dim]`` (no silent broadcast)."""
    if tokens.dim() != 3 or tokens.shape[1] != num_in_tokens or tokens.shape[2] != in_dim:
        raise ValueError(
            f"{family} projector expects tokens of shape [B, {num_in_tokens}, {in_dim}], got {list(tokens.shape)}"
        )


def resolve_width(width: int | None, in_dim: int) -> int:
    """The working width of a resampler: ``width`` when set, else the encoder's width (Flamingo, BLIP-2)."""
    return in_dim if width is None else width


class Attention(nn.Module):
    """Multi-head attention of ``[B, M, D_q]`` queries over a ``[B, L, D_kv]`` context → ``[B, M, D_q]``.

    No normalisation inside: callers apply their pre-LNs, since Flamingo and BLIP-2 normalise differently.
    """

    def __init__(self, query_dim: int, context_dim: int, num_heads: int, head_dim: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim
        inner = num_heads * head_dim
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Linear(inner, query_dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        # [B, L, H·Dh] → [B, H, L, Dh]
        b, length, _ = x.shape
        return x.view(b, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q = self._split(self.to_q(query))  # [B, H, M, Dh]
        k, v = self._split(self.to_k(context)), self._split(self.to_v(context))  # [B, H, L, Dh]
        out = F.scaled_dot_product_attention(q, k, v)  # [B, H, M, Dh]
        b, _, m, _ = out.shape
        return self.to_out(out.transpose(1, 2).reshape(b, m, self.num_heads * self.head_dim))


class FeedForward(nn.Module):
    """Pre-LN feed-forward ``LN → Linear(D, mult·D) → GELU → Linear(mult·D, D)``; residual is the caller's."""

    def __init__(self, dim: int, mult: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, mult * dim), nn.GELU(), nn.Linear(mult * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """Fixed sin/cos position table ``[length, dim]`` (Vaswani et al. 2017); an odd ``dim`` drops a cosine."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # [L, 1]
    half = (dim + 1) // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / max(half, 1)))  # [half]
    angles = position * freqs  # [L, half]
    table = torch.zeros(length, 2 * half)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles)
    return table[:, :dim]
