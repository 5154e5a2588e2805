"""Pinhole cameras with exact intrinsics/extrinsics that match what pybullet renders.

Conventions (OpenCV): the camera frame has x right, y down, z forward (optical axis). ``extrinsics()`` is the
4×4 world-to-camera transform ``T_cw`` (``p_cam = T_cw @ [p_world, 1]``). ``intrinsics(width, height)`` is
``K = [[f, 0, cx], [0, f, cy], [0, 0, 1]]`` with ``f = height / (2 tan(fov_y / 2))`` (square pixels, because
the projection uses aspect = width / height) and ``cx = (width - 1) / 2``, ``cy = (height - 1) / 2``: pixel
``(u, v)`` is column ``u``, row ``v`` of the ``[H, W]`` image, integer values at pixel centres. Depth is the
metric distance along the optical axis (camera z), as returned by ``TabletopScene.render(..., depth=True)``.

pybullet wants OpenGL matrices (camera looks down -z, y up) flattened column-major; ``view_matrix()`` and
``projection_matrix()`` build them from the same numbers, so projecting a world point with ``K`` and
``extrinsics()`` lands on the pixel where the renderer draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# OpenGL camera axes (x right, y up, z backward) -> OpenCV axes (x right, y down, z forward).
_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass
class Camera:
    """A perspective camera posed by ``eye``/``target``/``up`` (world frame, metres), vertical ``fov`` in degrees.

    The pose is mutable: the wrist camera is re-posed from the hand link before each render
    (``TabletopScene.update_wrist_camera``); the front camera is posed once per reset.
    """

    name: str
    eye: np.ndarray
    target: np.ndarray
    up: np.ndarray
    fov: float = 50.0
    near: float = 0.01
    far: float = 3.0

    def set_pose(self, eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> None:
        """Move the camera (used for the wrist camera, which follows the hand)."""
        self.eye = np.asarray(eye, dtype=np.float64)
        self.target = np.asarray(target, dtype=np.float64)
        self.up = np.asarray(up, dtype=np.float64)

    def _gl_view(self) -> np.ndarray:
        """4×4 OpenGL world-to-camera matrix (gluLookAt)."""
        eye = np.asarray(self.eye, dtype=np.float64)
        forward = np.asarray(self.target, dtype=np.float64) - eye
        forward /= np.linalg.norm(forward)
        side = np.cross(forward, np.asarray(self.up, dtype=np.float64))
        side /= np.linalg.norm(side)
        up = np.cross(side, forward)
        view = np.eye(4)
        view[0, :3], view[1, :3], view[2, :3] = side, up, -forward
        view[:3, 3] = -view[:3, :3] @ eye
        return view

    def extrinsics(self) -> np.ndarray:
        """4×4 world-to-camera transform in OpenCV axes (x right, y down, z forward)."""
        return _GL_TO_CV @ self._gl_view()

    def pose(self) -> np.ndarray:
        """4×4 camera-to-world transform (inverse of ``extrinsics``)."""
        return np.linalg.inv(self.extrinsics())

    def intrinsics(self, width: int, height: int) -> np.ndarray:
        """3×3 pinhole matrix for a ``width``×``height`` image (see the module docstring for the convention)."""
        f = height / (2.0 * np.tan(np.deg2rad(self.fov) / 2.0))
        return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])

    def view_matrix(self) -> list[float]:
        """The OpenGL view matrix flattened column-major, as ``getCameraImage(viewMatrix=...)`` expects."""
        return [float(x) for x in self._gl_view().flatten(order="F")]

    def projection_matrix(self, width: int, height: int) -> list[float]:
        """OpenGL perspective matrix (same as ``computeProjectionMatrixFOV``), flattened column-major."""
        t = 1.0 / np.tan(np.deg2rad(self.fov) / 2.0)
        n, f = self.near, self.far
        proj = np.zeros((4, 4))
        proj[0, 0] = t * height / width
        proj[1, 1] = t
        proj[2, 2] = (f + n) / (n - f)
        proj[2, 3] = 2.0 * f * n / (n - f)
        proj[3, 2] = -1.0
        return [float(x) for x in proj.flatten(order="F")]

    def world_to_pixel(self, point: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
        """Project a world point to ``(uv, depth)``: ``uv = [u, v]`` in pixels and its depth along the axis."""
        p_cam = self.extrinsics() @ np.append(np.asarray(point, dtype=np.float64), 1.0)
        uvw = self.intrinsics(width, height) @ p_cam[:3]
        return uvw[:2] / uvw[2], float(p_cam[2])

    def pixel_to_world(self, u: float, v: float, depth: float, width: int, height: int) -> np.ndarray:
        """Back-project pixel ``(u, v)`` at metric ``depth`` (along the optical axis) to a world point [3]."""
        k = self.intrinsics(width, height)
        p_cam = np.array([(u - k[0, 2]) / k[0, 0] * depth, (v - k[1, 2]) / k[1, 1] * depth, depth, 1.0])
        return (self.pose() @ p_cam)[:3]

    def params(self, width: int, height: int) -> dict[str, np.ndarray]:
        """``{"intrinsics": K [3, 3], "extrinsics": T_cw [4, 4]}`` as float64 arrays (put in ``info``)."""
        return {"intrinsics": self.intrinsics(width, height), "extrinsics": self.extrinsics()}
