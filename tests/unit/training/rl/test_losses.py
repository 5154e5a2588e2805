"""PPO's clipped surrogate, value clipping and entropy; GRPO's loss; the k3 KL — against hand-computed values."""

from __future__ import annotations

import math

import torch

from embodied.training.rl.algorithms.base import k3_kl
from embodied.training.rl.algorithms.grpo import grpo_loss
from embodied.training.rl.algorithms.ppo import explained_variance, ppo_terms

RATIO = torch.tensor([1.5, 0.5, 1.1])
OLD = torch.tensor([-1.0, -2.0, -0.5])
NEW = OLD + RATIO.log()
ADV = torch.tensor([1.0, 1.0, -1.0])
NEW_V, OLD_V, RETURNS = torch.tensor([1.0, 0.0, 0.5]), torch.tensor([0.5, 0.5, 0.5]), torch.tensor([2.0, 0.4, 0.5])
ENTROPY = torch.tensor([0.1, 0.2, 0.3])


def _terms(clip_vloss: bool = True) -> object:
    return ppo_terms(NEW, OLD, ADV, NEW_V, OLD_V, RETURNS, ENTROPY, clip_coef=0.2, clip_vloss=clip_vloss)


def test_clipped_surrogate_active_and_inactive() -> None:
    # row 0: ratio 1.5, A > 0 → clipped to 1.2 (active): −1.2; row 1: ratio 0.5, A > 0 → the unclipped −0.5 is
    # the pessimistic one (clip inactive); row 2: ratio 1.1 inside [0.8, 1.2], A < 0 → 1.1. mean = −0.2
    terms = _terms()
    torch.testing.assert_close(terms.pg_loss, torch.tensor(-0.2))
    assert math.isclose(terms.clipfrac, 2 / 3, rel_tol=1e-6)
    expected_kl = ((0.5 - math.log(1.5)) + (-0.5 - math.log(0.5)) + (0.1 - math.log(1.1))) / 3
    assert math.isclose(terms.approx_kl, expected_kl, rel_tol=1e-5)


def test_value_loss_with_and_without_clipping() -> None:
    # unclipped squared errors [1, 0.16, 0]; clipped values [0.7, 0.3, 0.5] → [1.69, 0.01, 0]; max → [1.69, 0.16, 0]
    torch.testing.assert_close(_terms().v_loss, torch.tensor(0.5 * 1.85 / 3))
    torch.testing.assert_close(_terms(clip_vloss=False).v_loss, torch.tensor(0.5 * 1.16 / 3))


def test_entropy_term_is_the_mean() -> None:
    torch.testing.assert_close(_terms().entropy_loss, torch.tensor(0.2))


def test_ratio_one_gives_the_plain_policy_gradient_loss() -> None:
    terms = ppo_terms(OLD, OLD, ADV, NEW_V, OLD_V, RETURNS, ENTROPY, clip_coef=0.2)
    torch.testing.assert_close(terms.pg_loss, -ADV.mean())
    assert terms.approx_kl == 0.0 and terms.clipfrac == 0.0


def test_advantage_normalisation_per_minibatch() -> None:
    terms = ppo_terms(OLD, OLD, torch.tensor([1.0, 2.0, 3.0]), NEW_V, OLD_V, RETURNS, ENTROPY, 0.2, norm_adv=True)
    torch.testing.assert_close(terms.pg_loss, torch.tensor(0.0), atol=1e-6, rtol=0)  # normalised mean is 0


def test_k3_is_non_negative_and_zero_at_the_reference() -> None:
    logp = torch.randn(1000)
    ref = logp + torch.randn(1000)
    assert bool((k3_kl(logp, ref) >= 0).all())
    assert torch.equal(k3_kl(logp, logp), torch.zeros(1000))
    # log r = ref − logp = log 2 → 2 − log 2 − 1
    torch.testing.assert_close(
        k3_kl(torch.tensor([0.0]), torch.tensor([math.log(2.0)])), torch.tensor([1 - math.log(2)])
    )


def test_grpo_loss_clips_and_adds_the_kl_penalty() -> None:
    loss, clipfrac = grpo_loss(NEW, OLD, ADV, 0.2)
    # min(ρA, clip(ρ)A) per row: [1.2, 0.5, −1.1] → loss = −mean = −0.2
    torch.testing.assert_close(loss, torch.tensor(-0.2))
    assert math.isclose(clipfrac, 2 / 3, rel_tol=1e-6)
    kl = torch.tensor([0.3, 0.0, 0.3])
    with_kl, _ = grpo_loss(NEW, OLD, ADV, 0.2, kl, beta=0.04)
    torch.testing.assert_close(with_kl, torch.tensor(-0.2 + 0.04 * 0.2))


def test_explained_variance() -> None:
    y = torch.tensor([1.0, 2.0, 3.0])
    assert explained_variance(y, y) == 1.0
    assert explained_variance(torch.zeros(3), y) == 0.0  # predicting 0 explains none of the variance
    assert math.isnan(explained_variance(y, torch.ones(3)))
