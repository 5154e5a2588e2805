"""DPO (Rafailov et al. 2023): the loss by hand, the frozen reference, and preference learning on the tiny MMLLM."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from embodied.models.config import MMLLMConfig
from embodied.models.heads.action_tokens import ActionTokensHead
from embodied.models.mmllm import MMLLM
from embodied.training.checkpoint import latest_checkpoint, load_checkpoint
from embodied.training.metrics import read_metrics
from embodied.training.preference import (
    DPOSettings,
    PreferenceModel,
    dpo_loss,
    preference_batch,
    sequence_logps,
)
from embodied.training.trainer import Trainer, TrainerSettings
from tests.factory import HEAD_SPECS, batch_for, observation, tiny_spec


def _tiny_model(heads: dict[str, Any] | None = None) -> MMLLM:
    torch.manual_seed(0)
    return MMLLM(MMLLMConfig(spec=tiny_spec(heads=heads)))


def _colour_pairs(model: MMLLM) -> dict[str, Any]:
    """Two images, the same question each; "red" is preferred to "blue" for both."""
    observations = [observation(1), observation(2)]
    prompts = ["what colour is the cube?"] * 2
    return preference_batch(model, observations, prompts, ["red", "red"], ["blue", "blue"])


def test_dpo_loss_matches_hand_computation() -> None:
    policy_c, policy_r = torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -1.0])
    ref_c, ref_r = torch.tensor([-2.0, -2.0]), torch.tensor([-2.0, -2.0])
    # β h per pair: 0.5 * ((-1 + 2) - (-3 + 2)) = 1.0 and 0.5 * ((-2 + 2) - (-1 + 2)) = -0.5
    loss, stats = dpo_loss(policy_c, policy_r, ref_c, ref_r, beta=0.5)
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(0.5))) / 2  # -log σ(x) = log(1 + e^-x)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert stats["rewards/chosen"] == pytest.approx((0.5 + 0.0) / 2)
    assert stats["rewards/rejected"] == pytest.approx((-0.5 + 0.5) / 2)
    assert stats["rewards/margin"] == pytest.approx((1.0 - 0.5) / 2)
    assert stats["rewards/accuracy"] == 0.5

    smoothed, _ = dpo_loss(policy_c, policy_r, ref_c, ref_r, beta=0.5, label_smoothing=0.1)
    by_hand = [0.9 * math.log1p(math.exp(-x)) + 0.1 * math.log1p(math.exp(x)) for x in (1.0, -0.5)]
    assert smoothed.item() == pytest.approx(sum(by_hand) / 2, rel=1e-6)


def test_dpo_loss_is_ln2_when_policy_equals_reference() -> None:
    logps = torch.tensor([-4.0, -7.5, -0.3])
    loss, stats = dpo_loss(logps, logps - 1.0, logps, logps - 1.0, beta=0.1)
    assert loss.item() == pytest.approx(math.log(2.0), rel=1e-6)
    assert stats["rewards/accuracy"] == 0.0 and stats["rewards/margin"] == 0.0


def test_sequence_logps_equals_negative_summed_cross_entropy() -> None:
    model = _tiny_model({"text": HEAD_SPECS["text"], "action": HEAD_SPECS["action-tokens"]})
    batch = batch_for(model, n=2, seed=3)  # row 0: action-token targets, row 1: a text answer
    logps = sequence_logps(model, batch)
    with torch.no_grad():
        hidden = model(**batch).hidden  # the model's own forward, [B, T, D]
        logits = model.backbone.logits(hidden)[:, :-1].float()  # [B, T-1, V]
        token_ce = F.cross_entropy(logits.transpose(1, 2), batch["labels"][:, 1:], reduction="none")  # [B, T-1]
    assert logps.shape == (2,)
    torch.testing.assert_close(logps, -token_ce.sum(dim=1), rtol=1e-5, atol=1e-5)
    assert bool((logps < 0).all())


def test_gradient_reaches_only_the_policy_and_state_is_saved_once() -> None:
    model = _tiny_model()
    dpo = PreferenceModel(model, DPOSettings(beta=0.5))
    output = dpo(**_colour_pairs(model))
    assert output.loss.item() == pytest.approx(math.log(2.0), abs=1e-6)  # policy == reference at construction
    output.loss.backward()
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters())
    assert all(p.grad is None and not p.requires_grad for p in dpo.reference.parameters())
    assert not dpo.reference.training
    assert {id(p) for p in dpo.parameters()} == {id(p) for p in model.parameters()}
    assert all(key.startswith("policy.") for key in dpo.state_dict())
    dpo.train()
    assert model.training and not dpo.reference.training


def test_dpo_steps_prefer_chosen_and_leave_the_reference_unchanged() -> None:
    model = _tiny_model()
    dpo = PreferenceModel(model, DPOSettings(beta=0.5))
    batch = _colour_pairs(model)
    with torch.no_grad():
        ref_chosen_start = sequence_logps(dpo.reference, batch["chosen"])
        ref_rejected_start = sequence_logps(dpo.reference, batch["rejected"])
        margin_start = sequence_logps(model, batch["chosen"]) - sequence_logps(model, batch["rejected"])
    optimizer = torch.optim.Adam([p for p in dpo.parameters() if p.requires_grad], lr=1e-3)
    first = dpo(**batch)
    assert first.metrics["rewards/accuracy"] == 0.0
    for _ in range(30):
        output = dpo(**batch)
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
    final = dpo(**batch)
    assert final.metrics["rewards/accuracy"] == 1.0
    assert final.loss.item() < first.loss.item() < math.log(2.0) + 1e-6
    with torch.no_grad():
        margin_end = sequence_logps(model, batch["chosen"]) - sequence_logps(model, batch["rejected"])
        assert torch.equal(sequence_logps(dpo.reference, batch["chosen"]), ref_chosen_start)
        assert torch.equal(sequence_logps(dpo.reference, batch["rejected"]), ref_rejected_start)
    assert bool((margin_end > margin_start + 1.0).all())


def test_trainer_trains_the_preference_model_unchanged(tmp_path: Path) -> None:
    model = _tiny_model()
    dpo = PreferenceModel(model, DPOSettings(beta=0.5))
    settings = TrainerSettings(stage="dpo", max_steps=8, lr=1e-3, progress_bar=False, tensorboard=False)
    Trainer(dpo, settings, [_colour_pairs(model)], tmp_path).train()
    train = [r for r in read_metrics(tmp_path) if r["split"] == "train"]
    assert len(train) == 8 and {"rewards/accuracy", "rewards/margin", "logps/chosen"} <= train[0].keys()
    assert train[0]["loss"] == pytest.approx(math.log(2.0), abs=1e-6)
    assert train[-1]["loss"] < train[0]["loss"] and train[-1]["rewards/accuracy"] == 1.0
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None
    saved = load_checkpoint(checkpoint).model_state
    assert saved.keys() == dpo.state_dict().keys()  # the policy once; the reference is rebuilt, never stored


def test_preference_batch_needs_one_rejected_target_per_prompt() -> None:
    model = _tiny_model()
    with pytest.raises(ValueError, match="one chosen and one rejected"):
        preference_batch(model, [observation(1)], ["q"], ["red"], [])


def test_dpo_on_action_token_pairs_prefers_the_successful_actions() -> None:
    model = _tiny_model({"action": HEAD_SPECS["action-tokens"]})
    head = model.head_map["action"]
    assert isinstance(head, ActionTokensHead)
    success = head.encode(torch.full((2, 1, 7), 0.5)).tolist()  # the actions of the successful rollouts
    failure = head.encode(torch.full((2, 1, 7), -0.5)).tolist()  # the failed ones, same seeds and prompts
    batch = preference_batch(model, [observation(1), observation(2)], ["pick up the cube"] * 2, success, failure)
    dpo = PreferenceModel(model, DPOSettings(beta=0.5))
    optimizer = torch.optim.Adam([p for p in dpo.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(20):
        output = dpo(**batch)
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
    final = dpo(**batch)
    assert final.metrics["rewards/accuracy"] == 1.0 and final.metrics["rewards/margin"] > 0.5


def test_device_and_dtype_moves_reach_the_reference() -> None:
    dpo = PreferenceModel(_tiny_model())
    dpo.to(torch.float64)
    assert {p.dtype for p in dpo.reference.parameters()} == {torch.float64}
    assert {p.dtype for p in dpo.policy.parameters()} == {torch.float64}
