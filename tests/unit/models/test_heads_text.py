"""``text`` head: causal LM loss against the wrapped model's own logits, decoding, the special-token constraint,
no duplicated LM-head weights, and a memorised answer recalled by constrained greedy generation.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import LogitsProcessor, LogitsProcessorList

from embodied.models.backbones.base import Backbone
from embodied.models.context import BuildContext
from embodied.models.heads.text import TextHead, TextSettings
from tests.unit.models.heads_support import build_head, hidden_states, labelled, prompt_ids, tiny_backbone


def text_head(backbone: Backbone, **settings: object) -> TextHead:
    head = build_head({"kind": "text", **settings}, backbone)
    assert isinstance(head, TextHead)
    return head


def answer_ids(backbone: Backbone, texts: list[str]) -> torch.Tensor:
    """Each text's ids followed by EOS, as the processor writes targets, right-padded to one length."""
    tokenizer = backbone.tokenizer
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in texts]
    width = max(len(r) for r in rows)
    return torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows])


def test_loss_is_shifted_cross_entropy_of_the_wrapped_lm() -> None:
    backbone = tiny_backbone()
    head = text_head(backbone)
    ids, labels = labelled(prompt_ids(backbone, 2, 5), prompt_ids(backbone, 2, 4, seed=1))
    loss, metrics = head.loss(hidden_states(backbone, ids), {"labels": labels})
    with torch.no_grad():
        logits = backbone.model(input_ids=ids).logits  # [B, T, V] from the HF model itself
    expected = F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)
    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)
    kept = labels[:, 1:] != -100
    accuracy = (logits[:, :-1].argmax(-1) == labels[:, 1:])[kept].float().mean()
    assert metrics["accuracy"] == pytest.approx(float(accuracy))
    assert metrics["tokens"] == 8.0 and metrics["loss"] == pytest.approx(float(expected))


def test_no_labelled_token_gives_a_zero_loss_in_the_graph() -> None:
    backbone = tiny_backbone()
    head = text_head(backbone)
    hidden = torch.randn(2, 6, backbone.embed_dim, requires_grad=True)
    labels = torch.full((2, 6), -100)
    labels[:, 0] = 5  # a label at the first position has no predicting state
    loss, metrics = head.loss(hidden, {"labels": labels})
    loss.backward()
    assert float(loss.detach()) == 0.0 and metrics["tokens"] == 0.0 and hidden.grad is not None


def test_predict_decodes_and_drops_special_tokens() -> None:
    backbone = tiny_backbone()
    head = text_head(backbone)
    ids = answer_ids(backbone, ["pick up the red cube", "the bowl"])
    assert head.predict(ids) == ["pick up the red cube", "the bowl"]
    with pytest.raises(ValueError, match=r"token ids \[B, L\]"):
        head.predict(torch.randn(2, 3))


def test_generation_may_not_emit_special_tokens_other_than_eos() -> None:
    backbone = tiny_backbone()
    placeholder = backbone.add_special_tokens(["<|image|>"])[0]  # added by the model before heads bind
    head = text_head(backbone)
    tokenizer = backbone.tokenizer
    logits = torch.zeros(2, backbone.input_embeddings.weight.shape[0])
    out = head.constrain_logits(logits)
    blocked = torch.isinf(out[0]).nonzero().flatten().tolist()
    assert tokenizer.eos_token_id not in blocked
    assert {tokenizer.pad_token_id, tokenizer.bos_token_id, placeholder} <= set(blocked)
    assert tokenizer.convert_tokens_to_ids("<|user|>") in blocked
    assert len(blocked) == len(tokenizer.all_special_ids) - 1  # ordinary tokens untouched
    free = text_head(backbone, allow_special_tokens=True)
    assert torch.equal(free.constrain_logits(logits), logits)


def test_the_head_borrows_the_lm_head_without_owning_it() -> None:
    backbone = tiny_backbone()
    head = text_head(backbone)
    assert head.backbone is backbone
    assert len(head.state_dict()) == 0 and not list(head.parameters()) and not list(head.children())
    unbound = TextHead(TextSettings(), BuildContext(embed_dim=backbone.embed_dim, backbone=backbone))
    with pytest.raises(RuntimeError, match="not bound"):
        unbound.loss(torch.randn(1, 3, backbone.embed_dim), {"labels": torch.ones(1, 3, dtype=torch.long)})


class Constrain(LogitsProcessor):
    def __init__(self, head: TextHead) -> None:
        self.head = head

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return self.head.constrain_logits(scores)  # type: ignore[return-value]


def test_a_memorised_answer_is_recalled_by_greedy_generation() -> None:
    backbone = tiny_backbone()
    head = text_head(backbone, max_new_tokens=8)
    prompts = prompt_ids(backbone, 2, 5, seed=2)
    answers = ["red cube", "blue bowl"]
    targets = answer_ids(backbone, answers)
    ids, labels = labelled(prompts, targets)
    labels[ids == backbone.tokenizer.pad_token_id] = -100  # right padding after the shorter answer's EOS
    optimizer = torch.optim.Adam(backbone.parameters(), lr=1e-2)
    for _ in range(40):
        loss, _ = head.loss(hidden_states(backbone, ids), {"labels": labels})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        out = backbone.model.generate(
            input_ids=prompts,
            attention_mask=torch.ones_like(prompts),
            max_new_tokens=head.max_new_tokens,
            logits_processor=LogitsProcessorList([Constrain(head)]),
            do_sample=False,
        )
    assert head.predict(out[:, prompts.shape[1] :]) == answers
