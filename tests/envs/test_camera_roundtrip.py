"""Pixel → world → pixel through ``embodied.models.heads.pointing_geometry`` with the matrices the tabletop envs
publish (``info["camera_params"]``), for every camera: within half a pixel, with depth and with the table plane.

``tests/envs/test_tabletop_scene.py`` checks ``Camera.pixel_to_world``/``world_to_pixel`` against the renderer
for the front camera; this test checks the numpy helpers the ``pointer`` head's users lift pixels with.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import embodied.envs  # noqa: F401  (registers the ids)
from embodied.envs.tabletop.scene import CAMERA_NAMES
from embodied.models.heads.pointing_geometry import pixel_to_world_depth, pixel_to_world_plane, world_to_pixel

SIZE = 32


@pytest.fixture(scope="module")
def camera_params() -> dict[str, dict[str, np.ndarray]]:
    env = gym.make("embodied/PickPlace-v0", control="primitive", image_size=SIZE, cameras=CAMERA_NAMES, depth=True)
    _, info = env.reset(seed=5)
    params: dict[str, dict[str, np.ndarray]] = info["camera_params"]
    table = env.unwrapped.scene.table_height  # type: ignore[attr-defined]
    env.close()
    return {**params, "table": {"z": np.array(table)}}


@pytest.mark.parametrize("camera", CAMERA_NAMES)
def test_pixel_world_pixel_round_trip_is_within_half_a_pixel(camera_params: dict, camera: str) -> None:
    k, t_cw = camera_params[camera]["intrinsics"], camera_params[camera]["extrinsics"]
    us, vs = np.meshgrid(np.arange(0, SIZE, 3.0), np.arange(0, SIZE, 3.0))
    uv = np.stack([us.ravel(), vs.ravel()], axis=1)  # [N, 2] pixel centres across the image
    depth = np.random.default_rng(0).uniform(0.2, 1.5, len(uv))
    points = pixel_to_world_depth(uv, depth, k, t_cw)
    back, back_depth = world_to_pixel(points, k, t_cw)
    assert np.abs(back - uv).max() < 0.5
    np.testing.assert_allclose(back_depth, depth, atol=1e-9)
    below = uv[uv[:, 1] >= SIZE // 2]  # the lower half looks down at the table for both cameras
    on_table = pixel_to_world_plane(below, float(camera_params["table"]["z"]), k, t_cw)
    np.testing.assert_allclose(on_table[:, 2], float(camera_params["table"]["z"]), atol=1e-9)
    assert np.abs(world_to_pixel(on_table, k, t_cw)[0] - below).max() < 0.5


def test_plane_behind_the_camera_is_an_error(camera_params: dict) -> None:
    k, t_cw = camera_params["front"]["intrinsics"], camera_params["front"]["extrinsics"]
    with pytest.raises(ValueError, match="behind the camera"):
        pixel_to_world_plane(np.array([[16.0, 28.0]]), 10.0, k, t_cw)  # a plane 10 m up, seen looking down
