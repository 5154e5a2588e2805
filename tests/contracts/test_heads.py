"""Contract of every registered head, each bound to a tiny real ``hf-causal-lm`` backbone (qwen2, hidden 32).

Generative heads get the full hidden sequence and ``labels``; parallel heads get the states of their query tokens
appended after the prompt and ``actions [B, H, A]`` in [-1, 1]. Checked for every name: sizes agree with the
head kind, the loss is a finite scalar whose gradients reach the backbone (and the head's own parameters), the
outputs of ``predict`` have the documented shapes (pixels for pointing heads, which also get a dense map and
target pixels), ``log_prob`` is ``[B]`` where defined, heads never own backbone
weights, and the loss halves on a fixed batch within 40 Adam steps.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from embodied.models.backbones.base import Backbone
from embodied.models.catalog import HEADS
from embodied.models.heads.base import Head
from embodied.models.heads.pointer import PointerOutput
from embodied.registry import ComponentSettings
from tests.factory import HEAD_SPECS
from tests.unit.models.heads_support import (
    ACTION_DIM,
    build_head,
    dense_features,
    hidden_states,
    labelled,
    point_targets,
    prompt_ids,
    tiny_backbone,
)

NAMES = HEADS.names()
BATCH, PROMPT = 2, 5


class HeadConstraint(LogitsProcessor):
    """Any head's ``constrain_logits`` as a ``transformers`` logits processor."""

    def __init__(self, head: Head) -> None:
        self.head = head

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return self.head.constrain_logits(scores)  # type: ignore[return-value]


def setup(name: str) -> tuple[Backbone, Head]:
    backbone = tiny_backbone()
    return backbone, build_head(HEAD_SPECS[name], backbone)


def targets_for(head: Head, backbone: Backbone, seed: int) -> torch.Tensor:
    """Target ids ``[B, K]``: the head's claimed tokens (action bins) or ordinary text tokens."""
    claimed = head.claimed_token_ids()
    if not claimed:
        return prompt_ids(backbone, BATCH, 4, seed=seed + 1)
    pick = torch.randint(len(claimed), (BATCH, head.max_new_tokens), generator=torch.Generator().manual_seed(seed))
    return torch.tensor(claimed)[pick]


def loss_inputs(head: Head, backbone: Backbone, seed: int = 0) -> tuple[torch.Tensor, dict[str, Any]]:
    """The hidden states this head reads and a batch with its targets (see the module docstring)."""
    prompt = prompt_ids(backbone, BATCH, PROMPT, seed=seed)
    if head.generative:
        ids, labels = labelled(prompt, targets_for(head, backbone, seed))
        return hidden_states(backbone, ids), {"input_ids": ids, "labels": labels}
    hidden = hidden_states(backbone, prompt, head.query_embeddings())[:, -head.num_queries :]
    if head.uses_dense_features:  # pointing heads: pixels on a dense map instead of an action chunk
        targets = point_targets(BATCH, head.num_queries, seed=seed)
        return hidden, {"input_ids": prompt, "dense_features": dense_features(BATCH, seed), "point_targets": targets}
    actions = torch.rand(BATCH, head.chunk_length, ACTION_DIM, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return hidden, {"input_ids": prompt, "actions": actions}


def generate(backbone: Backbone, head: Head, prompt: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """New token ids ``[B, L]`` from ``transformers`` ``generate`` under the head's vocabulary constraint."""
    out = backbone.model.generate(
        input_ids=prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=head.max_new_tokens,
        logits_processor=LogitsProcessorList([HeadConstraint(head)]),
        **kwargs,
    )
    return out[:, prompt.shape[1] :]


def test_every_registered_head_has_a_spec() -> None:
    assert set(HEAD_SPECS) == set(NAMES)
    assert {"text", "action-tokens", "continuous", "diffusion"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_settings_are_documented_and_defaults_valid(name: str) -> None:
    entry = HEADS.get(name)
    assert issubclass(entry.settings, ComponentSettings)
    for field, info in entry.settings.model_fields.items():
        assert info.description, f"{name}.{field} has no description"
    entry.settings()  # defaults validate
    assert entry.description


@pytest.mark.parametrize("name", NAMES)
def test_sizes_agree_with_the_head_kind(name: str) -> None:
    backbone, head = setup(name)
    if head.generative:
        assert head.num_queries == 0 and head.query_embeddings() is None
        assert head.max_new_tokens > 0
        if head.chunk_length:  # an action head decodes its chunk as chunk × action_dim tokens
            assert head.max_new_tokens == head.chunk_length * ACTION_DIM
            assert head.claimed_token_ids()
    else:
        assert head.chunk_length > 0 and head.num_queries > 0 and head.max_new_tokens == 0
        queries = head.query_embeddings()
        assert queries is not None and queries.shape == (head.num_queries, backbone.embed_dim)
        assert not head.special_tokens() and not head.claimed_token_ids()
    vocab = backbone.tokenizer.get_vocab()
    assert all(token in vocab for token in head.special_tokens())


@pytest.mark.parametrize("name", NAMES)
def test_loss_is_a_finite_scalar_with_gradients(name: str) -> None:
    backbone, head = setup(name)
    hidden, batch = loss_inputs(head, backbone)
    assert head.has_targets(batch)
    torch.manual_seed(0)
    loss, metrics = head.loss(hidden, batch)
    assert loss.dim() == 0 and torch.isfinite(loss) and loss.dtype == torch.float32
    assert metrics["loss"] == pytest.approx(float(loss.detach()))
    assert all(isinstance(v, float) for v in metrics.values())
    loss.backward()
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in backbone.parameters())
    own = list(head.parameters())
    if own:
        assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in own)
    queries = head.query_embeddings()
    if queries is not None:
        assert queries.grad is not None and bool(queries.grad.abs().sum() > 0)


@pytest.mark.parametrize("name", NAMES)
def test_has_targets_only_with_targets(name: str) -> None:
    backbone, head = setup(name)
    _, batch = loss_inputs(head, backbone)
    assert head.has_targets(batch)
    assert not head.has_targets({"input_ids": batch["input_ids"]})
    if head.generative:
        assert not head.has_targets({**batch, "labels": torch.full_like(batch["labels"], -100)})


@pytest.mark.parametrize("name", NAMES)
def test_predict_has_the_documented_outputs(name: str) -> None:
    backbone, head = setup(name)
    prompt = prompt_ids(backbone, BATCH, PROMPT, seed=3)
    with torch.no_grad():
        if head.generative:
            out = head.predict(generate(backbone, head, prompt, do_sample=False))
        else:
            hidden = hidden_states(backbone, prompt, head.query_embeddings())[:, -head.num_queries :]
            extra = {"dense_features": dense_features(BATCH)} if head.uses_dense_features else {}
            out = head.predict(hidden, generator=torch.Generator().manual_seed(0), **extra)
    if head.uses_dense_features:  # pixels (u, v) inside the 32×32 image, one per query
        assert isinstance(out, PointerOutput) and out.pixels.dtype == torch.float32
        assert out.pixels.shape == (BATCH, head.num_queries, 2) and out.index.shape == (BATCH, head.num_queries)
        assert bool((out.pixels >= 0).all()) and bool((out.pixels <= 31).all())
    elif head.chunk_length == 0:  # text: one string per row
        assert isinstance(out, list) and len(out) == BATCH and all(isinstance(t, str) for t in out)
    else:
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
        assert out.shape == (BATCH, head.chunk_length, ACTION_DIM)
        assert bool((out.abs() <= 1.0).all())


def log_prob_inputs(head: Head, backbone: Backbone) -> tuple[torch.Tensor, torch.Tensor]:
    """Actions predicted by the head and the hidden states ``log_prob`` scores them with."""
    prompt = prompt_ids(backbone, BATCH, PROMPT, seed=4)
    if head.generative:
        with torch.no_grad():
            new = generate(backbone, head, prompt, do_sample=False)
        # the states before each generated token: positions L-1 … L+K-2 of the teacher-forced sequence
        hidden = hidden_states(backbone, torch.cat([prompt, new], dim=1))[:, PROMPT - 1 : -1]
        return (new if not head.chunk_length else head.predict(new)), hidden  # text heads score token ids
    hidden = hidden_states(backbone, prompt, head.query_embeddings())[:, -head.num_queries :]
    # off the predicted mode (where an L1/Laplace density has no gradient), still inside [-1, 1]
    off_mode = head.predict(hidden.detach()) + 0.1 * torch.randn(BATCH, head.chunk_length, ACTION_DIM)
    return off_mode.clamp(-1.0, 1.0), hidden


@pytest.mark.parametrize("name", NAMES)
def test_log_prob_is_per_sample_where_defined(name: str) -> None:
    backbone, head = setup(name)
    if head.uses_dense_features:  # log_prob of the predicted location indices, given the same maps
        _, batch = loss_inputs(head, backbone)
        hidden = hidden_states(backbone, batch["input_ids"], head.query_embeddings())[:, -head.num_queries :]
        actions = head.predict(hidden.detach(), dense_features=batch["dense_features"]).index
        log_prob = head.log_prob(actions, hidden, dense_features=batch["dense_features"])
        assert log_prob.shape == (BATCH,) and torch.isfinite(log_prob).all()
        log_prob.sum().backward()
        assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in backbone.parameters())
        return
    actions, hidden = log_prob_inputs(head, backbone)
    if not head.has_log_prob:
        with pytest.raises(NotImplementedError):
            head.log_prob(actions, hidden)
        return
    log_prob = head.log_prob(actions, hidden)
    assert log_prob.shape == (BATCH,) and torch.isfinite(log_prob).all()
    log_prob.sum().backward()  # RL differentiates it through the backbone
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in backbone.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_heads_never_own_backbone_weights(name: str) -> None:
    backbone, head = setup(name)
    shared = {t.data_ptr() for t in backbone.state_dict().values()}
    assert not any(t.data_ptr() in shared for t in head.state_dict().values())
    assert not any(isinstance(m, Backbone) for m in head.modules())


@pytest.mark.parametrize("name", NAMES)
def test_loss_halves_on_a_fixed_batch(name: str) -> None:
    backbone, head = setup(name)
    params = list(backbone.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=3e-3)
    losses = []
    for step in range(40):
        torch.manual_seed(step % 4)  # the diffusion loss draws noise and timesteps: a fixed set of draws
        hidden, batch = loss_inputs(head, backbone)
        loss, _ = head.loss(hidden, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last <= 0.5 * first, f"{name}: loss {first:.3f} -> {last:.3f}"
