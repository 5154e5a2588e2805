"""Episodes → samples of each kind (content, chunk padding, mask) and samples → a batch for the tiny MM-LLM."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from embodied.data import Episode, VQAPair
from embodied.data.samples import (
    CAPTION_PROMPT,
    KINDS,
    TARGET_ACTIONS,
    Sample,
    action_chunk,
    action_prompt,
    make_samples,
    plan_prompt,
    to_batch,
)
from tests.factory import HEAD_SPECS, tiny_spec

IGNORE = -100


def episode(length: int = 3, *, plan: str | None = "pick(red_cube)\nplace(red_cube, blue_bowl)") -> Episode:
    """A hand-made episode: frame ``t`` has images filled with ``t``, state ``t``, actions ``0.1 * (t + 1)``."""
    return Episode(
        images={
            cam: np.stack([np.full((8, 8, 3), t + 10 * i, np.uint8) for t in range(length)])
            for i, cam in enumerate(("front", "wrist"))
        },
        state=np.repeat(np.arange(length, dtype=np.float32)[:, None], 9, axis=1),
        actions=np.repeat((0.1 * np.arange(1, length + 1, dtype=np.float32))[:, None], 7, axis=1)
        * np.linspace(-1, 1, 7, dtype=np.float32),
        task="put the red cube in the blue bowl.",
        plan=plan,
        vqa=[VQAPair("how many cubes are there?", "1", "count"), VQAPair("what colour is the bowl?", "blue")],
        captions=["a red cube and a blue bowl on a table"],
    )


def test_caption_samples() -> None:
    (sample,) = make_samples([episode()], ["caption"])
    assert (sample.kind, sample.prompt, sample.target) == (
        "caption",
        CAPTION_PROMPT,
        "a red cube and a blue bowl on a table",
    )
    assert (sample.episode, sample.frame, sample.actions, sample.action_mask) == (0, 0, None, None)
    assert sample.observation["images"]["front"].shape == (8, 8, 3)
    assert sample.observation["images"]["front"].dtype == np.uint8
    assert int(sample.observation["images"]["wrist"][0, 0, 0]) == 10


def test_action_samples_one_per_frame_with_padded_chunks() -> None:
    ep = episode(3)
    samples = make_samples([ep, ep], "action", chunk=4)
    assert [(s.episode, s.frame) for s in samples] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    last = samples[2]
    assert last.prompt == "what action should the robot take to put the red cube in the blue bowl?"
    assert last.prompt == action_prompt(ep.task) and last.target == TARGET_ACTIONS
    assert last.actions is not None and last.actions.shape == (4, 7) and last.actions.dtype == np.float32
    np.testing.assert_array_equal(last.actions, np.repeat(ep.actions[2:3], 4, axis=0))  # 1 real step + 3 repeats
    np.testing.assert_array_equal(last.action_mask, [1, 0, 0, 0])
    first = samples[0]
    np.testing.assert_array_equal(first.actions, np.concatenate([ep.actions, ep.actions[-1:]]))
    np.testing.assert_array_equal(first.action_mask, [1, 1, 1, 0])
    assert float(first.observation["state"][0]) == 0.0 and float(last.observation["state"][0]) == 2.0
    assert int(last.observation["images"]["front"][0, 0, 0]) == 2


def test_action_chunk_exact_fit_has_no_padding() -> None:
    actions = np.arange(12, dtype=np.float32).reshape(6, 2)
    chunk, mask = action_chunk(actions, 2, 4)
    np.testing.assert_array_equal(chunk, actions[2:6])
    np.testing.assert_array_equal(mask, np.ones(4))
    with pytest.raises(ValueError, match="outside the episode"):
        action_chunk(actions, 6, 4)


def test_plan_and_vqa_samples() -> None:
    samples = make_samples([episode(), episode(plan=None)], ["plan", "vqa"])
    plans = [s for s in samples if s.kind == "plan"]
    assert len(plans) == 1  # the second episode has no plan
    assert (
        plans[0].prompt
        == plan_prompt("put the red cube in the blue bowl")
        == "plan the steps to put the red cube in the blue bowl."
    )
    assert plans[0].target == "pick(red_cube)\nplace(red_cube, blue_bowl)" and plans[0].frame == 0
    vqa = [(s.episode, s.prompt, s.target) for s in samples if s.kind == "vqa"]
    assert vqa == [
        (0, "how many cubes are there?", "1"),
        (0, "what colour is the bowl?", "blue"),
        (1, "how many cubes are there?", "1"),
        (1, "what colour is the bowl?", "blue"),
    ]


def test_shuffle_is_deterministic_and_complete() -> None:
    episodes = [episode(3), episode(4)]
    ordered = make_samples(episodes, KINDS, chunk=2)
    a, b = make_samples(episodes, KINDS, chunk=2, rng=7), make_samples(episodes, KINDS, chunk=2, rng=7)
    key = [(s.kind, s.episode, s.frame, s.target) for s in a]
    assert key == [(s.kind, s.episode, s.frame, s.target) for s in b]
    assert key != [(s.kind, s.episode, s.frame, s.target) for s in ordered]
    assert sorted(key) == sorted((s.kind, s.episode, s.frame, s.target) for s in ordered)


def test_normalize_and_range_errors() -> None:
    ep = episode(2)
    ep.actions = ep.actions * 10.0
    with pytest.raises(ValueError, match=r"outside \[-1, 1\].*normalize="):
        make_samples([ep], ["action"])
    (first, _) = make_samples([ep], ["action"], normalize=lambda a: a / 10.0)
    assert first.actions is not None
    np.testing.assert_allclose(first.actions[0], ep.actions[0] / 10.0)
    with pytest.raises(ValueError, match="unknown sample kinds \\['actions'\\]"):
        make_samples([ep], ["actions"])
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        make_samples([ep], ["action"], chunk=0)


# ------------------------------------------------------------------------------------------ to_batch
@pytest.fixture(scope="module")
def model() -> Any:
    from embodied.models import MMLLM, MMLLMConfig

    heads = {
        "text": HEAD_SPECS["text"],
        "action": {"kind": "action-tokens", "bins": 32, "chunk": 2},
        "continuous": HEAD_SPECS["continuous"],
    }
    torch.manual_seed(0)
    return MMLLM(MMLLMConfig(spec=tiny_spec(heads=heads)))


def _label_ids(batch: dict[str, Any], row: int) -> list[int]:
    labels = batch["labels"][row]
    return [int(i) for i in labels[labels != IGNORE]]


def test_to_batch_labels_only_on_targets(model: Any) -> None:
    samples = make_samples([episode(3)], KINDS, chunk=4)
    kinds = [s.kind for s in samples]
    assert kinds == ["caption", "action", "action", "action", "plan", "vqa", "vqa"]
    batch = to_batch(model, samples)
    tokenizer, eos = model.processor.tokenizer, model.processor.tokenizer.eos_token_id
    head = model.heads["action"]
    for row, sample in enumerate(samples):
        labelled = _label_ids(batch, row)
        ids = batch["input_ids"][row].tolist()
        assert ids[len(ids) - len(labelled) :] == labelled  # labels sit on the row's last tokens, the target
        assert labelled[-1] == eos
        if sample.kind == "action":
            assert sample.actions is not None
            decoded = head.decode(torch.tensor([labelled[:-1]]))[0].numpy()
            assert np.abs(decoded - sample.actions[: head.chunk_length]).max() <= head.bin_width / 2 + 1e-6
        else:
            assert labelled[:-1] == tokenizer(sample.target, add_special_tokens=False)["input_ids"]
            assert tokenizer.decode(labelled[:-1]) == sample.target
    assert batch["actions"].shape == (7, 4, 7) and batch["action_mask"].shape == (7, 4)
    np.testing.assert_array_equal(batch["action_mask"].numpy().sum(axis=1), [0, 3, 2, 1, 0, 0, 0])
    np.testing.assert_array_equal(batch["actions"][2].numpy(), samples[2].actions)


def test_to_batch_loss_is_finite_and_trains_every_head(model: Any) -> None:
    batch = to_batch(model, make_samples([episode(3)], KINDS, chunk=4, rng=0))
    out = model(**batch)
    assert torch.isfinite(out.loss)
    assert {"text/loss", "action/loss", "continuous/loss"} <= set(out.metrics)
    text_only = to_batch(model, make_samples([episode(3)], ["plan", "vqa"]))
    assert "actions" not in text_only and "action_mask" not in text_only
    assert torch.isfinite(model(**text_only).loss)


def test_to_batch_errors(model: Any) -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        to_batch(model, [])
    short = make_samples([episode(3)], ["action"], chunk=2)  # the continuous head needs 4 steps
    with pytest.raises(ValueError, match="have 2 steps but the model's action heads need 4"):
        to_batch(model, short)
    broken = Sample("action", short[0].observation, short[0].prompt, TARGET_ACTIONS, 0, 0)
    with pytest.raises(ValueError, match="one shape"):
        to_batch(model, [broken])


def _fake_model(*heads: SimpleNamespace) -> SimpleNamespace:
    """A stand-in with ``heads`` and a processor that records its arguments (no LM needed)."""

    def processor(
        observations: Any, prompts: Any, targets: Any, actions: Any = None, kinds: Any = None
    ) -> dict[str, Any]:
        return {"targets": list(targets), "actions": actions}

    return SimpleNamespace(heads={str(i): h for i, h in enumerate(heads)}, processor=processor)


def test_to_batch_without_token_head() -> None:
    text = SimpleNamespace(special_tokens=list, chunk_length=0, generative=True)
    continuous = SimpleNamespace(special_tokens=list, chunk_length=2, generative=False)
    samples = make_samples([episode(2)], ["action", "vqa"], chunk=2)
    batch = to_batch(_fake_model(text, continuous), samples)
    assert batch["targets"] == [None, None, "1", "blue"]  # action rows train the parallel head only
    np.testing.assert_array_equal(batch["action_mask"].numpy(), [[1, 1], [1, 0], [0, 0], [0, 0]])
    with pytest.raises(ValueError, match="no action head"):
        to_batch(_fake_model(text), samples)
