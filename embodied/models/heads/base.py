"""The output-head contract: LLM hidden states → a loss for training and outputs for acting or answering.

Two kinds of head:

- *generative* heads (``text``, ``action-tokens``) read the LM's vocabulary logits and decode token by token
  through ``MMLLM.generate``; ``loss`` gets the full hidden sequence ``[B, T, D]`` and ``batch["labels"]``.
- *parallel* heads (``continuous``, ``diffusion``) own ``num_queries`` learned query embeddings that the model
  appends after the prompt; ``loss``/``predict``/``log_prob`` get the hidden states at those positions
  ``[B, Q, D]``. One forward pass gives a whole action chunk.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from embodied.models.context import BuildContext
from embodied.registry import ComponentSettings, Registry

HEADS: Registry[Head] = Registry("head")

Batch = dict[str, Any]


@dataclass
class HeadDistribution:
    """A head's output distribution at its trained positions, for distillation (LwF).

    ``categorical``: ``params`` are logits ``[N, C]`` (one row per predicted token / argument);
    ``laplace``: ``params`` are locations ``[N, ...]`` with the fixed per-dimension ``scale``.
    """

    family: Literal["categorical", "laplace"]
    params: torch.Tensor
    scale: torch.Tensor | None = None


class Head(nn.Module, ABC):
    """Base of every output head."""

    #: decodes autoregressively through the LM's vocabulary (True) or in one pass from query tokens (False)
    generative: ClassVar[bool] = False
    #: True when ``log_prob`` is defined (RL needs it)
    has_log_prob: ClassVar[bool] = False
    #: True for heads that score image locations: the model then adds ``batch["dense_features"]``
    #: (``{"<stream>/<camera>": [B, D, h, w]}``) to the batch ``loss`` reads, and passes it to ``predict``
    #: as the keyword ``dense_features``
    uses_dense_features: ClassVar[bool] = False

    @classmethod
    def from_config(cls, settings: ComponentSettings, ctx: BuildContext) -> Head:
        return cls(settings, ctx)  # type: ignore[call-arg]

    @property
    def chunk_length(self) -> int:
        """H, the number of env actions one prediction yields (0 for heads that output text)."""
        return 0

    @property
    def num_queries(self) -> int:
        """Q, learned query tokens appended to the sequence (parallel heads only)."""
        return 0

    def query_embeddings(self) -> torch.Tensor | None:
        """``[Q, D]`` learned query embeddings, or ``None``."""
        return None

    def special_tokens(self) -> list[str]:
        """NEW tokens this head needs in the vocabulary (added before ``bind``)."""
        return []

    def bind(self, backbone: Any) -> None:
        """Called once the backbone's vocabulary holds ``special_tokens()``: look up ids, keep the LM head."""

    def claimed_token_ids(self) -> list[int]:
        """Label ids this head trains; the text head ignores them so no target is counted twice."""
        return []

    @abstractmethod
    def has_targets(self, batch: Batch) -> bool:
        """Whether ``batch`` carries targets for this head."""

    @abstractmethod
    def loss(self, hidden: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Scalar loss and float metrics (e.g. token accuracy) for ``hidden`` (see module docstring)."""

    @abstractmethod
    def predict(self, hidden: torch.Tensor, **kwargs: Any) -> Any:
        """Parallel heads: outputs from query hidden states ``[B, Q, D]`` (actions ``[B, H, A]``).

        Generative heads: ``hidden`` is the token ids ``[B, L]`` produced by ``MMLLM.generate``; returns the
        decoded output (texts, or actions ``[B, H, A]``).
        """

    def distribution_params(self, hidden: torch.Tensor, batch: Batch) -> HeadDistribution | None:
        """The head's output distribution where ``batch`` has targets (read like ``loss``), for distillation;
        ``None`` for a head without a tractable one (diffusion)."""
        return None

    def log_prob(self, actions: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """``log π(actions | hidden)`` per sample ``[B]``; defined where ``has_log_prob`` is True."""
        raise NotImplementedError(f"head {type(self).__name__} has no tractable log_prob")

    def constrain_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Generative heads: restrict next-token ``logits [B, V]`` to this head's vocabulary (default: none)."""
        return logits

    @property
    def max_new_tokens(self) -> int:
        """Generative heads: the number of tokens one prediction decodes."""
        return 0
