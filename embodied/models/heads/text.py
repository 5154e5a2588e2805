"""``text`` head: plans and answers in the LM's own vocabulary (next-token prediction, as in LLaVA and RT-2).

The head has no parameters of its own: it scores hidden states with the backbone's LM head. Training is causal
cross-entropy on the labelled positions; generation decodes token ids that ``predict`` turns back into text.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field

from embodied.models.context import BuildContext
from embodied.models.heads.base import HEADS, Batch, HeadDistribution
from embodied.models.heads.vocabulary import IGNORE_INDEX, VocabularyHead, next_token_pairs
from embodied.registry import ComponentSettings


class TextSettings(ComponentSettings):
    """Settings of the ``text`` head."""

    max_new_tokens: int = Field(default=32, ge=1, le=4096, description="most tokens one answer or plan decodes")
    allow_special_tokens: bool = Field(
        default=False,
        description="let generation emit special tokens other than EOS (roles, modality placeholders, action "
        "bins); off, answers are plain text that ends with EOS",
    )


@HEADS.register("text", TextSettings)
class TextHead(VocabularyHead):
    """Plans and answers through the LM's vocabulary (causal LM loss, decoded text)."""

    has_log_prob = True  # per token, under the same vocabulary constraint generation uses (RL on answers/plans)

    def __init__(self, settings: TextSettings, ctx: BuildContext) -> None:
        super().__init__()
        self.settings = settings
        self._blocked: list[int] = []

    def bind(self, backbone: Any) -> None:
        super().bind(backbone)
        tokenizer = backbone.tokenizer
        eos = tokenizer.eos_token_id
        self._blocked = (
            []
            if self.settings.allow_special_tokens
            else sorted({int(i) for i in tokenizer.all_special_ids if i != eos})
        )

    @property
    def max_new_tokens(self) -> int:
        return self.settings.max_new_tokens

    def has_targets(self, batch: Batch) -> bool:
        labels = batch.get("labels")
        return labels is not None and bool((labels != IGNORE_INDEX).any())

    def loss(self, hidden: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean cross-entropy of the labelled next tokens; ``hidden [B, T, D]``, ``batch["labels"] [B, T]``."""
        states, targets = next_token_pairs(hidden, batch["labels"])
        keep = targets != IGNORE_INDEX  # [B, T-1]
        if not bool(keep.any()):
            # every target was claimed by another head (or masked): a zero that still joins the graph
            return hidden.sum() * 0.0, {"loss": 0.0, "accuracy": 0.0, "tokens": 0.0}
        # LM-head logits only where a label is trained: [N, V] instead of [B, T, V]
        logits = self.backbone.logits(states[keep]).float()
        gold = targets[keep]
        loss = F.cross_entropy(logits, gold)
        accuracy = (logits.argmax(dim=-1) == gold).float().mean()
        return loss, {"loss": float(loss.detach()), "accuracy": float(accuracy), "tokens": float(gold.numel())}

    def distribution_params(self, hidden: torch.Tensor, batch: Batch) -> HeadDistribution | None:
        """LM logits ``[N, V]`` at the labelled next-token positions."""
        states, targets = next_token_pairs(hidden, batch["labels"])
        keep = targets != IGNORE_INDEX
        return HeadDistribution("categorical", self.backbone.logits(states[keep]).float())

    def log_prob(self, actions: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """``log π(tokens)`` ``[B]``: token ids ``actions [B, L]`` scored by the states before each of them
        ``hidden [B, L, D]`` (teacher-forced), under ``constrain_logits``."""
        if actions.shape != hidden.shape[:2]:
            raise ValueError(
                f"expected token ids [B, L] and hidden [B, L, D], got {tuple(actions.shape)}, {tuple(hidden.shape)}"
            )
        logits = self.constrain_logits(self.backbone.logits(hidden).float())
        return torch.log_softmax(logits, dim=-1).gather(-1, actions.long()[..., None])[..., 0].sum(-1)

    def predict(self, hidden: torch.Tensor, **kwargs: Any) -> list[str]:
        """Generated token ids ``[B, L]`` → one string per row (special tokens such as EOS dropped)."""
        if hidden.dim() != 2 or hidden.is_floating_point():
            raise ValueError(f"the text head decodes token ids [B, L], got a {hidden.dtype} {tuple(hidden.shape)}")
        texts: list[str] = self.backbone.tokenizer.batch_decode(hidden.tolist(), skip_special_tokens=True)
        return texts

    def constrain_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits [.., V]`` with every special token except EOS at -inf (unless ``allow_special_tokens``)."""
        if not self._blocked:
            return logits
        return logits.index_fill(-1, torch.tensor(self._blocked, device=logits.device), float("-inf"))
