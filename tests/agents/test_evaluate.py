"""Evaluation rollouts: seeds per episode whatever the vector size, outcomes, latency, frames, VQA and plan records."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from embodied.agents.base import Agent, batch_size
from embodied.agents.build import make_baseline
from embodied.agents.evaluate import (
    _frame,
    _render,
    evaluate_agent,
    evaluate_plans,
    evaluate_vqa,
    vqa_answer_space,
    wave_seeds,
)
from embodied.agents.skills import IDLE_ACTION
from embodied.envs.tabletop.vqa import QTYPES

ENV = "embodied/PickPlace-v0"
KWARGS = {"control": "primitive", "image_size": 32, "cameras": ("front",)}


def test_wave_seeds() -> None:
    assert wave_seeds(10, 5, 2) == [[10, 11], [12, 13], [14]]
    assert wave_seeds(0, 0, 3) == []
    with pytest.raises(ValueError, match="num_envs"):
        wave_seeds(0, 3, 0)


def test_scripted_agent_succeeds_and_records_frames() -> None:
    stats = evaluate_agent(lambda envs: make_baseline("scripted", envs), ENV, KWARGS, 5, 7, 2, video_episodes=3)
    assert stats.agent == "scripted" and stats.num_envs == 2 and stats.renderer == "tiny"
    assert stats.seeds == [7, 8, 9, 10, 11]
    assert stats.successes == [True] * 5 and stats.lengths == [1] * 5  # one pick-and-place primitive
    assert len(stats.decision_seconds) == 3  # one batched act call per wave of 2, 2, 1 episodes
    assert [len(f) for f in stats.frames] == [2, 2, 2]  # reset + final frame of the first 3 episodes
    # the env's own render (front camera at render_size 256), not the model's 32×32 input
    assert stats.frames[0][0].shape == (256, 256, 3) and stats.frames[0][0].dtype == np.uint8


def test_videos_use_the_env_render_size_and_fall_back_to_the_observation() -> None:
    kwargs = {**KWARGS, "render_size": 48}
    stats = evaluate_agent(lambda envs: make_baseline("scripted", envs), ENV, kwargs, 1, 3, 1, video_episodes=1)
    assert stats.frames[0][0].shape == (48, 48, 3)

    class Plain:  # an env without render_size or an rgb_array render mode
        unwrapped = object()
        render_mode = None

        def render(self) -> None:
            raise AssertionError("not called")

    assert _render(SimpleNamespace(envs=[Plain()]), 0) is None  # type: ignore[arg-type]
    obs = {"images": {"front": np.zeros((1, 8, 8, 3), np.uint8)}}
    assert _frame(obs, 0).shape == (8, 8, 3)  # type: ignore[union-attr]


def test_episode_k_has_seed_plus_k_whatever_the_vector_size() -> None:
    one = evaluate_agent(lambda envs: make_baseline("scripted", envs), ENV, KWARGS, 3, 0, 1, video_episodes=3)
    three = evaluate_agent(lambda envs: make_baseline("scripted", envs), ENV, KWARGS, 3, 0, 3, video_episodes=3)
    for a, b in zip(one.frames, three.frames, strict=True):
        np.testing.assert_array_equal(a[0], b[0])  # the same initial scene per seed
    assert one.seeds == three.seeds == [0, 1, 2]


def test_random_agent_fails_and_truncates() -> None:
    stats = evaluate_agent(lambda envs: make_baseline("random", envs, seed=0), ENV, KWARGS, 3, 0, 2)
    assert stats.successes == [False] * 3 and stats.lengths == [3] * 3  # PickPlace truncates after 3 primitives
    assert stats.frames == []
    capped = evaluate_agent(lambda envs: make_baseline("random", envs, seed=0), ENV, KWARGS, 2, 0, 2, max_steps=1)
    assert capped.lengths == [1, 1] and capped.successes == [False, False]


class Yes(Agent):
    """Answers "Yes." to every question."""

    name = "yes"

    def _act(self, obs: dict[str, Any], info: dict[str, Any]) -> tuple[str, ...]:
        return tuple("Yes." for _ in obs["question"])


def test_vqa_records_score_exact_match() -> None:
    records = evaluate_vqa(Yes(), 8, 0, num_envs=3, env_kwargs={"image_size": 32, "cameras": ("front",)})
    assert [r.seed for r in records] == list(range(8))
    assert all(r.qtype in QTYPES and r.prediction == "yes" for r in records)
    assert [r.correct for r in records] == [r.answer == "yes" for r in records]
    assert any(r.correct for r in records) and not all(r.correct for r in records)
    space = vqa_answer_space()
    assert set(space) == set(QTYPES)
    assert all(r.answer in space[r.qtype] for r in records)


class StubPlanner(Agent):
    """States ``text`` (or the env's own plan when ``text`` is None) and runs the expert while the plan is valid."""

    name = "stub-planner"

    def __init__(self, envs: Any, text: str | None) -> None:
        super().__init__()
        self.sims, self.text = [e.unwrapped for e in envs.envs], text

    def reset(self, num_envs: int = 1, seeds: Any = None) -> None:
        super().reset(num_envs, seeds)
        self.plans: list[str | None] = [None] * num_envs
        self.plan_checks: list[Any] = [None] * num_envs
        self.replans = [0] * num_envs

    def episode_done(self, index: int) -> None:
        self.plans[index] = None

    def _act(self, obs: dict[str, Any], info: dict[str, Any]) -> np.ndarray:
        actions = []
        for i in range(batch_size(obs)):
            if self.plans[i] is None:
                self.plans[i] = self.sims[i].plan_text() if self.text is None else self.text
                self.plan_checks[i] = self.sims[i].check_plan(self.plans[i])
            valid = self.plan_checks[i].valid
            actions.append(self.sims[i].expert_action() if valid else IDLE_ACTION)
        return np.stack(actions).astype(np.float32)


@pytest.mark.parametrize(("text", "valid"), [(None, True), ("1. fly(red cube)", False)])
def test_plan_records_keep_the_first_plan(text: str | None, valid: bool) -> None:
    outcome = evaluate_plans(lambda envs: StubPlanner(envs, text), ENV, KWARGS, 3, 0, 2)
    assert [r.seed for r in outcome.records] == [0, 1, 2]
    assert [r.valid for r in outcome.records] == [valid] * 3
    assert [r.success for r in outcome.records] == [valid] * 3 == outcome.stats.successes
    if valid:
        assert all(r.plan and r.plan.startswith("1. pick(") and r.reason == "ok" for r in outcome.records)
    else:
        assert all(r.plan == text and r.reason for r in outcome.records)
