"""Acting distributions of the heads RL can train: sample + log-prob at rollout, log-prob + entropy in the update.

One class per head kind, all stateless (the model is an argument, so the frozen reference policy reuses them):

- ``pointer``: the categorical over every image location (× rotation bin) of each argument (pick, place);
  ``log π`` sums the arguments' log-probs. Actions: location indices ``[K]``.
- ``continuous``: the Laplace of the FIRST step of the chunk, ``Laplace(μ_0, b·T)`` per dimension (the chunk's
  later steps are re-planned: each env step queries the policy, receding horizon). Actions: the raw (unclipped)
  sample ``[A]``; the env gets it clipped to [-1, 1].
- ``action-tokens``: the first action's ``A`` bin tokens, decoded with the KV cache under the same constrained,
  tempered softmax the update scores them with (teacher forcing). Actions: token ids ``[A]``.
- ``text``: a sampled answer or plan, per token under the head's vocabulary constraint, up to and including EOS.
  Actions: token ids ``[L]`` (variable length).

The acting path and the update's path are different code (KV-cache decoding vs teacher forcing, one batch
composition vs another): ``tests/unit/training/rl/test_log_prob_parity.py`` checks that they agree.
Every method returns the hidden state at the last prompt position too (``prompt_hidden [B, D]``): the position
just before the first action output, where the value head reads (as in RLinf).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch

from embodied.models.generation import decode

__all__ = ["POLICY_HEADS", "Acted", "Evaluated", "PolicyHead", "append_targets"]

Batch = dict[str, Any]


@dataclass
class Acted:
    """A rollout step's decision for ``B`` rows: ``actions`` (one tensor per row, on the CPU), ``log_prob [B]``,
    ``prompt_hidden [B, D]`` and ``outputs`` for the env-side decoder (``actions [B, A]`` in [-1, 1], or
    ``pixels``/``cameras`` for the pointer head, or ``texts``)."""

    actions: list[torch.Tensor]
    log_prob: torch.Tensor
    prompt_hidden: torch.Tensor
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluated:
    """The update's view of stored actions: ``log_prob [B]``, ``entropy [B]``, ``prompt_hidden [B, D]``."""

    log_prob: torch.Tensor
    entropy: torch.Tensor
    prompt_hidden: torch.Tensor


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy over the last dim of (possibly -inf-masked) logits; masked entries contribute 0."""
    log_p = torch.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p.clamp(min=torch.finfo(log_p.dtype).min)).sum(-1)


def _sample(logits: torch.Tensor, greedy: bool, generator: torch.Generator | None) -> torch.Tensor:
    """Index per row of ``logits [N, C]``: argmax, or a draw from the softmax with ``generator``."""
    if greedy:
        return logits.argmax(dim=-1)
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]


def append_targets(batch: Batch, targets: list[torch.Tensor], pad_id: int) -> tuple[Batch, torch.Tensor]:
    """Teacher forcing: the left-padded prompts ``[B, T]`` followed by each row's target ids (right-padded to the
    longest, attention 0 there). Returns the new batch and the target mask ``[B, L]``."""
    input_ids, mask = batch["input_ids"], batch["attention_mask"]
    width = max(int(t.numel()) for t in targets)
    tgt = input_ids.new_full((len(targets), width), pad_id)
    tgt_mask = mask.new_zeros((len(targets), width))
    for i, t in enumerate(targets):
        tgt[i, : t.numel()] = t.to(tgt.device)
        tgt_mask[i, : t.numel()] = 1
    out = {**batch, "input_ids": torch.cat([input_ids, tgt], dim=1), "attention_mask": torch.cat([mask, tgt_mask], 1)}
    out.pop("labels", None)
    return out, tgt_mask.bool()


def _hidden(model: Any, batch: Batch, query_heads: list[str] | tuple[str, ...] = ()) -> torch.Tensor:
    """Last-layer hidden states ``[B, T (+ Q), D]`` of one forward pass (with the heads' query tokens)."""
    embeds, mask, positions = model.embed(batch, query_heads)
    hidden: torch.Tensor = model.backbone(inputs_embeds=embeds, attention_mask=mask, position_ids=positions).hidden
    return hidden


class PolicyHead(ABC):
    """The acting distribution of one head of an ``MMLLM`` (see the module docstring)."""

    def __init__(self, head: str, temperature: float = 1.0) -> None:
        self.head_name, self.temperature = head, temperature

    def head(self, model: Any) -> Any:
        return model.head_map[self.head_name]

    @abstractmethod
    def act(self, model: Any, batch: Batch, generator: torch.Generator | None, greedy: bool = False) -> Acted:
        """Sample (or take the mode of) an action per row, with its log-prob (no gradient)."""

    @abstractmethod
    def evaluate(self, model: Any, batch: Batch, actions: list[torch.Tensor]) -> Evaluated:
        """Log-prob and entropy of stored ``actions`` under the current parameters (with gradient)."""


class _ParallelHead(PolicyHead):
    """Heads that read their query tokens' hidden states (one forward pass, no decoding)."""

    def _states(self, model: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(prompt_hidden [B, D], query states [B, Q, D])."""
        hidden = _hidden(model, batch, [self.head_name])
        text_len = batch["input_ids"].shape[1]
        return hidden[:, text_len - 1], hidden[:, -self.head(model).num_queries :]


class PointerPolicy(_ParallelHead):
    """Categorical over image locations per argument (``pointer`` head)."""

    def _logits(self, model: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, Any]:
        prompt, queries = self._states(model, batch)
        head = self.head(model)
        locations = head.locations(model.dense_features(batch))
        return prompt, head.logits(queries, locations) / self.temperature, locations  # logits [B, K, L·R]

    def act(self, model: Any, batch: Batch, generator: torch.Generator | None, greedy: bool = False) -> Acted:
        with torch.no_grad():
            prompt, logits, locations = self._logits(model, batch)
            b, k, _ = logits.shape
            index = _sample(logits.flatten(0, 1), greedy, generator).reshape(b, k)  # [B, K]
            log_p = torch.log_softmax(logits, dim=-1).gather(-1, index[..., None])[..., 0].sum(1)
            loc = index // self.head(model).rotations
            outputs = {
                "pixels": locations.pixels[loc].cpu().numpy(),  # [B, K, 2]
                "cameras": [[locations.cameras[int(c)] for c in row] for row in locations.camera[loc].tolist()],
            }
        return Acted(list(index.cpu()), log_p, prompt, outputs)

    def evaluate(self, model: Any, batch: Batch, actions: list[torch.Tensor]) -> Evaluated:
        prompt, logits, _ = self._logits(model, batch)
        index = torch.stack(actions).to(logits.device).long()  # [B, K]
        log_p = torch.log_softmax(logits, dim=-1).gather(-1, index[..., None])[..., 0].sum(1)
        return Evaluated(log_p, _entropy(logits).sum(1), prompt)


class ContinuousPolicy(_ParallelHead):
    """Laplace over the first action of the chunk (``continuous`` head), scale ``b · temperature``."""

    def _distribution(self, model: Any, batch: Batch) -> tuple[torch.Tensor, torch.distributions.Laplace]:
        prompt, queries = self._states(model, batch)
        head = self.head(model)
        mean = head.mean(queries)[:, 0]  # [B, A]
        scale = (head.log_scale.float().exp() * self.temperature).expand_as(mean)
        return prompt, torch.distributions.Laplace(mean, scale)

    def act(self, model: Any, batch: Batch, generator: torch.Generator | None, greedy: bool = False) -> Acted:
        with torch.no_grad():
            prompt, dist = self._distribution(model, batch)
            raw = dist.loc
            if not greedy:  # inverse CDF, as torch's Laplace.rsample, but from the caller's generator
                u = torch.empty_like(raw).uniform_(torch.finfo(raw.dtype).eps - 1.0, 1.0, generator=generator)
                raw = raw - dist.scale * u.sign() * torch.log1p(-u.abs())
            log_p = dist.log_prob(raw).sum(-1)
        return Acted(list(raw.cpu()), log_p, prompt, {"actions": raw.clamp(-1.0, 1.0).cpu().numpy()})

    def evaluate(self, model: Any, batch: Batch, actions: list[torch.Tensor]) -> Evaluated:
        prompt, dist = self._distribution(model, batch)
        raw = torch.stack(actions).to(dist.loc.device).float()
        return Evaluated(dist.log_prob(raw).sum(-1), dist.entropy().sum(-1), prompt)


class _TokenPolicy(PolicyHead):
    """Heads that decode vocabulary tokens: KV-cache decoding to act, teacher forcing to score."""

    def max_tokens(self, model: Any) -> int:
        return int(self.head(model).max_new_tokens)

    def token_logits(self, model: Any, states: torch.Tensor) -> torch.Tensor:
        """States ``[.., D]`` → the head's constrained next-token logits ``[.., V]`` (not tempered)."""
        head = self.head(model)
        return head.constrain_logits(model.backbone.logits(states).float())

    def act(self, model: Any, batch: Batch, generator: torch.Generator | None, greedy: bool = False) -> Acted:
        out = decode(model, batch, self.head(model), self.max_tokens(model), not greedy, self.temperature, generator)
        ids = [row[: int(n)].cpu() for row, n in zip(out.ids, out.lengths, strict=True)]
        return Acted(ids, out.log_probs.sum(-1), out.prompt_hidden, self.outputs(model, out.ids))

    @abstractmethod
    def outputs(self, model: Any, ids: torch.Tensor) -> dict[str, Any]:
        """What the env-side decoder needs from the decoded ids ``[B, L]``."""

    def evaluate(self, model: Any, batch: Batch, actions: list[torch.Tensor]) -> Evaluated:
        pad = model.tokenizer.pad_token_id
        forced, mask = append_targets(batch, actions, 0 if pad is None else int(pad))
        hidden = _hidden(model, forced)
        text_len, width = batch["input_ids"].shape[1], mask.shape[1]
        states = hidden[:, text_len - 1 : text_len - 1 + width]  # the state before each target token
        logits = self.token_logits(model, states) / self.temperature  # [B, L, V]
        targets = forced["input_ids"][:, text_len:]
        log_p = torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]
        log_p = log_p.masked_fill(~mask, 0.0).sum(1)
        entropy = _entropy(logits).masked_fill(~mask, 0.0).sum(1)
        return Evaluated(log_p, entropy, hidden[:, text_len - 1])


class ActionTokensPolicy(_TokenPolicy):
    """The first action's bin tokens (``action-tokens`` head), one per action dimension."""

    def max_tokens(self, model: Any) -> int:
        return int(self.head(model).action_dim)

    def outputs(self, model: Any, ids: torch.Tensor) -> dict[str, Any]:
        head = self.head(model)
        return {"actions": head.bin_centres(head.bins_of(ids)).cpu().numpy()}  # [B, A] in [-1, 1]


class TextPolicy(_TokenPolicy):
    """Sampled answers and plans (``text`` head), up to and including EOS."""

    def outputs(self, model: Any, ids: torch.Tensor) -> dict[str, Any]:
        return {"texts": self.head(model).predict(ids)}


#: head kind → its acting distribution (heads without a log-prob, e.g. diffusion, are absent)
POLICY_HEADS: dict[str, type[PolicyHead]] = {
    "pointer": PointerPolicy,
    "continuous": ContinuousPolicy,
    "action-tokens": ActionTokensPolicy,
    "text": TextPolicy,
}
