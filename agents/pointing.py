"""Pointer-head pixels → ``primitive`` env actions: lift each pixel onto a horizontal plane above the table.

The ``pointer`` head predicts, per sub-env, a pick and a place pixel (u, v) and the camera each lies in
(``PointerOutput.pixels [N, 2, 2]``, ``.camera [N, 2]`` indexing ``.cameras``, names ``"<stream>/<camera>"``).
A pixel fixes a ray, not a point; with no depth image the ray is cut with a plane at a fixed grasp height above
the table top (Transporter Networks, Zeng et al. 2020, act on a top-down height map the same way). The heights
follow the scripted expert: its pick z is 0.015–0.027 m above the table and its place z 0.032–0.044 m, so the
planes sit at 0.02 m (pick) and 0.04 m (place); from the exact pixels of the 64×64 ``top`` camera that gives
100% PickPlace success with yaw 0. The 7-d action is ``encode_primitive([pick xyz, place xyz, yaw])`` with z
measured above the table top (``embodied.envs.tabletop.control``), clipped to [-1, 1].

Camera parameters come from the envs' ``info["camera_params"]`` (batched by the vector env, with gymnasium's
``_key`` masks marking which sub-envs reported them): ``per_env_camera_params`` unbatches them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from embodied.envs.tabletop.control import encode_primitive
from embodied.envs.tabletop.scene import TABLE_HEIGHT
from embodied.models.heads.pointing_geometry import pixel_to_world_plane

__all__ = [
    "PICK_HEIGHT",
    "PLACE_HEIGHT",
    "CameraParams",
    "camera_name",
    "per_env_camera_params",
    "pixels_to_primitive",
    "pixels_to_world",
]

#: metres above the table top of the plane a pick pixel is lifted onto (expert grasps: 0.015–0.027 m)
PICK_HEIGHT = 0.02
#: metres above the table top of the plane a place pixel is lifted onto (expert releases: 0.032–0.044 m)
PLACE_HEIGHT = 0.04

#: one env's cameras: name → {"intrinsics": K [3, 3], "extrinsics": world-to-camera [4, 4]}
CameraParams = dict[str, dict[str, np.ndarray]]


def camera_name(map_key: str) -> str:
    """The env camera of a pointer map key: ``"image/top"`` → ``"top"`` (a bare name is returned as is)."""
    return map_key.rsplit("/", 1)[-1]


def per_env_camera_params(info: Mapping[str, Any], num_envs: int) -> dict[int, CameraParams]:
    """Unbatch a vector env's ``info["camera_params"]`` → ``{env index: CameraParams}`` for the envs that sent them.

    ``info["_camera_params"] [N]`` (gymnasium's mask) says which sub-envs reported parameters on this call (all at
    ``reset``, only the autoreset ones during ``step``); without a mask every sub-env is taken.
    """
    batched = info.get("camera_params")
    if not batched:
        return {}
    mask = np.asarray(info.get("_camera_params", np.ones(num_envs, dtype=bool)), dtype=bool)
    cameras = [name for name in batched if not name.startswith("_")]
    out: dict[int, CameraParams] = {}
    for i in np.flatnonzero(mask).tolist():
        out[i] = {
            cam: {key: np.asarray(batched[cam][key][i], dtype=np.float64) for key in ("intrinsics", "extrinsics")}
            for cam in cameras
        }
    return out


def pixels_to_world(
    pixels: np.ndarray,
    cameras: Sequence[str],
    params: CameraParams,
    heights: Sequence[float],
    table_height: float = TABLE_HEIGHT,
) -> np.ndarray:
    """One env's argument pixels ``[K, 2]`` (u, v) in ``cameras[k]`` → world points ``[K, 3]`` on the planes
    ``z = table_height + heights[k]``."""
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    if not len(pixels) == len(cameras) == len(heights):
        raise ValueError(f"got {len(pixels)} pixels, {len(cameras)} cameras and {len(heights)} heights")
    points = []
    for uv, cam, height in zip(pixels, cameras, heights, strict=True):
        if cam not in params:
            raise KeyError(f"no parameters for camera {cam!r}; the env reported {sorted(params)}")
        k, t_cw = params[cam]["intrinsics"], params[cam]["extrinsics"]
        points.append(pixel_to_world_plane(uv[None], table_height + height, k, t_cw)[0])
    return np.stack(points)


def pixels_to_primitive(
    pixels: np.ndarray,
    cameras: Sequence[Sequence[str]],
    params: Sequence[CameraParams],
    pick_height: float = PICK_HEIGHT,
    place_height: float = PLACE_HEIGHT,
    table_height: float = TABLE_HEIGHT,
) -> np.ndarray:
    """Pick/place pixels ``[N, 2, 2]`` with their camera names ``[N][2]`` and per-env parameters → ``[N, 7]``
    ``primitive`` actions in [-1, 1] (pick xyz, place xyz with z above the table top, yaw 0)."""
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.ndim != 3 or pixels.shape[1:] != (2, 2):
        raise ValueError(f"expected pick and place pixels [N, 2, 2], got {pixels.shape}")
    if not len(pixels) == len(cameras) == len(params):
        raise ValueError(f"got {len(pixels)} pixel rows, {len(cameras)} camera rows and {len(params)} param sets")
    actions = []
    for uv, cams, env_params in zip(pixels, cameras, params, strict=True):
        world = pixels_to_world(uv, cams, env_params, (pick_height, place_height), table_height)  # [2, 3]
        above_table = world - np.array([0.0, 0.0, table_height])
        actions.append(encode_primitive(np.concatenate([above_table[0], above_table[1], [0.0]])))
    return np.stack(actions).astype(np.float32)
