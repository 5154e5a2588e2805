"""``embodied/TabletopVQA-v0``: answer one question about a random tabletop scene.

Each episode is one question. ``reset`` builds a random scene (3–6 movable objects, one receptacle), *stages*
it so that relations which random layouts almost never show also occur — with probability 1/2 one object is
put into the receptacle, and independently with probability 1/2 a flat-bottomed object is stacked on a cube or
block — lets physics settle, and draws a question (``embodied.envs.tabletop.vqa``). The observation carries the
usual ``images``/``state``/``instruction`` plus ``question``. The action is the answer text
(``spaces.Text``); the episode terminates after it with reward 1.0 iff ``normalize_answer(action)`` equals the
ground truth exactly, else 0.0. ``info`` from ``step`` holds ``answer`` (ground truth), ``qtype``,
``prediction`` (the normalised action) and ``question``; ``reset``'s ``info`` holds only ``qtype`` so that an
agent reading ``info`` cannot see the answer. Stepping a finished episode raises; call ``reset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from embodied.envs.tabletop.env import STATE_HIGH, STATE_LOW, robot_state
from embodied.envs.tabletop.layout import sample_specs
from embodied.envs.tabletop.objects import COLOURS, FLOOR_THICKNESS, RECEPTACLES, SHAPES, ObjectInfo, half_extents
from embodied.envs.tabletop.predicates import inside, on_top
from embodied.envs.tabletop.scene import CAMERA_NAMES, DEFAULT_CAMERAS, TabletopScene
from embodied.envs.tabletop.vqa import (
    QTYPES,
    Goal,
    ObjectFacts,
    Question,
    QuestionGenerator,
    SceneFacts,
    ViewFrame,
    normalize_answer,
)
from embodied.envs.wrappers.text import TEXT_CHARSET, TEXT_MAX_LENGTH

INSTRUCTION = "answer the question about the scene with one word or number."
ANSWER_MAX_LENGTH = 64
OBJECT_COUNT_RANGE = (3, 6)  # inclusive; with one receptacle every layout fits the workspace
SETTLE_STEPS = 60  # 0.25 s of physics after staging: dropped/stacked objects come to rest
_FLAT_TOPS = ("cube", "block")  # bases a stack stands on
_STACKABLE = ("cube", "block", "cylinder")  # objects with a flat bottom (a sphere would roll off)


def scene_facts(scene: TabletopScene) -> SceneFacts:
    """Ground truth of ``scene`` for the question generator; placements use the task predicates."""
    items = []
    for o in scene.objects:
        x, y, z = (float(v) for v in scene.position(o))
        items.append(ObjectFacts(o.name, o.colour, o.shape, o.kind, (x, y, z)))
    movable = scene.movable
    return SceneFacts(
        tuple(items),
        inside=frozenset((o.name, r.name) for o in movable for r in scene.receptacles if inside(scene, o, r)),
        on_top=frozenset((a.name, b.name) for a in movable for b in movable if a is not b and on_top(scene, a, b)),
    )


def question_generator(scene: TabletopScene, qtypes: Sequence[str] = QTYPES) -> QuestionGenerator:
    """A generator with the tabletop vocabulary, reading relations in ``scene``'s current front-camera frame."""
    front = scene.cameras["front"]
    return QuestionGenerator(
        tuple(COLOURS), SHAPES + RECEPTACLES, ViewFrame.from_camera(front.eye, front.target), qtypes=qtypes
    )


def task_progress_question(
    scene: TabletopScene, subgoals: Sequence[tuple[str, str, str]], rng: np.random.Generator
) -> Question:
    """A progress question on one of a task's ``place``/``push`` subgoals, answered in the current state.

    For a running ``embodied/<Task>-v0`` episode: ``task_progress_question(env.unwrapped.scene,
    env.unwrapped.task.subgoals(), rng)`` asks e.g. "is the red cube in the blue bowl?"; the answer uses the
    same predicates as the task's success check, so it turns "yes" exactly when that subgoal is met.
    """
    goals = [
        Goal(obj, "in" if scene.get(target).kind == "receptacle" else "on", target)
        for verb, obj, target in subgoals
        if verb in ("place", "push")
    ]
    if not goals:
        raise ValueError(f"no place/push subgoal to ask about in {list(subgoals)}")
    goal = goals[int(rng.integers(len(goals)))]
    return question_generator(scene, ("progress",)).generate(scene_facts(scene), rng, "progress", goal)


class TabletopVQAEnv(gym.Env[dict[str, Any], str]):
    """Embodied VQA on the tabletop scene; see the module docstring."""

    # render_* are gymnasium's keys; task/description/control_modes describe the id in ``embodied.envs.catalog``.
    metadata = {  # noqa: RUF012 - gymnasium's own attribute
        "render_modes": ["rgb_array"],
        "render_fps": 4,
        "task": "vqa",
        "description": "answer one question about the scene (count, colour, shape, spatial, existence, progress)",
        "control_modes": ("text",),
    }

    def __init__(
        self,
        *,
        image_size: int = 64,
        cameras: Sequence[str] = DEFAULT_CAMERAS,
        qtypes: Sequence[str] | str = QTYPES,
        stage_prob: float = 0.5,
        renderer: str = "tiny",
        randomize_camera: bool = False,
        randomize_lighting: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        unknown = [c for c in cameras if c not in CAMERA_NAMES]
        if unknown or not cameras:
            raise ValueError(f"cameras must be a non-empty subset of {CAMERA_NAMES}, got {list(cameras)}")
        if not 0.0 <= stage_prob <= 1.0:
            raise ValueError(f"stage_prob must be in [0, 1], got {stage_prob}")
        qtypes = (qtypes,) if isinstance(qtypes, str) else tuple(qtypes)  # `--env-kwarg qtypes=count`: one type
        if not qtypes or set(qtypes) - set(QTYPES):
            raise ValueError(f"qtypes must be a non-empty subset of {QTYPES}, got {list(qtypes)}")
        self.render_mode = render_mode
        self.image_size = int(image_size)
        self.camera_names = tuple(cameras)
        self.stage_prob = stage_prob
        self.qtypes = tuple(qtypes)
        self.scene = TabletopScene(
            renderer=renderer, randomize_camera=randomize_camera, randomize_lighting=randomize_lighting
        )
        size = (self.image_size, self.image_size, 3)
        text = spaces.Text(TEXT_MAX_LENGTH, charset=TEXT_CHARSET)  # as TabletopEnv's instruction
        self.observation_space = spaces.Dict(
            {
                "images": spaces.Dict({c: spaces.Box(0, 255, size, dtype=np.uint8) for c in self.camera_names}),
                "state": spaces.Box(STATE_LOW, STATE_HIGH, dtype=np.float32),
                "instruction": text,
                "question": text,
            }
        )
        self.action_space = spaces.Text(ANSWER_MAX_LENGTH, min_length=0, charset=TEXT_CHARSET)
        self.question: Question | None = None  # the current question, for scripted experts and recorders
        self._answered = True
        self._obs: dict[str, Any] = {}

    # -- episode ---------------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        rng = self.np_random
        n_objects = int(rng.integers(OBJECT_COUNT_RANGE[0], OBJECT_COUNT_RANGE[1] + 1))
        self.scene.reset(rng, sample_specs(rng, n_objects=n_objects, n_receptacles=1))
        self._stage(rng)
        self.question = question_generator(self.scene, self.qtypes).generate(scene_facts(self.scene), rng)
        self._answered = False
        self._obs = self._observation()
        return self._copy(self._obs), {"qtype": self.question.qtype}

    def step(self, action: str) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        if self._answered or self.question is None:
            raise RuntimeError("the question was already answered; call reset() for the next one")
        self._answered = True
        prediction = normalize_answer(str(action))
        reward = 1.0 if prediction == self.question.answer else 0.0
        info = {
            "answer": self.question.answer,
            "qtype": self.question.qtype,
            "prediction": prediction,
            "question": self.question.text,
            "items": sorted(f.phrase for f in scene_facts(self.scene).items),  # what is on the table
        }
        return self._copy(self._obs), reward, True, False, info

    # -- staging ---------------------------------------------------------------------------------------------
    def _stage(self, rng: np.random.Generator) -> None:
        """Put an object into the receptacle and/or stack two objects (each with ``stage_prob``), then settle."""
        movable = list(self.scene.movable)
        staged = False
        if rng.random() < self.stage_prob:
            obj = movable.pop(int(rng.integers(len(movable))))
            receptacle = self.scene.receptacles[0]
            self._place_on(obj, receptacle, top=receptacle.shape != "bowl")
            staged = True
        bases = [o for o in movable if o.shape in _FLAT_TOPS]
        if rng.random() < self.stage_prob and bases:
            base = bases[int(rng.integers(len(bases)))]
            tops = [o for o in movable if o is not base and o.shape in _STACKABLE]
            if tops:
                self._place_on(tops[int(rng.integers(len(tops)))], base, top=True)
                staged = True
        if staged:
            self.scene.step_physics(SETTLE_STEPS)

    def _place_on(self, obj: ObjectInfo, support: ObjectInfo, *, top: bool) -> None:
        """Teleport ``obj`` (keeping its yaw) to rest centred on ``support``: on its top face, or on a bowl's floor."""
        client = self.scene.client
        lo, hi = self.scene.aabb(support)
        surface = float(hi[2]) if top else float(lo[2]) + FLOOR_THICKNESS
        centre = (lo + hi) / 2.0
        z = surface + float(half_extents(obj.shape, obj.size)[2]) + 1e-3
        orn = client.getBasePositionAndOrientation(obj.body_id)[1]
        client.resetBasePositionAndOrientation(obj.body_id, [float(centre[0]), float(centre[1]), z], orn)
        client.resetBaseVelocity(obj.body_id, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])

    # -- observation -----------------------------------------------------------------------------------------
    def _observation(self) -> dict[str, Any]:
        assert self.question is not None
        return {
            "images": {c: self.scene.render(c, self.image_size)["rgb"] for c in self.camera_names},
            "state": robot_state(self.scene),
            "instruction": INSTRUCTION,
            "question": self.question.text,
        }

    @staticmethod
    def _copy(obs: dict[str, Any]) -> dict[str, Any]:
        """A fresh copy: the answer step returns the (unchanged) scene again, and callers may keep both."""
        return {
            "images": {c: frame.copy() for c, frame in obs["images"].items()},
            "state": obs["state"].copy(),
            "instruction": obs["instruction"],
            "question": obs["question"],
        }

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        if self.render_mode != "rgb_array":
            return None
        return self.scene.render("front", self.image_size)["rgb"]

    def close(self) -> None:
        self.scene.close()  # idempotent
