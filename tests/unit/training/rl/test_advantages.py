"""GAE, truncation bootstrapping, GRPO's group advantages and RLOO's baseline against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from embodied.training.rl.advantages import bootstrapped_rewards, gae, group_advantages, leave_one_out_advantages

GAMMA, LAM = 0.9, 0.8
REWARDS = torch.tensor([[1.0], [1.0], [1.0]])  # [T=3, N=1]
VALUES = torch.tensor([[0.5], [0.4], [0.3]])
LAST = torch.tensor([0.2])  # V(s_3) of the next episode's first state: cut off by the done at t = 2
ENDS_AT_2 = torch.tensor([[False], [False], [True]])
NEVER = torch.zeros(3, 1, dtype=torch.bool)
FINAL_V = torch.tensor([[0.0], [0.0], [0.6]])  # V(final observation) at the truncated step


def _gae(terminated: torch.Tensor, truncated: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    rewards = bootstrapped_rewards(REWARDS, terminated, truncated, FINAL_V, GAMMA, mode)
    return gae(rewards, VALUES, terminated | truncated, LAST, GAMMA, LAM)


def test_gae_with_a_termination_matches_hand_computation() -> None:
    # δ2 = 1 − 0.3 = 0.7; δ1 = 1 + 0.9·0.3 − 0.4 = 0.87; δ0 = 1 + 0.9·0.4 − 0.5 = 0.86
    # A2 = 0.7; A1 = 0.87 + 0.72·0.7 = 1.374; A0 = 0.86 + 0.72·1.374 = 1.84928
    adv, ret = _gae(ENDS_AT_2, NEVER, "bootstrap")
    torch.testing.assert_close(adv[:, 0], torch.tensor([1.84928, 1.374, 0.7]))
    torch.testing.assert_close(ret[:, 0], torch.tensor([2.34928, 1.774, 1.0]))


def test_gae_with_a_truncation_bootstraps_the_final_value() -> None:
    # r2' = 1 + 0.9·0.6 = 1.54; A2 = 1.24; A1 = 0.87 + 0.72·1.24 = 1.7628; A0 = 0.86 + 0.72·1.7628 = 2.129216
    adv, ret = _gae(NEVER, ENDS_AT_2, "bootstrap")
    torch.testing.assert_close(adv[:, 0], torch.tensor([2.129216, 1.7628, 1.24]))
    _, ret_terminated = _gae(ENDS_AT_2, NEVER, "bootstrap")
    # the truncated step's target exceeds the terminated one's by exactly γ·V(s_T)
    torch.testing.assert_close(ret[2, 0] - ret_terminated[2, 0], torch.tensor(GAMMA * 0.6))


def test_truncation_as_termination_ignores_the_final_value() -> None:
    adv, ret = _gae(NEVER, ENDS_AT_2, "terminate")
    adv_t, ret_t = _gae(ENDS_AT_2, NEVER, "terminate")
    torch.testing.assert_close(adv, adv_t)
    torch.testing.assert_close(ret, ret_t)


def test_gae_without_dones_bootstraps_the_last_value() -> None:
    # δ2 = 1 + 0.9·0.2 − 0.3 = 0.88 (everything else as above, with A1 = 0.87 + 0.72·0.88)
    adv, _ = gae(REWARDS, VALUES, NEVER, LAST, GAMMA, LAM)
    torch.testing.assert_close(adv[2, 0], torch.tensor(0.88))
    torch.testing.assert_close(adv[1, 0], torch.tensor(0.87 + 0.72 * 0.88))


def test_terminated_and_truncated_together_count_as_terminated() -> None:
    both = bootstrapped_rewards(REWARDS, ENDS_AT_2, ENDS_AT_2, FINAL_V, GAMMA)
    torch.testing.assert_close(both, REWARDS)


def test_grpo_advantages_of_one_success_in_four() -> None:
    rewards = torch.tensor([[1.0, 0.0, 0.0, 0.0]])  # mean 0.25, Bessel std 0.5
    torch.testing.assert_close(group_advantages(rewards, eps=0.0), torch.tensor([[1.5, -0.5, -0.5, -0.5]]))
    torch.testing.assert_close(group_advantages(rewards), torch.tensor([[1.5, -0.5, -0.5, -0.5]]), atol=1e-3, rtol=0)
    torch.testing.assert_close(group_advantages(rewards, scale=False), torch.tensor([[0.75, -0.25, -0.25, -0.25]]))


def test_grpo_all_equal_group_gives_zeros() -> None:
    adv = group_advantages(torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    assert torch.equal(adv, torch.zeros(2, 3))


def test_rloo_leave_one_out_baseline() -> None:
    adv = leave_one_out_advantages(torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    torch.testing.assert_close(adv, torch.tensor([[1.0, -1 / 3, -1 / 3, -1 / 3]]))


@pytest.mark.parametrize("fn", [group_advantages, leave_one_out_advantages])
def test_groups_need_two_samples(fn: object) -> None:
    with pytest.raises(ValueError, match="group_size >= 2"):
        fn(torch.ones(3, 1))  # type: ignore[operator]


def test_unknown_truncation_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="truncation"):
        bootstrapped_rewards(REWARDS, NEVER, NEVER, FINAL_V, GAMMA, "ignore")
