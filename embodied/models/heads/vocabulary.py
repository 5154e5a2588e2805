"""Shared by the generative heads (``text``, ``action-tokens``): a borrowed reference to the backbone's LM head
and the next-token pairing of hidden states with labels.

Generative heads own no vocabulary weights: they score hidden states with the backbone's own LM head
(``Backbone.logits``), so tokens added for a head (action bins) are ordinary rows of the LM's embeddings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch

from embodied.models.heads.base import Head

if TYPE_CHECKING:
    from embodied.models.backbones.base import Backbone

#: label value of positions that are not trained (prompt, padding); the ``ignore_index`` of cross-entropy
IGNORE_INDEX = -100


class VocabularyHead(Head):
    """A head that decodes through the LM's vocabulary; ``bind`` gives it the backbone whose LM head it reads."""

    generative: ClassVar[bool] = True
    _backbone: Backbone | None

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "_backbone", None)

    def bind(self, backbone: Any) -> None:
        # object.__setattr__ skips nn.Module.__setattr__, which would register the backbone as a submodule of
        # this head: the LM head (and every other backbone weight) would then appear a second time in the
        # model's state_dict, parameters() and freezing table. The model owns the backbone; heads only borrow it.
        object.__setattr__(self, "_backbone", backbone)

    @property
    def backbone(self) -> Backbone:
        """The bound backbone; an error before ``bind``."""
        if self._backbone is None:
            raise RuntimeError(
                f"{type(self).__name__} is not bound to a backbone: add head.special_tokens() to the backbone's "
                "vocabulary, then call head.bind(backbone)"
            )
        return self._backbone


def next_token_pairs(hidden: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal shift: the state at position t predicts the label at t + 1.

    ``hidden [B, T, D]``, ``labels [B, T]`` → predicting states ``[B, T-1, D]`` and their targets ``[B, T-1]``.
    """
    if hidden.dim() != 3 or hidden.shape[:2] != labels.shape:
        raise ValueError(
            f"hidden states {tuple(hidden.shape)} and labels {tuple(labels.shape)} do not match: expected "
            "hidden [B, T, D] over the same B, T as labels [B, T]"
        )
    return hidden[:, :-1], labels[:, 1:]
