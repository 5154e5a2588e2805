"""``embodied/TabletopVQA-v0``: gymnasium contract, determinism, and answers checked against pybullet state.

The oracle below recomputes every answer from raw pybullet queries (``getBasePositionAndOrientation``,
``getAABB``, ``getVisualShapeData``, ``getDynamicsInfo``, ``computeViewMatrix``): colours come from the bodies'
RGBA, shapes from their collision/visual geometry, movability from the mass. It calls neither the generator
nor the scene's query helpers nor the task predicates — only the documented definitions and their constants.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pybullet
import pytest
from gymnasium.utils.env_checker import check_env

import embodied.envs  # noqa: F401  (registers the ids)
from embodied.envs.tabletop.objects import COLOURS, RIM_THICKNESS
from embodied.envs.tabletop.predicates import REST_TOL
from embodied.envs.tabletop.vqa_env import question_generator, scene_facts, task_progress_question

ENV_ID = "embodied/TabletopVQA-v0"
MARGIN = 0.04  # the documented dead zone of left/right/behind/in front (m)


@dataclass
class Body:
    colour: str
    shape: str
    movable: bool
    position: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def _colour(rgba: tuple[float, ...]) -> str:
    return min(COLOURS, key=lambda c: float(np.sum((np.array(COLOURS[c][:3]) - np.array(rgba[:3])) ** 2)))


def _read_body(client, body: int) -> Body:
    visuals = client.getVisualShapeData(body)
    geom, dims, rgba = visuals[0][2], visuals[0][3], visuals[0][7]
    position = np.array(client.getBasePositionAndOrientation(body)[0])
    movable = client.getDynamicsInfo(body, -1)[0] > 0.0
    if len(visuals) > 1:
        shape = "bowl"  # a floor and four rims
    elif geom == pybullet.GEOM_SPHERE:
        shape = "sphere"
    elif geom == pybullet.GEOM_CYLINDER:
        shape = "cylinder"
    elif not movable:
        shape = "zone"  # a flat static box without collision
    else:
        shape = "cube" if np.allclose(dims[0], dims[1:]) else "block"
    if shape == "zone":  # no collision shape, so no AABB from the engine: take the visual box's extents
        half = np.array(dims) / 2.0
        lo, hi = position - half, position + half
    else:
        lo, hi = (np.array(v) for v in client.getAABB(body))
    return Body(_colour(rgba), shape, movable, position, lo, hi)


def _bodies(env: gym.Env) -> dict[str, Body]:
    scene = env.unwrapped.scene
    client = scene.client
    table, robot = scene.table, scene.robot.body
    ids = [client.getBodyUniqueId(i) for i in range(client.getNumBodies())]
    out = {}
    for body in ids:
        if body in (table, robot):
            continue
        b = _read_body(client, body)
        out[f"{b.colour} {b.shape}"] = b
    return out


def _frame(env: gym.Env) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal (right, forward) unit vectors of the front camera, from pybullet's own view matrix."""
    cam = env.unwrapped.scene.cameras["front"]
    view = pybullet.computeViewMatrix(list(cam.eye), list(cam.target), list(cam.up))  # column-major 4×4
    right = np.array([view[0], view[4]])  # first row: camera x axis in world coordinates
    forward = -np.array([view[2], view[6]])  # OpenGL cameras look down -z
    return right / np.linalg.norm(right), forward / np.linalg.norm(forward)


def _over(a: Body, b: Body, pad: float = 0.0) -> bool:
    x, y = a.position[:2]
    return bool(b.lo[0] + pad < x < b.hi[0] - pad and b.lo[1] + pad < y < b.hi[1] - pad)


def _table_top(env: gym.Env) -> float:
    scene = env.unwrapped.scene
    return float(scene.client.getAABB(scene.table)[1][2])


def _relation_holds(env: gym.Env, a: Body, relation: str, b: Body) -> bool:
    right, forward = _frame(env)
    d = a.position[:2] - b.position[:2]
    if relation in ("left of", "right of"):
        along = float(d @ right)
        assert abs(along) > MARGIN, "ambiguous lateral pair asked"
        return (along > 0) == (relation == "right of")
    if relation in ("behind", "in front of"):
        along = float(d @ forward)
        assert abs(along) > MARGIN, "ambiguous depth pair asked"
        return (along > 0) == (relation == "behind")
    # Placement relations are the task predicates (nothing is held right after reset): a's base position
    # over b's footprint (inside a bowl's rims), and a resting on b / on the floor of a bowl / on a zone.
    if relation in ("on top of", "on"):
        return b.movable and _over(a, b) and abs(a.lo[2] - b.hi[2]) < REST_TOL
    assert relation in ("inside", "in")
    if b.shape == "bowl":
        return _over(a, b, pad=RIM_THICKNESS) and a.lo[2] < b.hi[2]
    return b.shape == "zone" and _over(a, b) and a.lo[2] < _table_top(env) + REST_TOL


def oracle(env: gym.Env, question: str) -> str:
    """The answer to ``question`` recomputed from pybullet state."""
    bodies = _bodies(env)
    movable = [b for b in bodies.values() if b.movable]
    if question == "how many objects are there?":
        return str(len(movable))
    if m := re.fullmatch(r"how many (\w+) objects are there\?", question):
        return str(sum(b.colour == m[1] for b in movable))
    if m := re.fullmatch(r"how many (\w+)s are there\?", question):
        return str(sum(b.shape == m[1] for b in bodies.values()))
    if m := re.fullmatch(r"what colour is the (\w+)\?", question):
        (match,) = [b for b in bodies.values() if b.shape == m[1]]
        return match.colour
    if m := re.fullmatch(r"what shape is the (\w+) object\?", question):
        (match,) = [b for b in movable if b.colour == m[1]]
        return match.shape
    if m := re.fullmatch(r"is there a (\w+ \w+)\?", question):
        return "yes" if m[1] in bodies else "no"
    relations = "left of|right of|behind|in front of|on top of|inside|in|on"
    m = re.fullmatch(rf"is the (\w+ \w+) ({relations}) the (\w+ \w+)\?", question)
    assert m is not None, f"unparsed question {question!r}"
    return "yes" if _relation_holds(env, bodies[m[1]], m[2], bodies[m[3]]) else "no"


@pytest.fixture(scope="module")
def env():
    e = gym.make(ENV_ID, image_size=16, cameras=("front",))
    yield e
    e.close()


def test_env_checker_zero_warnings() -> None:
    env = gym.make(ENV_ID, image_size=16).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    env.close()
    assert [str(w.message) for w in caught] == []


def test_answers_match_pybullet_ground_truth(env) -> None:
    seen = Counter()
    for seed in range(60):
        obs, info = env.reset(seed=seed)
        question = obs["question"]
        expected = oracle(env, question)
        _, reward, terminated, truncated, info = env.step(expected.upper() + ".")  # normalised before scoring
        assert info["answer"] == expected, question
        assert (reward, terminated, truncated) == (1.0, True, False)
        seen[info["qtype"], expected] += 1
    qtypes = {q for q, _ in seen}
    assert qtypes == {"count", "colour", "shape", "spatial", "existence", "progress"}
    # Staging makes "yes" reachable for relations, so both answers are exercised.
    assert seen["spatial", "yes"] and seen["spatial", "no"] and seen["existence", "yes"] and seen["existence", "no"]


@pytest.mark.parametrize("qtype", ["spatial", "progress"])
def test_relation_answers_per_type(qtype: str) -> None:
    env = gym.make(ENV_ID, image_size=16, cameras=("front",), qtypes=(qtype,))
    answers = []
    for seed in range(25):
        obs, _ = env.reset(seed=seed)
        expected = oracle(env, obs["question"])
        _, reward, *_, info = env.step(expected)
        assert info["answer"] == expected and reward == 1.0, obs["question"]
        answers.append(expected)
    env.close()
    assert {"yes", "no"} <= set(answers)


def test_wrong_answer_scores_zero_and_episode_ends(env) -> None:
    _, info = env.reset(seed=3)
    assert set(info) == {"qtype"}  # the answer is not leaked before the step
    _, reward, terminated, _, info = env.step("definitely not an answer")
    assert reward == 0.0 and terminated and info["prediction"] == "definitely not answer"
    assert info["items"] == sorted(f"{o.colour} {o.shape}" for o in env.unwrapped.scene.objects)  # what is there
    with pytest.raises(RuntimeError, match="already answered"):
        env.step("yes")


def test_existence_is_balanced_on_real_scenes(env) -> None:
    """POPE-style balance: about half of existence questions ask for an absent object."""
    scene = env.unwrapped.scene
    answers = []
    for seed in range(20):
        env.reset(seed=seed)
        bodies = _bodies(env)
        generator, facts = question_generator(scene, ("existence",)), scene_facts(scene)
        rng = np.random.default_rng(seed)
        for _ in range(60):
            q = generator.generate(facts, rng)
            name = q.text.removeprefix("is there a ").removesuffix("?")
            assert q.answer == ("yes" if name in bodies else "no")
            answers.append(q.answer == "yes")
    assert 0.45 <= float(np.mean(answers)) <= 0.55


@pytest.mark.slow
def test_existence_is_balanced_through_the_env() -> None:
    env = gym.make(ENV_ID, image_size=8, cameras=("front",), qtypes=("existence",))
    answers = []
    for seed in range(1000):
        obs, _ = env.reset(seed=seed)
        answers.append(oracle(env, obs["question"]) == "yes")
    env.close()
    assert 0.45 <= float(np.mean(answers)) <= 0.55


@pytest.mark.parametrize("task_id", ["embodied/PickPlace-v0", "embodied/Stack-v0"])
def test_task_progress_question_follows_the_episode(task_id: str) -> None:
    """Asked on a manipulation episode: "no" at the start, "yes" once the expert has done the task."""
    env = gym.make(task_id, image_size=8, cameras=("front",))
    base = env.unwrapped
    for seed in range(2):
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        before = task_progress_question(base.scene, base.task.subgoals(), rng)
        assert before.qtype == "progress" and before.answer == oracle(env, before.text) == "no"
        for _ in range(5):
            *_, terminated, truncated, info = env.step(base.expert_action())
            if terminated or truncated:
                break
        assert info["success"]
        after = task_progress_question(base.scene, base.task.subgoals(), rng)
        assert after.text == before.text and after.answer == oracle(env, after.text) == "yes"
    with pytest.raises(ValueError, match="no place/push subgoal"):
        task_progress_question(base.scene, [("touch", "red cube", "")], rng)
    env.close()


def _rollout(seed: int) -> tuple[dict, dict]:
    env = gym.make(ENV_ID, image_size=16)
    obs, _ = env.reset(seed=seed)
    final, reward, *_, info = env.step("yes")
    env.close()
    return obs, {"final": final, "reward": reward, "info": info}


def _assert_same(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    else:
        assert a == b


def test_determinism_three_seeds_two_instances() -> None:
    firsts = []
    for seed in (0, 1, 2):
        a, b = _rollout(seed), _rollout(seed)
        _assert_same(a, b)
        firsts.append(a[0])
    fronts = {first["images"]["front"].tobytes() for first in firsts}
    assert len(fronts) == 3  # different seeds, different scenes


def test_one_question_type_may_be_a_bare_string() -> None:
    # `--env-kwarg qtypes=count` gives a string, which must not be read as the types 'c', 'o', 'u', ...
    env = gym.make(ENV_ID, image_size=8, cameras=("front",), qtypes="count")
    try:
        assert env.unwrapped.qtypes == ("count",)  # type: ignore[attr-defined]
    finally:
        env.close()


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="qtypes"):
        gym.make(ENV_ID, qtypes=("riddle",))
    with pytest.raises(ValueError, match="riddle"):
        gym.make(ENV_ID, qtypes="riddle")
    with pytest.raises(ValueError, match="cameras"):
        gym.make(ENV_ID, cameras=("side",))
