"""Token-by-token decoding for generative heads, with a KV cache and the head's vocabulary constraint.

The prompt (with modality tokens) is encoded once; each step feeds one new token embedding with the cache,
so a step costs one token's forward pass. ``head.constrain_logits`` restricts the vocabulary (action tokens);
a ``GrammarConstraint`` (``embodied.models.text_constraint``) restricts each step to what keeps the text in a
grammar (plans).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from embodied.models.heads.base import Head

if TYPE_CHECKING:
    from embodied.models.mmllm import MMLLM
    from embodied.models.text_constraint import GrammarConstraint


@dataclass
class Decoded:
    """What one decoding pass gives: ``ids [B, L]`` (rows that finished early repeat EOS), ``log_probs [B, L]``
    of each chosen token under the (tempered, constrained) distribution it was drawn from, ``lengths [B]``
    (tokens up to and including the first EOS) and ``prompt_hidden [B, D]``, the state at the last prompt
    position (before the first new token; RL's value head reads it)."""

    ids: torch.Tensor
    log_probs: torch.Tensor
    lengths: torch.Tensor
    prompt_hidden: torch.Tensor


@torch.no_grad()
def generate_ids(
    model: MMLLM,
    batch: dict[str, Any],
    head: Head,
    max_new_tokens: int | None = None,
    do_sample: bool = False,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    constraint: GrammarConstraint | None = None,
) -> torch.Tensor:
    """Decode ``[B, L]`` new token ids (L ≤ ``max_new_tokens``; rows that finished early repeat EOS)."""
    return decode(model, batch, head, max_new_tokens, do_sample, temperature, generator, constraint).ids


@torch.no_grad()
def decode(
    model: MMLLM,
    batch: dict[str, Any],
    head: Head,
    max_new_tokens: int | None = None,
    do_sample: bool = False,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    constraint: GrammarConstraint | None = None,
) -> Decoded:
    """``generate_ids`` with the chosen tokens' log-probs and the prompt's last hidden state (see ``Decoded``);
    ``constraint`` keeps every row's text inside its grammar."""
    steps = max_new_tokens or head.max_new_tokens
    if steps <= 0:
        raise ValueError(f"nothing to generate: max_new_tokens is {steps}")
    embeds, mask, positions = model.embed(batch)
    out = model.backbone(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, use_cache=True)
    eos = model.tokenizer.eos_token_id
    done = torch.zeros(embeds.shape[0], dtype=torch.bool, device=embeds.device)
    lengths = torch.zeros(embeds.shape[0], dtype=torch.long, device=embeds.device)
    chosen: list[torch.Tensor] = []
    log_probs: list[torch.Tensor] = []
    last, position = out.hidden[:, -1], positions[:, -1:]
    prompt_hidden = last
    for _ in range(steps):
        logits = head.constrain_logits(model.backbone.logits(last).float())  # [B, V]
        if constraint is not None:
            so_far = torch.stack(chosen, dim=1).tolist() if chosen else [[] for _ in range(logits.shape[0])]
            logits = constraint.mask_logits(logits, so_far)
        token = _pick(logits, do_sample, temperature, generator)
        step_logp = torch.log_softmax(logits / (temperature if do_sample else 1.0), dim=-1)
        lengths += (~done).long()
        if eos is not None:
            token = torch.where(done, torch.full_like(token, eos), token)
        log_probs.append(step_logp.gather(-1, token[:, None])[:, 0].masked_fill(done, 0.0))
        if eos is not None:
            done |= token == eos
        chosen.append(token)
        if bool(done.all()):
            break
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        position = position + 1
        out = model.backbone(
            inputs_embeds=model.backbone.input_embeddings(token[:, None]),
            attention_mask=mask,
            position_ids=position,
            past_key_values=out.past_key_values,
            use_cache=True,
        )
        last = out.hidden[:, -1]
    return Decoded(torch.stack(chosen, dim=1), torch.stack(log_probs, dim=1), lengths, prompt_hidden)


def _pick(logits: torch.Tensor, do_sample: bool, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    if not do_sample:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / max(temperature, 1e-5), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
