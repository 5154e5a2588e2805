"""The tabletop scene: one pybullet world with a table, a Franka Panda, objects, receptacles and two cameras.

``TabletopScene`` owns its own ``BulletClient(DIRECT)``; ``reset(rng, specs)`` rebuilds the whole world from
scratch (``resetSimulation``), so a layout depends only on the generator's state — a reused scene and a fresh
one given the same generator state are bitwise identical. Frames: world z is up, the robot base stands at the
origin on the table (``table_height``), the workspace lies at x ∈ [0.3, 0.7], y ∈ [-0.3, 0.3] (``layout.WORKSPACE``).

Public API (used by tasks, experts, the VQA generator):

* ``objects: list[ObjectInfo]`` — movable objects and receptacles, names unique ("red cube", "blue bowl").
* ``position(obj)`` → [3] base position (centre of a movable object; bottom centre of a bowl; centre of a
  zone), ``orientation(obj)`` → quaternion [4], ``aabb(obj)`` → (min [3], max [3]).
* ``cameras: dict[str, Camera]`` — ``"front"`` (fixed, optionally jittered per reset) and ``"wrist"`` (on the
  hand, re-posed before each render); ``render(camera, size, depth=False, segmentation=False)`` → dict with
  ``"rgb"`` [H, W, 3] uint8, ``"depth"`` [H, W] float32 metres along the optical axis, ``"segmentation"``
  [H, W] int32 body ids (-1 background).
* ``robot: Panda`` plus ``move_ee``/``set_gripper``/``step_physics`` that keep grasp, touch and release
  bookkeeping (``touched``, ``events``) in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from embodied.envs.tabletop.camera import Camera
from embodied.envs.tabletop.layout import draw_size, place_items, sample_specs
from embodied.envs.tabletop.lighting import Lighting
from embodied.envs.tabletop.objects import ObjectInfo, ObjectSpec, build_item, half_extents
from embodied.envs.tabletop.quiet import silence_stdout
from embodied.envs.tabletop.robot import HAND_LINK, Panda

TABLE_HEIGHT = 0.6  # metres, height of the table top above the (invisible) floor
TABLE_HALF_EXTENTS = (0.65, 0.75, 0.025)
TABLE_CENTRE_XY = (0.45, 0.0)
TABLE_RGBA = (0.78, 0.68, 0.52, 1.0)
PHYSICS_DT = 1.0 / 240.0
#: every camera an env can render; ``DEFAULT_CAMERAS`` are the ones rendered unless ``cameras=`` says otherwise
CAMERA_NAMES: tuple[str, ...] = ("front", "wrist", "top")
DEFAULT_CAMERAS: tuple[str, ...] = ("front", "wrist")
FRONT_EYE = (1.0, 0.0, TABLE_HEIGHT + 0.45)
FRONT_TARGET = (0.47, 0.0, TABLE_HEIGHT)
# the top camera looks steeply down on the whole workspace (x ∈ [0.3, 0.7], y ∈ [-0.3, 0.3]) from in front of
# the robot, so the arm's home pose stays near the image top; the front camera misses ~9% of pick points near
# its lower corners
TOP_EYE = (1.0, 0.0, TABLE_HEIGHT + 0.8)
TOP_TARGET = (0.5, 0.0, TABLE_HEIGHT)
TOP_UP = (0.0, 0.0, 1.0)
RENDERERS = {"tiny": pybullet.ER_TINY_RENDERER, "opengl": pybullet.ER_BULLET_HARDWARE_OPENGL}


def _size_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


class TabletopScene:
    """A pybullet tabletop world. Call ``reset(rng, specs)`` before use and ``close()`` when done."""

    def __init__(
        self,
        *,
        renderer: str = "tiny",
        randomize_camera: bool = False,
        randomize_lighting: bool = False,
        shadows: bool = False,
    ) -> None:
        if renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {sorted(RENDERERS)}, got {renderer!r}")
        self.renderer = renderer
        self.randomize_camera = randomize_camera
        self.randomize_lighting = randomize_lighting
        self.shadows = shadows
        self.table_height = TABLE_HEIGHT
        with silence_stdout():
            self.client: BulletClient = BulletClient(connection_mode=pybullet.DIRECT)
        self.objects: list[ObjectInfo] = []
        self.cameras: dict[str, Camera] = {
            "front": Camera("front", np.array(FRONT_EYE), np.array(FRONT_TARGET), np.array([0.0, 0.0, 1.0]), 50.0),
            "wrist": Camera("wrist", np.zeros(3), np.array([0.0, 0.0, -1.0]), np.array([1.0, 0.0, 0.0]), 70.0),
            "top": Camera("top", np.array(TOP_EYE), np.array(TOP_TARGET), np.array(TOP_UP), 50.0),
        }
        self.lighting = Lighting()
        self.touched: set[str] = set()  # names of items the hand has touched since reset
        self.events: list[tuple[str, str]] = []  # ("touch" | "grasp" | "release", object name), in order
        self._by_name: dict[str, ObjectInfo] = {}
        self._by_body: dict[int, ObjectInfo] = {}
        self._closed = False
        self.robot: Panda | None = None
        self.table = -1  # body id of the table, set by reset
        self.allow_grasp = True  # tasks such as pushing switch grasping off

    # -- building ------------------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator, specs: Sequence[ObjectSpec] | None = None) -> None:
        """Rebuild the world: robot at home, ``specs`` (or a random set from ``sample_specs``) placed at random.

        Draw order from ``rng`` is fixed (specs, sizes, placements, camera jitter, lighting), so the scene
        is a pure function of the generator state.
        """
        if specs is None:
            specs = sample_specs(rng)
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"item names must be unique in a scene, got {names}")
        c = self.client
        c.resetSimulation()
        c.setGravity(0.0, 0.0, -9.81)
        c.setPhysicsEngineParameter(fixedTimeStep=PHYSICS_DT, deterministicOverlappingPairs=1)
        self._build_table()
        self.robot = Panda(c, np.array([0.0, 0.0, TABLE_HEIGHT]))
        sizes = [draw_size(rng, s) for s in specs]
        poses = place_items(rng, specs, sizes)
        self.objects = []
        for spec, size, (xy, yaw) in zip(specs, sizes, poses, strict=True):
            body = build_item(c, spec, size, np.array([xy[0], xy[1], TABLE_HEIGHT]), yaw)
            self.objects.append(ObjectInfo(spec.name, spec.colour, spec.shape, body, size, spec.kind))
        self._by_name = {o.name: o for o in self.objects}
        self._by_body = {o.body_id: o for o in self.objects}
        self._pose_front_camera(rng)
        self.lighting = Lighting.sample(rng) if self.randomize_lighting else Lighting()
        self.touched, self.events = set(), []
        self.step_physics(10)  # let objects settle onto the table

    def _build_table(self) -> None:
        c = self.client
        he = list(TABLE_HALF_EXTENTS)
        col = c.createCollisionShape(c.GEOM_BOX, halfExtents=he)
        vis = c.createVisualShape(c.GEOM_BOX, halfExtents=he, rgbaColor=TABLE_RGBA)
        centre = [TABLE_CENTRE_XY[0], TABLE_CENTRE_XY[1], TABLE_HEIGHT - he[2]]
        self.table = int(c.createMultiBody(0.0, col, vis, centre))
        c.changeDynamics(self.table, -1, lateralFriction=0.6)

    def _pose_front_camera(self, rng: np.random.Generator) -> None:
        eye, target, fov = np.array(FRONT_EYE), np.array(FRONT_TARGET), 50.0
        if self.randomize_camera:
            eye = eye + rng.uniform([-0.05, -0.08, -0.05], [0.05, 0.08, 0.05])
            target = target + rng.uniform(-0.03, 0.03, size=3) * np.array([1.0, 1.0, 0.0])
            fov = fov + float(rng.uniform(-3.0, 3.0))
        front = self.cameras["front"]
        front.set_pose(eye, target, np.array([0.0, 0.0, 1.0]))
        front.fov = fov

    # -- queries -------------------------------------------------------------------------------------------
    def get(self, name: str) -> ObjectInfo:
        """The item called ``name`` ("red cube"); ``KeyError`` naming the known items otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no item {name!r} in the scene; items: {sorted(self._by_name)}") from None

    def info_of_body(self, body: int) -> ObjectInfo | None:
        return self._by_body.get(body)

    def _info(self, obj: ObjectInfo | str) -> ObjectInfo:
        return self.get(obj) if isinstance(obj, str) else obj

    @property
    def movable(self) -> list[ObjectInfo]:
        return [o for o in self.objects if o.kind == "object"]

    @property
    def receptacles(self) -> list[ObjectInfo]:
        return [o for o in self.objects if o.kind == "receptacle"]

    def position(self, obj: ObjectInfo | str) -> np.ndarray:
        """World position [3] of the item's base frame."""
        return np.asarray(self.client.getBasePositionAndOrientation(self._info(obj).body_id)[0])

    def orientation(self, obj: ObjectInfo | str) -> np.ndarray:
        """World orientation quaternion [4] (x, y, z, w)."""
        return np.asarray(self.client.getBasePositionAndOrientation(self._info(obj).body_id)[1])

    def yaw(self, obj: ObjectInfo | str) -> float:
        return float(self.client.getEulerFromQuaternion(self.orientation(obj).tolist())[2])

    def aabb(self, obj: ObjectInfo | str) -> tuple[np.ndarray, np.ndarray]:
        """World axis-aligned bounding box (min [3], max [3]); zones (no collision shape) from their geometry."""
        info = self._info(obj)
        if info.shape == "zone":
            centre, he = self.position(info), half_extents("zone", info.size)
            return centre - he, centre + he
        lo, hi = self.client.getAABB(info.body_id)
        return np.asarray(lo), np.asarray(hi)

    def velocity(self, obj: ObjectInfo | str) -> np.ndarray:
        return np.asarray(self.client.getBaseVelocity(self._info(obj).body_id)[0])

    @property
    def held(self) -> ObjectInfo | None:
        """The object in the gripper, if any."""
        assert self.robot is not None
        return None if self.robot.held is None else self._by_body[self.robot.held]

    # -- acting --------------------------------------------------------------------------------------------
    def move_ee(self, target: np.ndarray, yaw: float = 0.0) -> None:
        """Command the arm towards an end-effector position (IK); takes effect over the next physics steps."""
        assert self.robot is not None
        self.robot.command_joints(self.robot.ik(target, yaw))

    def set_gripper(self, closed: bool) -> None:
        """Close (grasping whatever both fingers then touch) or open (releasing what is held)."""
        assert self.robot is not None
        if closed == self.robot.gripper_closed:
            return
        held = self.held
        self.robot.set_gripper(closed)
        if held is not None and not closed:
            self.events.append(("release", held.name))

    def step_physics(self, n: int) -> None:
        """Advance ``n`` physics steps of ``PHYSICS_DT``, attaching grasped objects and recording touches."""
        assert self.robot is not None
        movable = [o.body_id for o in self.movable]
        for _ in range(n):
            self.client.stepSimulation()
            grasped = self.robot.try_grasp(movable) if self.allow_grasp else None
            if grasped is not None:
                self.events.append(("grasp", self._by_body[grasped].name))
            for c in self.client.getContactPoints(bodyA=self.robot.body):
                info = self._by_body.get(c[2])
                if info is not None and c[3] >= HAND_LINK and info.name not in self.touched:
                    self.touched.add(info.name)
                    self.events.append(("touch", info.name))

    # -- rendering -----------------------------------------------------------------------------------------
    def update_wrist_camera(self) -> None:
        """Pose the wrist camera on the hand: beside the palm, looking along the fingers."""
        assert self.robot is not None
        pos, orn = self.robot.hand_pose()
        rot = np.asarray(self.client.getMatrixFromQuaternion(orn.tolist())).reshape(3, 3)
        eye = pos + rot @ np.array([0.06, 0.0, 0.02])
        self.cameras["wrist"].set_pose(eye, pos + rot @ np.array([0.0, 0.0, 0.3]), rot @ np.array([1.0, 0.0, 0.0]))

    def render(
        self, camera: str, size: int | tuple[int, int], *, depth: bool = False, segmentation: bool = False
    ) -> dict[str, np.ndarray]:
        """Render ``camera`` at ``size`` (int or (H, W)); see the module docstring for the returned keys."""
        if camera not in self.cameras:
            raise KeyError(f"unknown camera {camera!r}; cameras: {sorted(self.cameras)}")
        if camera == "wrist":
            self.update_wrist_camera()
        cam, (h, w) = self.cameras[camera], _size_hw(size)
        flags = 0 if segmentation else pybullet.ER_NO_SEGMENTATION_MASK
        _, _, rgba, zbuf, seg = self.client.getCameraImage(
            w, h, viewMatrix=cam.view_matrix(), projectionMatrix=cam.projection_matrix(w, h),
            renderer=RENDERERS[self.renderer], shadow=int(self.shadows), flags=flags, **self.lighting.kwargs(),
        )  # fmt: skip
        out: dict[str, np.ndarray] = {"rgb": np.asarray(rgba, dtype=np.uint8).reshape(h, w, 4)[:, :, :3].copy()}
        if depth:
            z = np.asarray(zbuf, dtype=np.float64).reshape(h, w)
            out["depth"] = (cam.far * cam.near / (cam.far - (cam.far - cam.near) * z)).astype(np.float32)
        if segmentation:
            out["segmentation"] = np.asarray(seg, dtype=np.int32).reshape(h, w)
        return out

    def camera_params(self, size: int | tuple[int, int]) -> dict[str, dict[str, np.ndarray]]:
        """Per camera ``{"intrinsics": [3, 3], "extrinsics": [4, 4]}`` for images of ``size``."""
        self.update_wrist_camera()
        h, w = _size_hw(size)
        return {name: cam.params(w, h) for name, cam in self.cameras.items()}

    def close(self) -> None:
        """Disconnect the client; safe to call more than once."""
        if not self._closed:
            self._closed = True
            self.client.disconnect()
