"""``TabletopEnv``: the gymnasium env behind every ``embodied/<Task>-v0`` id.

Observation (``spaces.Dict``):

* ``images`` — ``Dict`` camera name → ``Box(0, 255, (H, W, 3), uint8)`` for each of ``cameras`` (left out
  when ``cameras=()``, e.g. for fast expert runs; gymnasium rejects empty ``Dict`` spaces);
* ``depth`` — only with ``depth=True``: camera name → ``Box(0, far, (H, W), float32)``, metres along the
  optical axis;
* ``state`` — ``Box(float32, (15,))``: end-effector position (3, world metres; the robot base is at
  ``(0, 0, 0.6)``), end-effector quaternion (4, x y z w), gripper opening (1, metres, 0–0.08), arm joint
  angles (7, rad);
* ``instruction`` — ``Text`` with ``TEXT_CHARSET`` (letters, digits, space, punctuation).

Actions follow ``control`` (``"primitive"`` or ``"ee_delta"``, see ``control``). Reward: 1.0 on the step the
task succeeds (which terminates the episode); otherwise 0.0 with ``reward_mode="sparse"`` or the task's shaped
progress in [0, 0.9] with ``"dense"``. Episodes truncate after ``max_steps`` (per task and control mode unless
given). Camera intrinsics/extrinsics are in ``info["camera_params"]`` after ``reset`` and from
``camera_params()`` at any time (the wrist camera moves).

Extras on ``env.unwrapped``: ``expert_action()``, ``plan()``/``plan_text()``, ``check_plan(text)``,
``executed_steps``, ``scene``, ``task``, ``instruction``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from embodied.envs.tabletop import primitives
from embodied.envs.tabletop.control import CONTROL_MODES, SUBSTEPS, action_space, decode_primitive, ee_target
from embodied.envs.tabletop.experts import EEDeltaExpert, primitive_action
from embodied.envs.tabletop.plans import (
    PlanCheck,
    PlanError,
    PlanStep,
    SymbolicState,
    check_plan,
    format_plan,
    parse_plan,
)
from embodied.envs.tabletop.recorder import StepRecorder
from embodied.envs.tabletop.robot import FINGER_OPEN
from embodied.envs.tabletop.scene import CAMERA_NAMES, DEFAULT_CAMERAS, TabletopScene
from embodied.envs.tabletop.splits import check_split
from embodied.envs.tabletop.tasks import TASKS
from embodied.envs.tabletop.tasks.base import observe
from embodied.envs.wrappers.text import TEXT_CHARSET, TEXT_MAX_LENGTH

STATE_DIM = 15
STATE_LOW = np.array([-2.0] * 3 + [-1.0] * 4 + [0.0] + [-2 * np.pi] * 7, dtype=np.float32)
STATE_HIGH = np.array([2.0] * 3 + [1.0] * 4 + [2 * FINGER_OPEN] + [2 * np.pi] * 7, dtype=np.float32)


def robot_state(scene: TabletopScene) -> np.ndarray:
    """The state vector: ee position (3), ee quaternion xyzw (4), gripper opening (1), arm joints (7)."""
    robot = scene.robot
    assert robot is not None
    pos, quat = robot.ee_pose()
    state = np.concatenate([pos, quat, [robot.gripper_opening()], robot.joint_positions()])
    return np.clip(state, STATE_LOW, STATE_HIGH).astype(np.float32)


LAYOUT_TRIES = 50  # re-draws of a layout a task rejects (e.g. a blocked push path)
REWARD_MODES = ("sparse", "dense")


class TabletopEnv(gym.Env[dict[str, Any], np.ndarray]):
    """Language-conditioned tabletop manipulation with a Franka Panda (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012 - gymnasium's own attribute

    def __init__(
        self,
        task: str = "pick_place",
        control: str = "primitive",
        image_size: int | tuple[int, int] = 64,
        cameras: Sequence[str] = DEFAULT_CAMERAS,
        depth: bool = False,
        reward_mode: str = "sparse",
        attribute_split: str = "train",
        instruction_split: str = "train",
        max_steps: int | None = None,
        randomize_camera: bool = False,
        randomize_lighting: bool = False,
        renderer: str = "tiny",
        render_mode: str | None = None,
        render_size: int | tuple[int, int] = 256,
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
        if control not in CONTROL_MODES:
            raise ValueError(f"control must be one of {CONTROL_MODES}, got {control!r}")
        if reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {REWARD_MODES}, got {reward_mode!r}")
        unknown = [c for c in cameras if c not in CAMERA_NAMES]
        if unknown:
            raise ValueError(f"unknown cameras {unknown}; available: {CAMERA_NAMES}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.task = TASKS[task]()
        self.control = control
        self.image_hw = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.camera_names = tuple(cameras)
        self.depth = depth
        self.reward_mode = reward_mode
        self.attribute_split = check_split("attribute_split", attribute_split)
        self.instruction_split = check_split("instruction_split", instruction_split)
        self.max_steps = max_steps if max_steps is not None else self.task.max_steps[control]
        self.render_mode = render_mode
        self.render_size = render_size
        self.scene = TabletopScene(
            renderer=renderer, randomize_camera=randomize_camera, randomize_lighting=randomize_lighting
        )
        self.action_space = action_space(control)
        self.observation_space = self._observation_space()
        self.instruction = ""
        self._expert = EEDeltaExpert()
        self._recorder = StepRecorder(self.task.verbs)
        self._initial = SymbolicState({})
        self._elapsed = 0

    def _observation_space(self) -> spaces.Dict:
        h, w = self.image_hw
        entries: dict[str, spaces.Space[Any]] = {}
        if self.camera_names:
            entries["images"] = spaces.Dict(
                {c: spaces.Box(0, 255, (h, w, 3), dtype=np.uint8) for c in self.camera_names}
            )
            if self.depth:
                far = {c: self.scene.cameras[c].far for c in self.camera_names}
                entries["depth"] = spaces.Dict(
                    {c: spaces.Box(0.0, far[c], (h, w), dtype=np.float32) for c in self.camera_names}
                )
        entries["state"] = spaces.Box(STATE_LOW, STATE_HIGH, dtype=np.float32)
        entries["instruction"] = spaces.Text(max_length=TEXT_MAX_LENGTH, charset=TEXT_CHARSET)
        return spaces.Dict(entries)

    # -- gymnasium API -------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        rng = self.np_random
        specs = self.task.sample(rng, self.attribute_split)
        for _ in range(LAYOUT_TRIES):
            self.scene.reset(rng, specs)
            if self.task.layout_ok(self.scene):
                break
        self.scene.allow_grasp = self.task.allow_grasp
        self.instruction = self.task.instruction(rng, self.instruction_split)
        self._expert.reset()
        self._recorder = StepRecorder(self.task.verbs)
        self._initial = observe(self.scene)
        self._elapsed = 0
        info = {
            "success": False,
            "task": self.task.name,
            "plan": self.plan_text(),
            "camera_params": self.camera_params(),
        }
        return self._observation(), info

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        action = np.asarray(action, dtype=np.float64).reshape(self.action_space.shape)
        if self.control == "primitive":
            self._act_primitive(action)
        else:
            self._act_ee_delta(action)
        self._recorder.update(self.scene)
        self._elapsed += 1
        success = self.task.success(self.scene)
        reward = 0.0
        if success:
            reward = 1.0
        elif self.reward_mode == "dense":
            reward = self.task.dense_reward(self.scene)
        truncated = not success and self._elapsed >= self.max_steps
        return self._observation(), float(reward), success, truncated, {"success": success}

    def render(self) -> np.ndarray:  # type: ignore[override]
        """The front camera's RGB image [H, W, 3] uint8 at ``render_size``."""
        return self.scene.render("front", self.render_size)["rgb"]

    def close(self) -> None:
        self.scene.close()

    # -- control -------------------------------------------------------------------------------------------
    def _act_primitive(self, action: np.ndarray) -> None:
        p = decode_primitive(action)
        lift = np.array([0.0, 0.0, self.scene.table_height])  # z in the action is above the table top
        first, second, yaw = p[:3] + lift, p[3:6] + lift, float(p[6])
        if self.task.primitive == "push":
            primitives.push(self.scene, first, second, yaw)
        elif self.task.primitive == "touch":
            primitives.touch(self.scene, first, yaw)
        else:
            primitives.pick_place(self.scene, first, second, yaw)

    def _act_ee_delta(self, action: np.ndarray) -> None:
        assert self.scene.robot is not None
        target = ee_target(self.scene.robot.ee_pose()[0], action, self.scene.table_height)
        self.scene.move_ee(target, 0.0)
        self.scene.set_gripper(closed=bool(action[3] > 0.0))
        self.scene.step_physics(SUBSTEPS)

    # -- observation ---------------------------------------------------------------------------------------
    def _observation(self) -> dict[str, Any]:
        obs: dict[str, Any] = {}
        if self.camera_names:
            frames = {c: self.scene.render(c, self.image_hw, depth=self.depth) for c in self.camera_names}
            obs["images"] = {c: f["rgb"] for c, f in frames.items()}
            if self.depth:
                obs["depth"] = {
                    c: np.clip(f["depth"], 0.0, self.scene.cameras[c].far).astype(np.float32) for c, f in frames.items()
                }
        obs["state"] = robot_state(self.scene)
        obs["instruction"] = self.instruction
        return obs

    # -- privileged extras ---------------------------------------------------------------------------------
    def camera_params(self) -> dict[str, dict[str, np.ndarray]]:
        """Per camera ``{"intrinsics": K [3, 3], "extrinsics": world-to-camera [4, 4]}`` at ``image_size``."""
        return self.scene.camera_params(self.image_hw)

    def expert_action(self) -> np.ndarray:
        """The scripted expert's next action for the current state (privileged; float32 in [-1, 1])."""
        if self.control == "primitive":
            return primitive_action(self.scene, self.task)
        return self._expert.act(self.scene, self.task)

    def plan(self) -> list[PlanStep]:
        """The task's symbolic plan from the episode's initial state (canonical order)."""
        return self.task.plan()

    def plan_text(self) -> str:
        return format_plan(self.plan())

    def check_plan(self, plan: str | list[PlanStep]) -> PlanCheck:
        """Is ``plan`` (text or steps) valid for this episode's task, and how much of it holds already?"""
        try:
            steps = parse_plan(plan) if isinstance(plan, str) else list(plan)
        except PlanError as e:
            return PlanCheck(False, str(e), 0)
        receptacles = {r.name: r.shape for r in self.scene.receptacles}
        return check_plan(steps, self._initial, observe(self.scene), receptacles, self.task.involved(), self.task.goal)

    @property
    def executed_steps(self) -> list[PlanStep]:
        """Symbolic steps executed so far, read from grasp/release/touch/push events (see ``recorder``)."""
        return self._recorder.current(self.scene)
