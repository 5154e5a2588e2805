"""``PlannerAgent``: plans executed by privileged skills, re-planning when a step fails or a plan is wrong."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from embodied.agents import planner as planner_module
from embodied.agents.planner import PlannerAgent
from embodied.agents.skills import IDLE_ACTION, Skill, next_skill
from embodied.envs.tabletop.plans import parse_plan
from embodied.envs.vector import make_vector_env
from tests.agents.support import env_model, head, vector_env

TASKS = ["Reach", "PushToZone", "PickPlace", "Stack", "PutAll", "SortByColour"]


@pytest.fixture(scope="module")
def text_model() -> Any:
    return env_model({"text": head("text", max_new_tokens=8)})


def scripted_plans(agent: PlannerAgent, texts: list[Any] | None = None) -> list[int]:
    """Make ``agent`` "generate" the env's own plan (or the next of ``texts`` per call); returns the rows asked."""
    asked: list[int] = []
    queue = list(texts or [])

    def generate(obs: dict[str, Any], rows: list[int]) -> list[str]:
        asked.extend(rows)
        if queue:
            return [queue.pop(0) for _ in rows]
        return [agent.sims[i].plan_text() for i in rows]

    agent.generate_plans = generate  # type: ignore[method-assign]
    return asked


def run_episodes(agent: PlannerAgent, envs: Any, seed: int, max_steps: int = 12) -> np.ndarray:
    """Step until every sub-env finished one episode; returns each env's success."""
    obs, info = envs.reset(seed=seed)
    agent.reset(envs.num_envs)
    success = np.full(envs.num_envs, np.nan)
    for _ in range(max_steps):
        obs, _, terminated, truncated, info = envs.step(agent.act(obs, info))
        for i in np.flatnonzero(terminated | truncated):
            if np.isnan(success[i]):
                success[i] = float(terminated[i])
            agent.episode_done(int(i))
        if not np.isnan(success).any():
            break
    return success


def test_skills_group_pick_with_place() -> None:
    steps = parse_plan("1. pick(red cube)\n2. place(blue bowl)\n3. touch(green ball)\n4. pick(red cube)")
    assert next_skill(steps, 0) == Skill("pick-place", ("red cube", "blue bowl"), 2)
    assert next_skill(steps, 2) == Skill("touch", ("green ball",), 1)
    assert next_skill(steps, 3) is None  # a pick without its place
    assert next_skill(steps, 4) is None
    assert next_skill(parse_plan("place(blue bowl)"), 0) is None


@pytest.mark.parametrize("task", TASKS)
def test_planner_executes_the_envs_own_plan(text_model: Any, task: str) -> None:
    envs = vector_env(f"embodied/{task}-v0", n=2, seed=3)
    try:
        agent = PlannerAgent(text_model, envs)
        asked = scripted_plans(agent)
        success = run_episodes(agent, envs, seed=3)
        np.testing.assert_array_equal(success, [1.0, 1.0])
        assert sorted(asked) == [0, 1]  # one plan per env, no re-planning
        assert agent.replans == [0, 0] and agent.plan_valid == [True, True]
        assert agent.plans == [s.plan_text() for s in agent.sims]
    finally:
        envs.close()


def test_planner_plans_afresh_after_an_autoreset(text_model: Any) -> None:
    """NEXT_STEP autoreset: the step after a success resets the env; the next episode gets its own plan."""
    envs = vector_env("embodied/PickPlace-v0", n=2, seed=9)
    try:
        agent = PlannerAgent(text_model, envs)
        scripted_plans(agent)
        obs, info = envs.reset(seed=9)
        agent.reset(2)
        done = []
        for _ in range(3):
            obs, _, terminated, _, info = envs.step(agent.act(obs, info))
            done.append(terminated.tolist())
            for i in np.flatnonzero(terminated):
                agent.episode_done(int(i))
        assert done == [[True, True], [False, False], [True, True]]  # success, reset step, success again
        assert agent.replans == [0, 0] and agent.plans == [s.plan_text() for s in agent.sims]
    finally:
        envs.close()


def test_planner_replans_when_a_step_fails(text_model: Any, monkeypatch: Any) -> None:
    """The first skill "slips" (an idle action instead): progress does not advance, so the agent re-plans."""
    real = planner_module.skill_action
    calls = []

    def flaky(env: Any, skill: Skill) -> np.ndarray | None:
        calls.append(skill)
        return IDLE_ACTION.copy() if len(calls) == 1 else real(env, skill)

    monkeypatch.setattr(planner_module, "skill_action", flaky)
    envs = vector_env("embodied/PickPlace-v0", n=1, seed=5)
    try:
        agent = PlannerAgent(text_model, envs)
        asked = scripted_plans(agent)
        assert run_episodes(agent, envs, seed=5)[0] == 1.0
        assert agent.replans == [1] and asked == [0, 0] and len(calls) == 2
    finally:
        envs.close()


def test_planner_replans_after_a_plan_that_cannot_run_or_is_wrong(text_model: Any) -> None:
    """Unreadable text, a hallucinated object, then a runnable but wrong plan; the fourth plan is right."""
    envs = vector_env("embodied/PutAll-v0", n=1, seed=7)
    try:
        agent = PlannerAgent(text_model, envs)
        obs, info = envs.reset(seed=7)
        plan = agent.sims[0].plan_text()
        steps = parse_plan(plan)
        wrong = f"pick({steps[0].args[0]}), place({steps[1].args[0]})"  # only the first object: runs, then used up
        asked = scripted_plans(agent, ["dance!", "pick(golden banana) then place(red bowl)", wrong])
        agent.reset(1)
        action = agent.act(obs, info)
        assert np.array_equal(action[0], IDLE_ACTION) and agent.plan_valid == [False]
        success = np.nan
        for _ in range(10):
            obs, _, terminated, truncated, info = envs.step(action)
            if terminated[0] or truncated[0]:
                success = float(terminated[0])
                break
            action = agent.act(obs, info)
        assert success == 1.0
        assert agent.plans == [plan] and agent.plan_valid == [True]
        assert len(asked) == 4 and agent.replans == [3]
    finally:
        envs.close()


def test_planner_generates_plans_with_the_text_head(text_model: Any) -> None:
    envs = vector_env("embodied/PickPlace-v0", n=2, seed=0)
    try:
        agent = PlannerAgent(text_model, envs, seed=0)
        obs, info = envs.reset(seed=0)
        texts = agent.generate_plans(obs, [0, 1])
        assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
        action = agent.act(obs, info)  # an untrained model's plan does not parse: idle, re-plan next call
        assert action.shape == (2, 7)
        assert agent.plans == texts and agent.plan_valid == [False, False]
    finally:
        envs.close()


def test_planner_needs_sync_primitive_envs(text_model: Any) -> None:
    envs = make_vector_env("embodied/PickPlace-v0", 1, seed=0, control="ee_delta", image_size=32, cameras=("top",))
    try:
        with pytest.raises(ValueError, match="control='primitive'"):
            PlannerAgent(text_model, envs)
    finally:
        envs.close()
    with pytest.raises(TypeError, match="SyncVectorEnv"):
        PlannerAgent(text_model, object())
