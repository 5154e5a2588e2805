"""Shared by the head tests: a tiny real backbone (qwen2, hidden 32, tokenizer trained locally) and bound heads."""

from __future__ import annotations

from typing import Any

import torch

from embodied.models.backbones.base import BACKBONES, Backbone
from embodied.models.backbones.tiny import TINY_BACKBONE_CONFIGS
from embodied.models.catalog import HEADS
from embodied.models.context import BuildContext
from embodied.models.heads.base import Head

ACTION_DIM = 7
#: the first ids of the trained tokenizer are its special tokens (pad, bos, eos, roles); prompts avoid them
FIRST_PLAIN_ID = 10


def tiny_backbone(family: str = "qwen2", seed: int = 0) -> Backbone:
    """The real ``hf-causal-lm`` backbone at test size, in eval mode (no dropout)."""
    entry, settings = BACKBONES.resolve(
        {"kind": "hf-causal-lm", "config": TINY_BACKBONE_CONFIGS[family], "tokenizer": {"vocab_size": 320}}
    )
    torch.manual_seed(seed)
    return entry.target.from_config(settings, BuildContext(embed_dim=0)).eval()


#: width of the dense map that pointing heads score in the head tests (``MMLLM`` reads it from its encoders)
DENSE_DIM = 16


def build_head(spec: dict[str, Any], backbone: Backbone, action_dim: int = ACTION_DIM, seed: int = 0) -> Head:
    """Build a head as ``MMLLM`` does: from its spec, add its tokens to the vocabulary, then bind."""
    entry, settings = HEADS.resolve(spec)
    ctx = BuildContext(embed_dim=backbone.embed_dim, action_dim=action_dim, backbone=backbone)
    ctx.extras["dense_dims"] = {"image": DENSE_DIM}
    torch.manual_seed(seed)
    head = entry.target.from_config(settings, ctx)
    backbone.add_special_tokens(head.special_tokens())
    head.bind(backbone)
    return head


def prompt_ids(backbone: Backbone, batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """Random ids ``[B, L]`` of ordinary tokens of the original vocabulary."""
    vocab = len(backbone.tokenizer) - len(getattr(backbone, "added_token_ids", []))
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(FIRST_PLAIN_ID, vocab, (batch, length), generator=generator)


def hidden_states(backbone: Backbone, ids: torch.Tensor, queries: torch.Tensor | None = None) -> torch.Tensor:
    """Last hidden states ``[B, T (+ Q), D]`` of ``ids [B, T]``, with query embeddings ``[Q, D]`` appended."""
    embeds = backbone.input_embeddings(ids)
    if queries is not None:
        embeds = torch.cat([embeds, queries.unsqueeze(0).expand(ids.shape[0], -1, -1)], dim=1)
    mask = torch.ones(embeds.shape[:2], dtype=torch.long)
    return backbone(embeds, mask).hidden


def labelled(prompt: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[prompt | targets]`` ids and labels that train only the targets (-100 on the prompt)."""
    ids = torch.cat([prompt, targets], dim=1)
    labels = torch.cat([torch.full_like(prompt, -100), targets], dim=1)
    return ids, labels


def dense_features(batch: int, seed: int = 0, size: int = 16) -> dict[str, torch.Tensor]:
    """``{"image/front": [B, DENSE_DIM, size, size]}``: a fixed random map for pointing heads."""
    generator = torch.Generator().manual_seed(seed)
    return {"image/front": torch.randn(batch, DENSE_DIM, size, size, generator=generator)}


def point_targets(batch: int, queries: int, seed: int = 0, image_size: int = 32) -> torch.Tensor:
    """Random target pixels ``[B, K, 2]`` (u, v) inside a ``image_size`` square image."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, image_size, (batch, queries, 2), generator=generator).float()
