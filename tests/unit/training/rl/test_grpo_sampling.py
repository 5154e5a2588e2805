"""GRPO's dynamic sampling: all-equal groups are dropped, counted, and replaced by newly collected groups."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from embodied.training.rl.algorithms.grpo import GRPO, GRPOSettings
from embodied.training.rl.algorithms.rloo import RLOO, RLOOSettings
from embodied.training.rl.rollout import Rollout
from embodied.training.rl.settings import RLSpec


def one_step_rollout(rewards: Sequence[float], groups: Sequence[int]) -> Rollout:
    n = len(rewards)
    zeros = torch.zeros(1, n)
    return Rollout(
        observations=[{"state": torch.zeros(1)} for _ in range(n)],
        prompts=[f"p{i}" for i in range(n)],
        actions=[torch.tensor([i]) for i in range(n)],
        log_probs=zeros.clone(),
        values=zeros.clone(),
        rewards=torch.tensor([list(rewards)]),
        terminated=torch.ones(1, n, dtype=torch.bool),
        truncated=torch.zeros(1, n, dtype=torch.bool),
        final_values=zeros.clone(),
        valid=torch.ones(1, n, dtype=torch.bool),
        episode=torch.zeros(1, n, dtype=torch.long),
        group=torch.tensor([list(groups)]),
        last_values=torch.zeros(n),
    )


class ScriptedCollector:
    """Returns the given reward rows one collection after another."""

    def __init__(self, batches: list[list[float]]) -> None:
        self.batches, self.calls, self.seed = batches, 0, 0

    def next_seed(self) -> int:
        self.seed += 1
        return self.seed

    def episodes(self, seeds: Sequence[int], groups: Sequence[int], greedy: bool = False) -> Rollout:
        rewards = self.batches[self.calls]
        self.calls += 1
        return one_step_rollout(rewards, groups)


def _grpo(**kw: object) -> GRPO:
    return GRPO(GRPOSettings(group_size=2, **kw), RLSpec(env="x", num_envs=4))  # type: ignore[arg-type]


def test_uninformative_groups_are_dropped_and_refilled() -> None:
    # first collection: group 0 informative (1, 0), group 1 all-equal (1, 1); second: group 0 all-equal, group 1 (0, 1)
    collector = ScriptedCollector([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    rollout = _grpo().collect(collector)  # type: ignore[arg-type]
    assert collector.calls == 2
    assert rollout.stats["dropped_groups"] == 0.5  # 2 of 4 collected groups carried no signal
    torch.testing.assert_close(rollout.rewards[0], torch.tensor([1.0, 0.0, 0.0, 1.0]))
    stats = _grpo().prepare(rollout)
    assert stats["dropped_groups"] == 0.5
    assert rollout.advantages is not None
    # each kept group is (1, 0): mean 0.5, Bessel std 0.7071
    torch.testing.assert_close(
        rollout.advantages[0], torch.tensor([0.7071, -0.7071, -0.7071, 0.7071]), atol=2e-4, rtol=0
    )


def test_refills_run_out_then_uninformative_groups_fill_in_with_zero_advantage() -> None:
    collector = ScriptedCollector([[1.0, 1.0, 0.0, 0.0]] * 3)
    algo = _grpo(max_refills=2)
    rollout = algo.collect(collector)  # type: ignore[arg-type]
    assert collector.calls == 3 and rollout.stats["dropped_groups"] == 1.0
    algo.prepare(rollout)
    assert rollout.advantages is not None and torch.equal(rollout.advantages, torch.zeros(1, 4))


def test_without_dynamic_sampling_everything_is_kept() -> None:
    collector = ScriptedCollector([[1.0, 1.0, 0.0, 1.0]])
    rollout = _grpo(dynamic_sampling=False).collect(collector)  # type: ignore[arg-type]
    assert collector.calls == 1 and rollout.stats["dropped_groups"] == 0.0


def test_rloo_uses_the_leave_one_out_baseline() -> None:
    algo = RLOO(RLOOSettings(group_size=2), RLSpec(env="x", num_envs=4))
    rollout = algo.collect(ScriptedCollector([[1.0, 0.0, 0.0, 1.0]]))  # type: ignore[arg-type]
    algo.prepare(rollout)
    assert rollout.advantages is not None
    torch.testing.assert_close(rollout.advantages[0], torch.tensor([1.0, -1.0, -1.0, 1.0]))
