"""Pointer pixels → primitive actions: geometry round trips, info unbatching, and a real PickPlace success."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import embodied.envs  # noqa: F401  (registers the ids)
from embodied.agents.pointing import (
    PICK_HEIGHT,
    PLACE_HEIGHT,
    camera_name,
    per_env_camera_params,
    pixels_to_primitive,
    pixels_to_world,
)
from embodied.envs.tabletop.control import decode_primitive
from embodied.envs.tabletop.scene import TABLE_HEIGHT
from embodied.models.heads.pointing_geometry import world_to_pixel
from tests.agents.support import vector_env


@pytest.fixture(scope="module")
def params() -> dict:
    env = gym.make("embodied/PickPlace-v0", control="primitive", image_size=64, cameras=("top",))
    _, info = env.reset(seed=3)
    env.close()
    return info["camera_params"]


def test_camera_name_strips_the_stream() -> None:
    assert camera_name("image/top") == "top"
    assert camera_name("front") == "front"


@pytest.mark.parametrize("camera", ["top", "front"])
def test_pixels_lift_back_to_the_world_points_they_came_from(params: dict, camera: str) -> None:
    rng = np.random.default_rng(0)
    heights = (PICK_HEIGHT, PLACE_HEIGHT)
    for _ in range(20):
        xy = rng.uniform([0.3, -0.3], [0.7, 0.3], (2, 2))
        world = np.column_stack([xy, TABLE_HEIGHT + np.array(heights)])  # [2, 3] on the two planes
        uv, _ = world_to_pixel(world, params[camera]["intrinsics"], params[camera]["extrinsics"])
        lifted = pixels_to_world(uv, [camera, camera], params, heights)
        np.testing.assert_allclose(lifted, world, atol=1e-9)


def test_primitive_action_encodes_the_lifted_points_with_yaw_zero(params: dict) -> None:
    world = np.array([[0.45, 0.1, TABLE_HEIGHT + PICK_HEIGHT], [0.6, -0.2, TABLE_HEIGHT + PLACE_HEIGHT]])
    uv, _ = world_to_pixel(world, params["top"]["intrinsics"], params["top"]["extrinsics"])
    action = pixels_to_primitive(uv[None], [["top", "top"]], [params])
    assert action.shape == (1, 7) and action.dtype == np.float32
    physical = decode_primitive(action[0])
    np.testing.assert_allclose(physical[:3], [0.45, 0.1, PICK_HEIGHT], atol=1e-5)
    np.testing.assert_allclose(physical[3:6], [0.6, -0.2, PLACE_HEIGHT], atol=1e-5)
    assert physical[6] == pytest.approx(0.0, abs=1e-6)


def test_points_outside_the_workspace_are_clipped(params: dict) -> None:
    far = np.array([[2.0, 0.0, TABLE_HEIGHT + PICK_HEIGHT], [0.5, 0.0, TABLE_HEIGHT + PLACE_HEIGHT]])
    uv, _ = world_to_pixel(far, params["top"]["intrinsics"], params["top"]["extrinsics"])
    action = pixels_to_primitive(uv[None], [["top", "top"]], [params])
    assert action[0, 0] == 1.0 and np.all(np.abs(action) <= 1.0)


def test_bad_shapes_and_unknown_cameras_are_errors(params: dict) -> None:
    with pytest.raises(ValueError, match=r"\[N, 2, 2\]"):
        pixels_to_primitive(np.zeros((1, 3, 2)), [["top"] * 3], [params])
    with pytest.raises(KeyError, match="no parameters for camera 'side'"):
        pixels_to_primitive(np.zeros((1, 2, 2)), [["side", "top"]], [params])


def test_vector_info_is_unbatched_per_env_with_its_mask() -> None:
    k = np.stack([np.eye(3) * (i + 1) for i in range(3)])
    e = np.stack([np.eye(4)] * 3)
    info = {"camera_params": {"top": {"intrinsics": k, "extrinsics": e}, "_top": np.ones(3, bool)}}
    assert sorted(per_env_camera_params(info, 3)) == [0, 1, 2]
    info["_camera_params"] = np.array([False, True, False])
    out = per_env_camera_params(info, 3)
    assert list(out) == [1] and list(out[1]) == ["top"]
    np.testing.assert_array_equal(out[1]["top"]["intrinsics"], np.eye(3) * 2)
    assert per_env_camera_params({}, 3) == {}


def test_expert_pixels_in_the_top_camera_solve_pick_place() -> None:
    """Project the expert's pick and place into the 64×64 top camera, round to pixel centres, act: success."""
    envs = vector_env(n=3, seed=11, size=64)
    try:
        _, info = envs.reset(seed=11)
        params = per_env_camera_params(info, 3)
        pixels = []
        for i, expert in enumerate(envs.call("expert_action")):
            physical = decode_primitive(np.asarray(expert))
            world = np.stack([physical[:3], physical[3:6]]) + np.array([0.0, 0.0, TABLE_HEIGHT])
            uv, _ = world_to_pixel(world, params[i]["top"]["intrinsics"], params[i]["top"]["extrinsics"])
            pixels.append(np.round(uv))  # what a pointer head outputs: a pixel centre
        action = pixels_to_primitive(np.stack(pixels), [["top", "top"]] * 3, [params[i] for i in range(3)])
        _, reward, terminated, _, info = envs.step(action)
        assert terminated.all() and info["success"].all()
        np.testing.assert_array_equal(reward, [1.0, 1.0, 1.0])
    finally:
        envs.close()
