"""``action-tokens`` head: binning round trip, vocabulary safety, constrained decoding in ``transformers``
``generate``, the restricted loss and ordinal targets, and ``log_prob`` against the sampled tokens' probability.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from transformers import LogitsProcessorList

from embodied.models.backbones.base import Backbone
from embodied.models.context import BuildContext
from embodied.models.heads.action_tokens import ActionTokensHead, ActionTokensSettings
from embodied.models.heads.base import Head
from embodied.models.heads.vocabulary import IGNORE_INDEX
from tests.unit.models.heads_support import ACTION_DIM, build_head, hidden_states, labelled, prompt_ids, tiny_backbone

BINS, CHUNK = 32, 2


def action_head(backbone: Backbone, **settings: Any) -> ActionTokensHead:
    head = build_head({"kind": "action-tokens", "bins": BINS, "chunk": CHUNK, **settings}, backbone)
    assert isinstance(head, ActionTokensHead)
    return head


def random_actions(n: int, chunk: int = CHUNK, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, chunk, ACTION_DIM, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_encode_decode_error_is_at_most_half_a_bin() -> None:
    backbone = tiny_backbone()
    head = build_head({"kind": "action-tokens"}, backbone)  # 256 bins, chunk 1 (OpenVLA)
    assert isinstance(head, ActionTokensHead)
    actions = random_actions(1000, chunk=1)
    actions[:3] = torch.tensor([-1.0, 1.0, 0.0])[:, None, None]  # the edges and the centre
    ids = head.encode(actions)
    assert ids.shape == (1000, ACTION_DIM) and set(ids.unique().tolist()) <= set(head.claimed_token_ids())
    error = (head.decode(ids) - actions).abs().max()
    assert float(error) <= head.bin_width / 2 + 1e-6
    assert torch.equal(head.encode(head.decode(ids)), ids)  # bin centres map back to their own bins


def test_tokens_are_step_major_and_chunk_sized() -> None:
    head = action_head(tiny_backbone())
    actions = random_actions(3)
    ids = head.encode(actions)
    assert ids.shape == (3, CHUNK * ACTION_DIM) == (3, head.max_new_tokens)
    bins = head.bins_of(ids)
    assert torch.equal(bins[:, ACTION_DIM + 2], head.to_bins(actions[:, 1, 2]))  # step 1, dimension 2
    with pytest.raises(ValueError, match=r"expected actions \[B, 2, 7\]"):
        head.encode(actions[:, :1])


def test_original_tokens_keep_their_ids() -> None:
    backbone = tiny_backbone()
    tokenizer = backbone.tokenizer
    before = dict(tokenizer.get_vocab())
    text = "pick up the red cube, then place it in the bowl."
    ids_before = tokenizer(text, add_special_tokens=False)["input_ids"]
    rows_before = backbone.input_embeddings.weight.detach().clone()
    head = action_head(backbone)
    after = tokenizer.get_vocab()
    assert all(after[token] == i for token, i in before.items())
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == ids_before
    assert torch.equal(backbone.input_embeddings.weight[: len(before)].detach(), rows_before)
    claimed = head.claimed_token_ids()
    assert len(claimed) == BINS and min(claimed) >= len(before)
    assert tokenizer("<act_5>", add_special_tokens=False)["input_ids"] == [claimed[5]]


def generate(backbone: Backbone, head: ActionTokensHead, prompts: torch.Tensor, **kwargs: Any) -> Any:
    """``transformers`` ``generate`` on the backbone's causal LM with the head's logits processor."""
    return backbone.model.generate(
        input_ids=prompts,
        attention_mask=torch.ones_like(prompts),
        max_new_tokens=head.max_new_tokens,
        logits_processor=LogitsProcessorList([head.logits_processor()]),
        **kwargs,
    )


@pytest.mark.parametrize("do_sample", [False, True])
def test_every_constrained_generation_holds_only_action_tokens(do_sample: bool) -> None:
    backbone = tiny_backbone()
    head = action_head(backbone)
    prompts = prompt_ids(backbone, 100, 6, seed=7)
    torch.manual_seed(0)
    with torch.no_grad():
        new = generate(backbone, head, prompts, do_sample=do_sample, top_k=0, top_p=1.0)[:, 6:]
        free = backbone.model.generate(input_ids=prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=4)
    claimed = torch.tensor(head.claimed_token_ids())
    assert new.shape == (100, head.max_new_tokens)
    assert bool(torch.isin(new, claimed).all())  # 100 / 100
    assert not bool(torch.isin(free[:, 6:], claimed).all())  # without the processor, other tokens do appear
    actions = head.predict(new)
    assert actions.shape == (100, CHUNK, ACTION_DIM) and bool((actions.abs() <= 1).all())
    if do_sample:
        assert len({tuple(row) for row in new.tolist()}) > 50


def test_log_prob_is_the_probability_of_the_sampled_tokens() -> None:
    backbone = tiny_backbone()
    head = action_head(backbone)
    with torch.no_grad():  # spread the action rows so the distribution over bins is far from uniform
        backbone.output_embeddings.weight[head.claimed_token_ids()] += torch.randn(BINS, backbone.embed_dim)
    prompts = prompt_ids(backbone, 8, 5, seed=1)
    torch.manual_seed(0)
    with torch.no_grad():
        out = generate(
            backbone,
            head,
            prompts,
            do_sample=True,
            top_k=0,
            top_p=1.0,
            temperature=1.0,
            return_dict_in_generate=True,
            output_logits=True,
            output_scores=True,
        )
    new = out.sequences[:, 5:]
    claimed = torch.tensor(head.claimed_token_ids())
    # independently, from generate's raw logits (KV-cached forward): softmax over the action tokens only
    raw = torch.stack(out.logits, dim=1)  # [B, K, V]
    bin_of_new = (new[..., None] == claimed).float().argmax(-1)
    expected = torch.log_softmax(raw[..., claimed], -1).gather(-1, bin_of_new[..., None]).squeeze(-1).sum(-1)
    # ... and from the processed scores: the constrained distribution over the full vocabulary
    scores = torch.stack(out.scores, dim=1)
    processed = torch.log_softmax(scores, -1).gather(-1, new[..., None]).squeeze(-1).sum(-1)
    hidden = hidden_states(backbone, out.sequences)[:, 4:-1]  # the states before each action token
    log_prob = head.log_prob(head.predict(new), hidden)
    assert log_prob.shape == (8,)
    torch.testing.assert_close(log_prob, expected, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(log_prob, processed, atol=1e-4, rtol=1e-5)
    assert float(expected.std()) > 0.1  # the samples really differ in probability


def test_constrain_logits_masks_every_other_token() -> None:
    head = action_head(tiny_backbone())
    logits = torch.randn(3, head.backbone.input_embeddings.weight.shape[0])
    out = head.constrain_logits(logits)
    claimed = torch.tensor(head.claimed_token_ids())
    allowed = torch.zeros(logits.shape[-1], dtype=torch.bool)
    allowed[claimed] = True
    assert bool(torch.isinf(out[:, ~allowed]).all()) and torch.equal(out[:, allowed], logits[:, allowed])
    assert bool(torch.isin(out.argmax(-1), claimed).all())
    assert torch.equal(head.logits_processor()(torch.zeros(3, 1, dtype=torch.long), logits), out)


def test_loss_is_cross_entropy_over_action_tokens_at_action_positions() -> None:
    backbone = tiny_backbone()
    head = action_head(backbone)
    prompt = prompt_ids(backbone, 2, 4)
    text = prompt_ids(backbone, 2, 3, seed=2)  # labelled text before the action tokens: not this head's
    ids, labels = labelled(prompt, torch.cat([text, head.encode(random_actions(2))], dim=1))
    loss, metrics = head.loss(hidden_states(backbone, ids), {"labels": labels})
    with torch.no_grad():
        logits = backbone.model(input_ids=ids).logits[:, :-1]  # full HF forward, causal shift by hand
    targets = labels[:, 1:]
    claimed = torch.tensor(head.claimed_token_ids())
    at = torch.isin(targets, claimed)
    assert int(at.sum()) == 2 * head.max_new_tokens
    restricted = logits[at][:, claimed]  # [N, bins]
    gold = (targets[at][:, None] == claimed).float().argmax(-1)
    torch.testing.assert_close(loss, F.cross_entropy(restricted, gold), atol=1e-5, rtol=1e-5)
    chosen = restricted.argmax(-1)
    assert metrics["accuracy"] == pytest.approx(float((chosen == gold).float().mean()))
    assert metrics["bin_error"] == pytest.approx(float((chosen - gold).abs().float().mean()))
    assert not head.has_targets({"labels": torch.where(at, IGNORE_INDEX, targets)})


def test_ordinal_targets_give_neighbouring_bins_mass() -> None:
    backbone = tiny_backbone()
    plain = action_head(backbone)
    ordinal = action_head(backbone, ordinal_sigma=1.5, label_smoothing=0.1)
    gold = torch.tensor([10, 0])
    onehot = plain.target_distribution(gold)
    assert torch.equal(onehot, F.one_hot(gold, BINS).float())
    soft = ordinal.target_distribution(gold)
    torch.testing.assert_close(soft.sum(-1), torch.ones(2))
    assert int(soft[0].argmax()) == 10 and float(soft[0, 9]) == pytest.approx(float(soft[0, 11]))
    assert float(soft[0, 11]) > 0.1 > float(soft[0, 20]) >= 0.1 / BINS - 1e-7
    # a prediction one bin off costs less than one ten bins off — only with ordinal targets
    near, far = F.one_hot(torch.tensor(11), BINS) * 8.0, F.one_hot(torch.tensor(21), BINS) * 8.0

    def cost(target: torch.Tensor, logits: torch.Tensor) -> float:
        return float(-(target * torch.log_softmax(logits, -1)).sum())

    assert cost(soft[0], near) < cost(soft[0], far)
    assert cost(onehot[0], near) == pytest.approx(cost(onehot[0], far))
    with pytest.raises(ValueError):
        ActionTokensSettings(label_smoothing=1.0)


def test_predict_rejects_non_action_ids_and_wrong_lengths() -> None:
    backbone = tiny_backbone()
    head = action_head(backbone)
    ids = head.encode(random_actions(2))
    bad = ids.clone()
    bad[1, 3] = 12  # an ordinary text token
    with pytest.raises(ValueError, match="not action tokens"):
        head.predict(bad)
    with pytest.raises(ValueError, match=r"\[B, 14\]"):
        head.predict(ids[:, :-1])
    with pytest.raises(ValueError, match=r"hidden \[B, 14, D\]"):
        head.log_prob(random_actions(2), torch.randn(2, 3, backbone.embed_dim))


def test_bind_needs_the_tokens_in_the_vocabulary() -> None:
    backbone = tiny_backbone()
    ctx = BuildContext(embed_dim=backbone.embed_dim, action_dim=ACTION_DIM, backbone=backbone)
    head: Head = ActionTokensHead(ActionTokensSettings(bins=BINS), ctx)
    with pytest.raises(RuntimeError, match="not bound"):
        head.claimed_token_ids()
    with pytest.raises(ValueError, match="add_special_tokens"):
        head.bind(backbone)


def test_generation_recalls_overfitted_chunks() -> None:
    backbone = tiny_backbone()
    head = action_head(backbone, ordinal_sigma=1.0)
    prompts = prompt_ids(backbone, 2, 4, seed=3)
    targets = random_actions(2, seed=4)
    ids, labels = labelled(prompts, head.encode(targets))
    optimizer = torch.optim.Adam(backbone.parameters(), lr=1e-2)
    for _ in range(60):
        loss, metrics = head.loss(hidden_states(backbone, ids), {"labels": labels})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        new = generate(backbone, head, prompts, do_sample=False)[:, 4:]
    assert metrics["accuracy"] == 1.0
    assert float((head.predict(new) - targets).abs().max()) <= head.bin_width / 2 + 1e-6
