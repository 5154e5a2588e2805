"""Self-imitation (Oh et al. 2018): which steps the buffer keeps, its loss, its checkpoint state, and that its
updates raise the log-prob of the kept actions for every head RL trains."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch

from embodied.training.rl.algorithms.base import Minibatch
from embodied.training.rl.policy import PolicyOutput
from embodied.training.rl.rollout import Rollout
from embodied.training.rl.self_imitation import SelfImitation, sil_loss
from embodied.training.rl.settings import SelfImitationSettings
from tests.unit.training.rl.support import CASES, collector_for


def rollout(advantages: list[list[float]], valid: list[list[bool]]) -> Rollout:
    """A ``[T, N]`` rollout whose observations carry an image, a state and an instruction."""
    t, n = len(advantages), len(advantages[0])
    zeros = torch.zeros(t, n)
    observations = [
        {
            "images": {"top": np.full((4, 4, 3), k, dtype=np.uint8)},
            "state": np.arange(3, dtype=np.float32) + k,
            "instruction": f"put thing {k} away",
        }
        for k in range(t * n)
    ]
    out = Rollout(
        observations=observations,
        prompts=[f"prompt {k}" for k in range(t * n)],
        actions=[torch.tensor([k, k + 1]) for k in range(t * n)],
        log_probs=zeros.clone(),
        values=zeros.clone(),
        rewards=zeros.clone(),
        terminated=torch.zeros(t, n, dtype=torch.bool),
        truncated=torch.zeros(t, n, dtype=torch.bool),
        final_values=zeros.clone(),
        valid=torch.tensor(valid),
        episode=torch.zeros(t, n, dtype=torch.long),
        group=torch.zeros(t, n, dtype=torch.long),
        last_values=torch.zeros(n),
    )
    out.advantages = torch.tensor(advantages)
    return out


def test_loss_is_minus_the_weighted_mean_log_prob() -> None:
    # −mean(w · log π) = −(1·(−1) + 0.5·(−2)) / 2 = 1.0; times coef 0.5 = 0.5
    loss = sil_loss(torch.tensor([-1.0, -2.0]), torch.tensor([1.0, 0.5]), coef=0.5)
    assert float(loss) == pytest.approx(0.5)


def test_keeps_the_valid_steps_with_positive_advantage_first_in_first_out() -> None:
    sil = SelfImitation(SelfImitationSettings(steps=1, capacity=3))
    # time-major index t·N + i: kept are (0,0) adv 1.0 and (1,1) adv 0.3; (1,0) is padding, (0,2) is zero
    added = sil.add(rollout([[1.0, -0.5, 0.0], [2.0, 0.3, -1.0]], [[True] * 3, [False, True, True]]))
    assert added == 2 and [e.advantage for e in sil.entries] == [1.0, pytest.approx(0.3)]
    assert [e.prompt for e in sil.entries] == ["prompt 0", "prompt 4"]
    sil.add(rollout([[0.7, 0.9]], [[True, True]]))
    assert [e.prompt for e in sil.entries] == ["prompt 4", "prompt 0", "prompt 1"]  # the oldest went
    assert sil.added == 4


def test_draws_uniform_or_advantage_weights() -> None:
    data = rollout([[2.0, 0.5]], [[True, True]])
    uniform = SelfImitation(SelfImitationSettings(steps=1, batch_size=6))
    uniform.add(data)
    drawn, weights = uniform.draw(torch.Generator().manual_seed(0))
    assert len(drawn) == 6 and torch.equal(weights, torch.ones(6))
    weighted = SelfImitation(SelfImitationSettings(steps=1, batch_size=6, weighting="advantage"))
    weighted.add(data)
    drawn, weights = weighted.draw(torch.Generator().manual_seed(0))
    assert weights.tolist() == [e.advantage for e in drawn]


def test_state_round_trips_the_buffer_exactly() -> None:
    sil = SelfImitation(SelfImitationSettings(steps=1))
    sil.add(rollout([[1.0, 2.0], [0.5, -1.0]], [[True, True], [True, True]]))
    tree, tensors = sil.state_dict()
    json_tree = json.loads(json.dumps(tree))  # what the checkpoint writes is JSON
    restored = SelfImitation(SelfImitationSettings(steps=1))
    restored.load_state_dict(json_tree, tensors)
    assert restored.added == sil.added == 3
    for a, b in zip(sil.entries, restored.entries, strict=True):
        assert (a.prompt, a.advantage) == (b.prompt, b.advantage) and torch.equal(a.action, b.action)
        assert a.observation["instruction"] == b.observation["instruction"]
        np.testing.assert_array_equal(a.observation["images"]["top"], b.observation["images"]["top"])
        np.testing.assert_array_equal(a.observation["state"], b.observation["state"])
        assert b.observation["state"].dtype == np.float32


class _Learner:
    """The stage loop's side of an update: the policy's pass over stored actions and an Adam step."""

    def __init__(self, collector: Any) -> None:
        self.collector, self.generator = collector, torch.Generator().manual_seed(0)
        self.optimizer = torch.optim.Adam(collector.policy.parameters(), lr=3e-4)

    def evaluate(self, batch: Minibatch) -> PolicyOutput:
        out: PolicyOutput = self.collector.policy(
            self.collector.batch(batch.observations, batch.prompts), batch.actions
        )
        return out

    def step(self, loss: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"grad_norm": 0.0, "skipped": 0.0}


@pytest.mark.parametrize("case", sorted(CASES))
def test_updates_raise_the_log_prob_of_the_kept_actions(case: str) -> None:
    collector = collector_for(case, num_envs=2, critic=False)
    try:
        data = collector.steps(2)
        data.advantages = torch.ones_like(data.rewards)  # every step "better than expected"
        sil = SelfImitation(SelfImitationSettings(steps=8, batch_size=16))  # ~every kept step in each draw
        assert sil.add(data) == 4
        learner = _Learner(collector)

        def mean_log_prob() -> float:
            with torch.no_grad():
                entries = sil.entries
                batch = collector.batch([e.observation for e in entries], [e.prompt for e in entries])
                return float(collector.policy(batch, [e.action for e in entries]).log_prob.mean())

        before = mean_log_prob()
        stats = sil.update(learner)  # type: ignore[arg-type]
        assert stats["sil_updates"] == 8.0 and stats["sil_buffer"] == 4.0
        # small steps: the Laplace's L1 geometry makes the continuous head's log-prob jump about at larger ones
        assert mean_log_prob() > before
    finally:
        collector.envs.close()


def test_no_updates_while_the_buffer_is_empty() -> None:
    sil = SelfImitation(SelfImitationSettings(steps=4))
    sil.add(rollout([[-1.0, 0.0]], [[True, True]]))
    assert sil.update(None) == {"sil_buffer": 0.0, "sil_added": 0.0}  # type: ignore[arg-type]
