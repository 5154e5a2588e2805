"""Plans: the parser, the symbolic checker, progress against the physical state, executed steps of experts."""

from __future__ import annotations

import numpy as np
import pytest

from embodied.envs.tabletop.env import TabletopEnv
from embodied.envs.tabletop.plans import PlanError, PlanStep, format_plan, parse_plan
from embodied.envs.tabletop.tasks import TASKS


def test_parser_reads_numbered_lines_prose_and_separators() -> None:
    steps = [PlanStep("pick", ("red cube",)), PlanStep("place", ("blue bowl",))]
    assert parse_plan(format_plan(steps)) == steps
    assert parse_plan("First Pick( Red  Cube ), then place(blue bowl).") == steps
    assert parse_plan("pick(red cube); place(blue bowl)") == steps
    assert parse_plan("push(red cube, green zone)") == [PlanStep("push", ("red cube", "green zone"))]


@pytest.mark.parametrize(
    ("text", "match"),
    [("grab(red cube)", "unknown verb"), ("pick(red cube, blue bowl)", "takes 1"), ("do nothing", "no steps")],
)
def test_parser_rejects_what_it_cannot_read(text: str, match: str) -> None:
    with pytest.raises(PlanError, match=match):
        parse_plan(text)


def _run_expert(env: TabletopEnv, seed: int) -> bool:
    env.reset(seed=seed)
    terminated = truncated = False
    while not (terminated or truncated):
        _, _, terminated, truncated, _ = env.step(env.expert_action())
    return terminated


@pytest.mark.parametrize("task", sorted(TASKS))
def test_expert_executed_steps_form_a_valid_plan_with_full_progress(task: str) -> None:
    env = TabletopEnv(task=task, control="primitive", cameras=())
    try:
        env.reset(seed=5)
        initial = env.check_plan(env.plan_text())
        assert initial.valid and initial.progress == 0, initial
        assert _run_expert(env, seed=5)
        executed = env.executed_steps
        check = env.check_plan(format_plan(executed))
        assert check.valid, (executed, check)
        assert check.progress == len(executed)
        assert sorted(map(str, executed)) == sorted(map(str, env.plan()))
    finally:
        env.close()


def test_progress_tracks_the_physical_state_mid_episode() -> None:
    env = TabletopEnv(task="put_all", control="ee_delta", cameras=())
    try:
        env.reset(seed=2)
        plan = env.plan()
        seen = []
        terminated = False
        while not terminated:
            _, _, terminated, _, _ = env.step(env.expert_action())
            seen.append(env.check_plan(env.executed_steps).progress)
        assert seen[0] == 0 and seen[-1] == len(plan)
        assert set(range(len(plan) + 1)) <= {0, *seen}  # every intermediate step (picked, placed, ...) observed
    finally:
        env.close()


def test_corrupted_plans_are_invalid() -> None:
    env = TabletopEnv(task="stack", control="primitive", cameras=())
    try:
        env.reset(seed=0)
        top, base = env.task.bindings["top"], env.task.bindings["base"]
        distractor = next(o.name for o in env.scene.movable if o.name not in (top, base))
        assert env.check_plan(f"pick({top}) place({base})").valid
        wrong_order = env.check_plan(f"pick({base}) place({top})")
        assert not wrong_order.valid and base in wrong_order.reason
        wrong_object = env.check_plan(f"pick({distractor}) place({base})")
        assert not wrong_object.valid and "does not involve" in wrong_object.reason
        missing = env.check_plan(f"pick({top})")
        assert not missing.valid and "holding" in missing.reason
        assert not env.check_plan(f"place({base})").valid  # nothing held
        assert not env.check_plan(f"pick({top}) place(pink bowl)").valid  # not in the scene
        assert not env.check_plan("dance()").valid
    finally:
        env.close()


def test_multi_object_plans_accept_any_order_but_not_a_missing_object() -> None:
    env = TabletopEnv(task="sort", control="primitive", cameras=())
    try:
        env.reset(seed=1)
        pairs = [(s, t) for s, t in zip(env.plan()[::2], env.plan()[1::2], strict=True)]
        reordered = [step for pair in reversed(pairs) for step in pair]
        assert env.check_plan(reordered).valid
        assert not env.check_plan([step for pair in pairs[1:] for step in pair]).valid
        swapped = list(env.plan())
        swapped[1], swapped[3] = swapped[3], swapped[1]  # two objects into each other's bowls
        if swapped[1] != swapped[3]:
            assert not env.check_plan(swapped).valid
        colours = {o.split()[0] for o in env.task.involved()}
        assert len(colours) == 2 and np.all([s.verb in ("pick", "place") for s in env.plan()])
    finally:
        env.close()
