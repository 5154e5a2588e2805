"""The projector contract: encoder tokens ``[B, N, D_in]`` → LLM-space tokens ``[B, M, D_llm]``."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from embodied.registry import ComponentSettings, Registry

PROJECTORS: Registry[Projector] = Registry("projector")


class Projector(nn.Module, ABC):
    """Maps one encoder's tokens into the LLM's embedding space (M may differ from N: resamplers compress)."""

    def __init__(self, settings: ComponentSettings, in_dim: int, out_dim: int, num_in_tokens: int) -> None:
        super().__init__()
        self.settings = settings
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.num_in_tokens = num_in_tokens

    @classmethod
    def from_config(cls, settings: ComponentSettings, in_dim: int, out_dim: int, num_in_tokens: int) -> Projector:
        return cls(settings, in_dim, out_dim, num_in_tokens)

    @property
    @abstractmethod
    def num_tokens(self) -> int:
        """M, the number of output tokens for ``num_in_tokens`` inputs."""

    @abstractmethod
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, N, D_in]`` → ``[B, M, D_llm]``."""
