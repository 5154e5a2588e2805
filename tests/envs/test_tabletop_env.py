"""TabletopEnv: observation layout, control modes, rewards, truncation, generalisation splits, argument errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import embodied.envs  # noqa: F401  (registers the ids)
from embodied.envs.tabletop.control import EE_DELTA_MAX, decode_primitive, encode_primitive
from embodied.envs.tabletop.env import TabletopEnv
from embodied.envs.tabletop.splits import HELDOUT_PAIRS
from embodied.envs.tabletop.tasks import TASKS


def test_observation_keys_shapes_and_state_layout() -> None:
    env = TabletopEnv(task="pick_place", control="ee_delta", image_size=(24, 32), depth=True)
    try:
        obs, info = env.reset(seed=0)
        assert set(obs) == {"images", "depth", "state", "instruction"}
        assert set(obs["images"]) == set(obs["depth"]) == {"front", "wrist"}
        assert obs["images"]["front"].shape == (24, 32, 3) and obs["depth"]["wrist"].shape == (24, 32)
        assert obs in env.observation_space
        robot = env.scene.robot
        assert robot is not None
        pos, quat = robot.ee_pose()
        np.testing.assert_allclose(obs["state"][:3], pos, atol=1e-6)
        np.testing.assert_allclose(obs["state"][3:7], quat, atol=1e-6)
        assert obs["state"][7] == pytest.approx(0.08, abs=1e-3)  # gripper fully open at reset
        np.testing.assert_allclose(obs["state"][8:], robot.joint_positions(), atol=1e-6)
        params = info["camera_params"]
        assert params["front"]["intrinsics"].shape == (3, 3) and params["wrist"]["extrinsics"].shape == (4, 4)
        assert env.render().shape == (256, 256, 3)
    finally:
        env.close()
        env.close()  # idempotent


def test_cameras_can_be_switched_off_for_cheap_episodes() -> None:
    env = TabletopEnv(task="reach", control="ee_delta", cameras=())
    try:
        obs, _ = env.reset(seed=0)
        assert set(obs) == {"state", "instruction"} and obs in env.observation_space
    finally:
        env.close()


def test_ee_delta_moves_the_hand_by_the_scaled_delta() -> None:
    env = TabletopEnv(task="reach", control="ee_delta", cameras=())
    try:
        obs, _ = env.reset(seed=1)
        start = obs["state"][:3].copy()
        for _ in range(3):
            obs, *_ = env.step(np.array([0.0, 0.0, -1.0, -1.0], dtype=np.float32))
        assert start[2] - obs["state"][2] == pytest.approx(3 * EE_DELTA_MAX, abs=0.01)
        assert np.abs(obs["state"][:2] - start[:2]).max() < 0.01
    finally:
        env.close()


def test_primitive_normalisation_round_trips() -> None:
    physical = np.array([0.5, -0.1, 0.02, 0.6, 0.2, 0.05, 0.3])
    np.testing.assert_allclose(decode_primitive(encode_primitive(physical)), physical, atol=1e-6)
    np.testing.assert_allclose(decode_primitive(-np.ones(7))[:3], [0.25, -0.35, 0.0])


def test_sparse_reward_truncation_and_dense_reward_range() -> None:
    sparse = TabletopEnv(task="stack", control="ee_delta", cameras=(), max_steps=5)
    dense = TabletopEnv(task="stack", control="ee_delta", cameras=(), reward_mode="dense")
    try:
        sparse.reset(seed=0)
        flags = [sparse.step(np.zeros(4, dtype=np.float32))[1:4] for _ in range(5)]
        assert [f[0] for f in flags] == [0.0] * 5
        assert [f[2] for f in flags] == [False] * 4 + [True]  # truncated at max_steps
        dense.reset(seed=0)
        rewards, terminated = [], False
        while not terminated:
            _, r, terminated, truncated, _ = dense.step(dense.expert_action())
            rewards.append(float(r))
            assert not truncated
        assert rewards[-1] == 1.0 and all(0.0 <= r <= 0.9 for r in rewards[:-1])
        assert rewards[-2] > rewards[0]  # shaped progress grows along the expert's path
    finally:
        sparse.close()
        dense.close()


@pytest.mark.parametrize("task", sorted(TASKS))
def test_attribute_split_controls_the_primary_object(task: str) -> None:
    for split in ("train", "heldout"):
        env = TabletopEnv(task=task, control="primitive", cameras=(), attribute_split=split)
        try:
            for seed in range(4):
                env.reset(seed=seed)
                pairs = [(o.colour, o.shape) for o in env.scene.movable]
                primary = env.plan()[0].args[0]
                held_out = [" ".join(p) for p in pairs if p in HELDOUT_PAIRS]
                assert held_out == ([primary] if split == "heldout" else []), (task, seed, pairs)
        finally:
            env.close()


@pytest.mark.parametrize("task", sorted(TASKS))
def test_instruction_split_uses_disjoint_templates(task: str) -> None:
    cls = TASKS[task]
    assert set(cls.train_templates).isdisjoint(cls.heldout_templates)
    assert len(cls.train_templates) >= 3 and len(cls.heldout_templates) >= 2
    for split in ("train", "heldout"):
        env = TabletopEnv(task=task, control="primitive", cameras=(), instruction_split=split)
        try:
            for seed in range(3):
                obs, _ = env.reset(seed=seed)
                options = {t.format(**env.task.bindings) for t in env.task.templates(split)}
                assert obs["instruction"] in options
                assert obs in env.observation_space  # the Text charset covers every template
        finally:
            env.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "juggle"}, "task must be one of"),
        ({"control": "torque"}, "control must be one of"),
        ({"reward_mode": "shaped"}, "reward_mode"),
        ({"attribute_split": "test"}, "attribute_split"),
        ({"instruction_split": "val"}, "instruction_split"),
        ({"cameras": ("side",)}, "unknown cameras"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TabletopEnv(**kwargs)  # type: ignore[arg-type]


def test_gymnasium_make_passes_kwargs() -> None:
    env = gym.make("embodied/PickPlace-v0", control="ee_delta", image_size=32)
    try:
        assert env.action_space.shape == (4,)
        assert env.observation_space["images"]["front"].shape == (32, 32, 3)  # type: ignore[index]
        raw = env.unwrapped
        assert isinstance(raw, TabletopEnv) and raw.task.name == "pick_place"
    finally:
        env.close()
