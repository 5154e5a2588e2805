"""The backbone contract: a Hugging Face causal LM that reads embeddings and returns hidden states.

Nothing family-specific leaks out: callers see ``embed_dim``, the tokenizer, the input/output embeddings,
the default PEFT target modules and ``forward(inputs_embeds, attention_mask, ...)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from embodied.models.context import BuildContext
from embodied.registry import ComponentSettings, Registry

BACKBONES: Registry[Backbone] = Registry("backbone")


@dataclass
class BackboneOutput:
    """``hidden``: last-layer states ``[B, T, D]``; ``past_key_values``: the KV cache when ``use_cache``."""

    hidden: torch.Tensor
    past_key_values: Any = None


class Backbone(nn.Module, ABC):
    """Wraps an ``AutoModelForCausalLM`` (built from a config dict or a local path) and its tokenizer."""

    #: the wrapped causal LM (a ``PeftModel`` once a PEFT method is applied)
    model: nn.Module

    @classmethod
    def from_config(cls, settings: ComponentSettings, ctx: BuildContext) -> Backbone:
        return cls(settings, ctx)  # type: ignore[call-arg]

    @property
    @abstractmethod
    def embed_dim(self) -> int:
        """D_llm, the hidden size."""

    @property
    @abstractmethod
    def tokenizer(self) -> Any:
        """The ``PreTrainedTokenizerBase`` that goes with the model (saved with it)."""

    @property
    @abstractmethod
    def input_embeddings(self) -> nn.Embedding:
        """Token embedding table ``[V, D]``."""

    @property
    @abstractmethod
    def output_embeddings(self) -> nn.Module:
        """The LM head mapping ``[.., D]`` → ``[.., V]``."""

    @property
    @abstractmethod
    def default_peft_targets(self) -> list[str]:
        """Module names PEFT methods target by default for this family (never bare "all-linear")."""

    @abstractmethod
    def hf_config_dict(self) -> dict[str, Any]:
        """The underlying ``PretrainedConfig`` as a dict, so a saved model rebuilds without the source path."""

    @abstractmethod
    def add_special_tokens(self, tokens: list[str]) -> list[int]:
        """Add NEW special tokens (existing ids never change), resize embeddings, return the new tokens' ids."""

    @abstractmethod
    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        past_key_values: Any = None,
        use_cache: bool = False,
        position_ids: torch.Tensor | None = None,
    ) -> BackboneOutput:
        """Run the LM on ``inputs_embeds [B, T, D]`` and return last-layer hidden states."""

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits ``[.., V]`` for hidden states ``[.., D]`` through the LM head."""
        out: torch.Tensor = self.output_embeddings(hidden)
        return out
