"""``action-tokens`` head: actions as discrete LM tokens, decoded autoregressively (RT-2; OpenVLA).

Each action dimension in [-1, 1] is cut into ``bins`` uniform bins (OpenVLA uses 256: Kim et al., "OpenVLA: An
Open-Source Vision-Language-Action Model", 2024). Unlike OpenVLA, which overwrites the 256 least-used entries of
the vocabulary, the bins here are NEW special tokens ``<act_0>`` … ``<act_{bins-1}>`` shared by every dimension,
so each original token keeps its id and meaning. A chunk of H steps is H × A tokens in step-major order
(``a[0,0] … a[0,A-1] a[1,0] …``); a token decodes to its bin centre, within half a bin width of the action.

Decoding is restricted to the bin tokens (``constrain_logits`` in ``MMLLM.generate``; the
``ActionTokenLogitsProcessor`` for ``transformers`` ``generate``). The loss and ``log_prob`` use a softmax over
the bin tokens only — exactly the distribution constrained sampling draws from. ``ordinal_sigma`` spreads the
target over neighbouring bins with a Gaussian in bin units (the HL-Gauss target of Imani & White, "Improving
Regression Performance with Distributional Losses", ICML 2018): a neighbouring bin is a nearly right action.

Discrete actions (issue 14): with ``model.discrete_actions: n`` and ``bins: n`` the processor maps index ``k`` to
the centre of bin ``k``, so bins and indices are one-to-one and this head is the categorical policy over the ``n``
indices — exact decoding, ``log_prob`` for the ``rl`` stage, distillation — without a separate categorical head
(which would duplicate the constrained decoding and every RL/LwF path built on this one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from pydantic import Field
from transformers import LogitsProcessor

from embodied.models.context import BuildContext
from embodied.models.heads.base import HEADS, Batch, HeadDistribution
from embodied.models.heads.vocabulary import VocabularyHead, next_token_pairs
from embodied.registry import ComponentSettings


class ActionTokensSettings(ComponentSettings):
    """Settings of the ``action-tokens`` head."""

    bins: int = Field(
        default=256, ge=2, le=4096, description="uniform bins over [-1, 1] per action dimension (OpenVLA: 256)"
    )
    chunk: int = Field(
        default=1, ge=1, le=64, description="H, env steps per prediction; one prediction is H × A tokens"
    )
    label_smoothing: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="mass spread uniformly over all bins in the target (0: none)"
    )
    ordinal_sigma: float = Field(
        default=0.0,
        ge=0.0,
        le=64.0,
        description="std, in bins, of a Gaussian target over neighbouring bins (HL-Gauss); 0: one-hot target",
    )


def action_token(index: int) -> str:
    """The vocabulary entry of bin ``index``."""
    return f"<act_{index}>"


def keep_only(logits: torch.Tensor, token_ids: Sequence[int]) -> torch.Tensor:
    """``logits [.., V]`` with every id outside ``token_ids`` set to -inf."""
    allowed = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
    allowed[torch.tensor(list(token_ids), device=logits.device)] = True
    return logits.masked_fill(~allowed, float("-inf"))


class ActionTokenLogitsProcessor(LogitsProcessor):
    """``transformers`` ``generate`` hook: only action tokens may be sampled or picked greedily."""

    def __init__(self, token_ids: Sequence[int]) -> None:
        if not token_ids:
            raise ValueError("ActionTokenLogitsProcessor needs the action token ids (head.claimed_token_ids())")
        self.token_ids = [int(i) for i in token_ids]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return keep_only(scores, self.token_ids)  # type: ignore[return-value]


@HEADS.register("action-tokens", ActionTokensSettings)
class ActionTokensHead(VocabularyHead):
    """Binned actions as new special tokens, decoded with a constrained vocabulary (OpenVLA-style)."""

    has_log_prob = True

    def __init__(self, settings: ActionTokensSettings, ctx: BuildContext) -> None:
        super().__init__()
        if ctx.action_dim < 1:
            raise ValueError(f"the action-tokens head needs action_dim >= 1, got {ctx.action_dim}")
        self.settings = settings
        self.action_dim = ctx.action_dim
        self._token_ids: list[int] = []

    # ------------------------------------------------------------------------------------------ vocabulary
    @property
    def chunk_length(self) -> int:
        return self.settings.chunk

    @property
    def max_new_tokens(self) -> int:
        return self.settings.chunk * self.action_dim

    @property
    def bin_width(self) -> float:
        return 2.0 / self.settings.bins

    def special_tokens(self) -> list[str]:
        return [action_token(i) for i in range(self.settings.bins)]

    def bind(self, backbone: Any) -> None:
        """Look up the ids of the bin tokens, which must already be in the backbone's vocabulary."""
        super().bind(backbone)
        tokenizer = backbone.tokenizer
        tokens = self.special_tokens()
        ids = [tokenizer.convert_tokens_to_ids(t) for t in tokens]
        missing = [t for t, i in zip(tokens, ids, strict=True) if i is None or tokenizer.convert_ids_to_tokens(i) != t]
        if missing:
            raise ValueError(
                f"{len(missing)} action tokens (e.g. {missing[0]!r}) are not in the vocabulary: call "
                "backbone.add_special_tokens(head.special_tokens()) before head.bind(backbone)"
            )
        self._token_ids = [int(i) for i in ids]

    @property
    def token_ids(self) -> list[int]:
        """Vocabulary id of each bin, ``token_ids[b]`` for bin ``b``."""
        if not self._token_ids:
            raise RuntimeError("the action-tokens head is not bound: call head.bind(backbone) first")
        return self._token_ids

    def claimed_token_ids(self) -> list[int]:
        return list(self.token_ids)

    def logits_processor(self) -> ActionTokenLogitsProcessor:
        """The vocabulary constraint as a ``transformers`` ``LogitsProcessor`` (for ``model.generate``)."""
        return ActionTokenLogitsProcessor(self.token_ids)

    def constrain_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits [.., V]`` with every non-action token at -inf."""
        return keep_only(logits, self.token_ids)

    # ------------------------------------------------------------------------------------------ bins
    def to_bins(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions in [-1, 1] → bin indices (long, same shape); values outside [-1, 1] fall in the end bins."""
        index = torch.floor((actions.float().clamp(-1.0, 1.0) + 1.0) / self.bin_width).long()
        return index.clamp(max=self.settings.bins - 1)

    def bin_centres(self, bins: torch.Tensor) -> torch.Tensor:
        """Bin indices → the actions at their centres (float32, same shape)."""
        return -1.0 + (bins.float() + 0.5) * self.bin_width

    def bins_of(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (any shape) → bin index, or -1 where the id is not an action token."""
        table = torch.full((max(self.token_ids) + 2,), -1, dtype=torch.long, device=ids.device)
        table[torch.tensor(self.token_ids, device=ids.device)] = torch.arange(self.settings.bins, device=ids.device)
        looked_up = table[ids.long().clamp(0, table.numel() - 1)]  # ids past the table hit its last slot, -1
        return torch.where(ids < 0, torch.full_like(looked_up, -1), looked_up)

    def encode(self, actions: torch.Tensor) -> torch.Tensor:
        """Action chunks ``[B, H, A]`` in [-1, 1] → token ids ``[B, H * A]`` (step-major)."""
        self._check_actions(actions)
        ids = torch.tensor(self.token_ids, device=actions.device)
        return ids[self.to_bins(actions)].flatten(1)

    def decode(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Token ids ``[B, H * A]`` → action chunks ``[B, H, A]`` at the bin centres."""
        expected = self.max_new_tokens
        if token_ids.dim() != 2 or token_ids.shape[1] != expected:
            raise ValueError(
                f"expected action token ids [B, {expected}] (chunk {self.chunk_length} × action_dim "
                f"{self.action_dim}), got shape {tuple(token_ids.shape)}"
            )
        bins = self.bins_of(token_ids)
        if bool((bins < 0).any()):
            bad = sorted({int(i) for i in token_ids[bins < 0].tolist()})[:5]
            raise ValueError(
                f"token ids {bad} are not action tokens (ids {min(self.token_ids)}..{max(self.token_ids)}); "
                "generate with head.constrain_logits or head.logits_processor()"
            )
        return self.bin_centres(bins).reshape(-1, self.chunk_length, self.action_dim)

    def _check_actions(self, actions: torch.Tensor) -> None:
        if actions.dim() != 3 or tuple(actions.shape[1:]) != (self.chunk_length, self.action_dim):
            raise ValueError(
                f"expected actions [B, {self.chunk_length}, {self.action_dim}] (chunk, action_dim), "
                f"got shape {tuple(actions.shape)}"
            )

    # ------------------------------------------------------------------------------------------ learning
    def bin_log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """``hidden [.., D]`` → log-softmax over the action tokens only ``[.., bins]`` (float32)."""
        ids = torch.tensor(self.token_ids, device=hidden.device)
        logits = self.backbone.logits(hidden).index_select(-1, ids).float()
        return torch.log_softmax(logits, dim=-1)

    def target_distribution(self, bins: torch.Tensor) -> torch.Tensor:
        """Target bins ``[N]`` → target probabilities ``[N, bins]``: one-hot or Gaussian, then label smoothing."""
        count = self.settings.bins
        index = torch.arange(count, device=bins.device, dtype=torch.float32)
        sigma = self.settings.ordinal_sigma
        if sigma > 0:
            weights = torch.exp(-0.5 * ((index - bins[:, None].float()) / sigma) ** 2)  # [N, bins]
            weights = weights / weights.sum(dim=-1, keepdim=True)
        else:
            weights = torch.nn.functional.one_hot(bins, count).float()
        eps = self.settings.label_smoothing
        return (1.0 - eps) * weights + eps / count

    def has_targets(self, batch: Batch) -> bool:
        labels = batch.get("labels")
        return labels is not None and bool((self.bins_of(labels) >= 0).any())

    def loss(self, hidden: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy over the bin tokens where the next label is an action token.

        ``hidden [B, T, D]``, ``batch["labels"] [B, T]``; metrics: loss, accuracy, bin_error (mean |Δbin|).
        """
        states, targets = next_token_pairs(hidden, batch["labels"])
        bins = self.bins_of(targets)  # [B, T-1], -1 where the label is not an action token
        keep = bins >= 0
        if not bool(keep.any()):
            return hidden.sum() * 0.0, {"loss": 0.0, "accuracy": 0.0, "bin_error": 0.0}
        log_probs = self.bin_log_probs(states[keep])  # [N, bins]
        gold = bins[keep]  # [N]
        loss = -(self.target_distribution(gold) * log_probs).sum(dim=-1).mean()
        chosen = log_probs.argmax(dim=-1)
        return loss, {
            "loss": float(loss.detach()),
            "accuracy": float((chosen == gold).float().mean()),
            "bin_error": float((chosen - gold).abs().float().mean()),
        }

    def distribution_params(self, hidden: torch.Tensor, batch: Batch) -> HeadDistribution | None:
        """Bin log-probabilities ``[N, bins]`` (constrained decoding's distribution) where the next label is an
        action token."""
        states, targets = next_token_pairs(hidden, batch["labels"])
        keep = self.bins_of(targets) >= 0
        return HeadDistribution("categorical", self.bin_log_probs(states[keep]))

    def log_prob(self, actions: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """``log π(actions)`` ``[B]`` under constrained decoding.

        ``actions [B, H, A]`` in [-1, 1] (scored at their bins); ``hidden [B, H * A, D]``: the states that predict
        each action token, i.e. at the position just before it (teacher-forced on the action tokens).
        """
        self._check_actions(actions)
        if hidden.dim() != 3 or hidden.shape[:2] != (actions.shape[0], self.max_new_tokens):
            raise ValueError(
                f"expected hidden [B, {self.max_new_tokens}, D] (the states before each action token), "
                f"got {tuple(hidden.shape)}"
            )
        bins = self.to_bins(actions).flatten(1)  # [B, H * A]
        chosen = self.bin_log_probs(hidden).gather(-1, bins.unsqueeze(-1)).squeeze(-1)  # [B, H * A]
        return chosen.sum(dim=-1)

    def predict(self, hidden: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Generated token ids ``[B, H * A]`` → action chunks ``[B, H, A]`` in [-1, 1]."""
        return self.decode(hidden)
