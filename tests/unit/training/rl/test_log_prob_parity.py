"""The log-prob the rollout stores equals the one the update recomputes, for every head RL trains.

The acting path (KV-cache decoding, one batch of all sub-envs) and the update's path (teacher forcing, minibatches
of other rows with other padding) are different code; a silent mismatch between them makes every PPO ratio wrong.
"""

from __future__ import annotations

import pytest
import torch

from embodied.training.rl.algorithms.base import minibatches
from tests.unit.training.rl.support import CASES, collector_for

#: every head at temperature 1; the tempered distribution on the two decoding heads and the pointer
PARAMS = [(case, 1.0) for case in sorted(CASES)] + [("action-tokens", 0.7), ("text", 0.7), ("pointer", 0.7)]


@pytest.mark.parametrize(("case", "temperature"), PARAMS)
def test_stored_log_prob_equals_recomputed(case: str, temperature: float) -> None:
    collector = collector_for(case, temperature=temperature)
    try:
        rollout = collector.steps(3)
        rollout.advantages = torch.zeros_like(rollout.rewards)
        rollout.returns = torch.zeros_like(rollout.rewards)
        generator = torch.Generator().manual_seed(0)
        checked = 0
        for mb in minibatches(rollout, 2, generator):  # other rows, other order, other padding than at rollout
            out = collector.policy(collector.batch(mb.observations, mb.prompts), mb.actions)
            ratio = torch.exp(out.log_prob - mb.log_probs)
            torch.testing.assert_close(ratio, torch.ones_like(ratio), atol=1e-5, rtol=0)
            torch.testing.assert_close(out.value, mb.values, atol=1e-5, rtol=0)
            assert bool(torch.isfinite(out.entropy).all())  # a Laplace density may have negative entropy
            checked += len(mb)
        assert checked == 9
    finally:
        collector.envs.close()


def test_sampling_draws_different_actions_but_greedy_repeats() -> None:
    collector = collector_for("pointer", num_envs=2)
    try:
        collector.start()
        assert collector.obs is not None
        _, _, first, _ = collector._decide(collector.obs, greedy=True)
        _, _, again, _ = collector._decide(collector.obs, greedy=True)
        assert all(torch.equal(a, b) for a, b in zip(first.actions, again.actions, strict=True))
        draws = {tuple(collector._decide(collector.obs, greedy=False)[2].actions[0].tolist()) for _ in range(6)}
        assert len(draws) > 1
    finally:
        collector.envs.close()
