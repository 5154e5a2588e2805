"""Pixel ↔ world conversions for the ``pointer`` head's outputs (numpy only; no env import, no torch).

The ``pointer`` head (Transporter Networks, Zeng et al. 2020; CLIPort, Shridhar et al. 2021) predicts pixels;
a primitive needs world positions. These helpers lift pixels with a camera's pinhole intrinsics ``K [3, 3]`` and
world-to-camera extrinsics ``T_cw [4, 4]`` (OpenCV axes: x right, y down, z forward; the convention of
``envs/tabletop/camera.py`` and of the envs' ``info["camera_params"]``), either with a metric depth along the
optical axis or by intersecting the pixel's ray with a horizontal plane (the table top, or a grasp height
above it) when no depth image is at hand.
"""

from __future__ import annotations

import numpy as np


def pixel_rays(uv: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``[N, 2]`` (u, v) → the camera centre ``[3]`` and world ray directions ``[N, 3]`` with camera
    z-component 1 (so ``origin + depth · direction`` is the point at that optical-axis depth)."""
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    homogeneous = np.concatenate([uv, np.ones((len(uv), 1))], axis=1)  # [N, 3]
    rays_cam = homogeneous @ np.linalg.inv(intrinsics).T  # [N, 3], z = 1
    pose = np.linalg.inv(extrinsics)  # camera-to-world
    return pose[:3, 3], rays_cam @ pose[:3, :3].T


def pixel_to_world_depth(
    uv: np.ndarray, depth: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray
) -> np.ndarray:
    """Pixels ``[N, 2]`` at metric depths ``[N]`` (along the optical axis) → world points ``[N, 3]``."""
    origin, directions = pixel_rays(uv, intrinsics, extrinsics)
    return origin + np.asarray(depth, dtype=np.float64).reshape(-1, 1) * directions


def pixel_to_world_plane(uv: np.ndarray, plane_z: float, intrinsics: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """Pixels ``[N, 2]`` → world points ``[N, 3]`` where their rays meet the horizontal plane ``z = plane_z``."""
    origin, directions = pixel_rays(uv, intrinsics, extrinsics)
    dz = directions[:, 2]
    if np.any(np.abs(dz) < 1e-9):
        raise ValueError("a pixel's ray is parallel to the plane z = plane_z")
    t = (plane_z - origin[2]) / dz  # [N]
    if np.any(t <= 0):
        raise ValueError(f"the plane z = {plane_z} lies behind the camera for some pixels")
    return origin + t[:, None] * directions


def world_to_pixel(points: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points ``[N, 3]`` → pixels ``[N, 2]`` (u, v) and their depths along the optical axis ``[N]``."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    p_cam = points @ extrinsics[:3, :3].T + extrinsics[:3, 3]  # [N, 3]
    uvw = p_cam @ np.asarray(intrinsics, dtype=np.float64).T
    return uvw[:, :2] / uvw[:, 2:3], p_cam[:, 2]
