"""The encoder contract: one modality input → a token sequence ``[B, N, D]``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import nn

from embodied.models.context import BuildContext
from embodied.registry import ComponentSettings, Registry

ENCODERS: Registry[Encoder] = Registry("encoder")


class Encoder(nn.Module, ABC):
    """Maps one modality's processed input to tokens.

    ``modality`` names the batch key the encoder reads: ``"images"`` (one camera ``[B, 3, H, W]``, float,
    normalised by the processor), ``"depth"`` (one camera ``[B, 1, H, W]``, metres) or ``"state"`` (``[B, S]``).
    Image and depth encoders are called once per camera; the model adds a learned camera embedding.
    """

    modality: ClassVar[str] = "images"

    @classmethod
    def from_config(cls, settings: ComponentSettings, ctx: BuildContext) -> Encoder:
        """Build from validated settings; override when construction needs more than ``cls(settings, ctx)``."""
        return cls(settings, ctx)  # type: ignore[call-arg]

    @property
    @abstractmethod
    def embed_dim(self) -> int:
        """D, the width of every output token."""

    @property
    @abstractmethod
    def num_tokens(self) -> int:
        """N, the number of tokens per input (per camera for image/depth encoders)."""

    @abstractmethod
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs`` → ``[B, N, D]``."""

    def dense_features(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """A spatial feature map ``[B, D, h, w]`` before pooling into tokens, where the family has one.

        Pointing heads score every location of this map; encoders without a spatial map return ``None``.
        """
        return None

    def encode(self, inputs: torch.Tensor, dense: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Tokens ``[B, N, D]`` and, when ``dense``, the map ``[B, D, h, w]`` (or ``None``) of one input.

        The default runs ``forward`` and ``dense_features`` (two passes); a family whose tokens are pooled from its
        dense map overrides this to run its trunk once for both (issue 13: the pointer head's map and the LLM's
        tokens come from one encoder pass per training step).
        """
        return self(inputs), (self.dense_features(inputs) if dense else None)
