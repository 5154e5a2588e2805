"""The Franka Panda arm from ``pybullet_data``: joint control, inverse kinematics and the grasp.

Grasping is a *contact-triggered fixed constraint*: when the gripper is commanded closed, the real finger
joints close under position control (and stop on the object); as soon as both fingers touch the same movable
object, a fixed constraint between the hand and the object is created at their current relative pose. The
object then follows the hand rigidly until the gripper is opened, which removes the constraint. Friction-only
grasps in pybullet slip in ways that depend on solver details; the constraint makes grasps reliable while the
fingers still have to reach the object from both sides (a gripper closed in the air grasps nothing).

The end effector is the ``panda_grasptarget`` link (between the finger tips). The hand always points down; only
its yaw about the vertical is free.

Rendering: ``pybullet_data``'s Panda draws ~100k-triangle visual meshes, which made TinyRenderer ~60× slower
than the rest of the scene (13 ms vs 0.2 ms for a 32×32 frame). ``panda_urdf_path`` writes, once per machine, a
copy of ``panda.urdf`` whose visuals reuse the ~3.6k-triangle collision meshes (same shapes, coarser), with
absolute mesh paths, into the temp directory; dynamics are unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from embodied.envs.tabletop.quiet import silence_stdout

ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
HAND_LINK = 8
EE_LINK = 11
HOME = (0.0, -0.3, 0.0, -2.3, 0.0, 2.0, 0.785)  # joint angles (rad): hand above the table, pointing down
LOWER = (-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671)
UPPER = (2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671)
ARM_FORCE = 200.0  # N·m per joint
ARM_GAIN = 0.3  # position gain; with ARM_FORCE the hand reaches a 5 cm IK target within one 0.1 s control step
FINGER_FORCE = 40.0  # N
FINGER_OPEN = 0.04  # m per finger; the opening between the fingers is twice this


@functools.cache
def panda_urdf_path() -> str:
    """Path of the low-poly Panda URDF (see the module docstring), written atomically on first use."""
    root = Path(pybullet_data.getDataPath()) / "franka_panda"
    text = (root / "panda.urdf").read_text()
    collision = f"{(root / 'meshes' / 'collision').as_posix()}/"
    text = text.replace("package://meshes/visual/", collision).replace("package://meshes/collision/", collision)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"embodied-panda-{digest}.urdf"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".urdf")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)  # atomic: concurrent processes never read a half-written file
    return str(path)


class Panda:
    """One Panda in one client. ``reset()`` puts it at ``HOME`` with the gripper open and nothing held."""

    def __init__(self, client: BulletClient, base_position: np.ndarray) -> None:
        self.client = client
        with silence_stdout():
            self.body = int(
                client.loadURDF(
                    panda_urdf_path(),
                    basePosition=np.asarray(base_position, dtype=float).tolist(),
                    useFixedBase=True,
                )
            )
        self.held: int | None = None  # body id of the grasped object
        self._constraint: int | None = None
        self.gripper_closed = False
        for link in FINGER_JOINTS:
            client.changeDynamics(self.body, link, lateralFriction=1.0)
        self.reset()

    def reset(self) -> None:
        for j, q in zip(ARM_JOINTS, HOME, strict=True):
            self.client.resetJointState(self.body, j, q)
        for j in FINGER_JOINTS:
            self.client.resetJointState(self.body, j, FINGER_OPEN)
        self.release()
        self.set_gripper(closed=False)
        self.command_joints(np.asarray(HOME))

    # -- state ---------------------------------------------------------------------------------------------
    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """End-effector position [3] and quaternion [4] (x, y, z, w) in the world frame."""
        state = self.client.getLinkState(self.body, EE_LINK, computeForwardKinematics=True)
        return np.asarray(state[4]), np.asarray(state[5])

    def hand_pose(self) -> tuple[np.ndarray, np.ndarray]:
        state = self.client.getLinkState(self.body, HAND_LINK, computeForwardKinematics=True)
        return np.asarray(state[4]), np.asarray(state[5])

    def joint_positions(self) -> np.ndarray:
        return np.array([self.client.getJointState(self.body, j)[0] for j in ARM_JOINTS])

    def gripper_opening(self) -> float:
        """Distance between the fingers in metres (0 closed, 0.08 fully open)."""
        return float(sum(self.client.getJointState(self.body, j)[0] for j in FINGER_JOINTS))

    # -- commands ------------------------------------------------------------------------------------------
    def ik(self, position: np.ndarray, yaw: float = 0.0) -> np.ndarray:
        """Joint angles [7] that put the end effector at ``position`` pointing down with ``yaw``."""
        orn = self.client.getQuaternionFromEuler([np.pi, 0.0, yaw])
        ranges = [u - lo for lo, u in zip(LOWER, UPPER, strict=True)]
        q = self.client.calculateInverseKinematics(
            self.body, EE_LINK, np.asarray(position, dtype=float).tolist(), orn,
            lowerLimits=list(LOWER), upperLimits=list(UPPER), jointRanges=ranges, restPoses=list(HOME),
            maxNumIterations=100, residualThreshold=1e-5,
        )  # fmt: skip
        return np.asarray(q[: len(ARM_JOINTS)])

    def command_joints(self, q: np.ndarray) -> None:
        self.client.setJointMotorControlArray(
            self.body, list(ARM_JOINTS), self.client.POSITION_CONTROL,
            targetPositions=[float(x) for x in q], forces=[ARM_FORCE] * len(ARM_JOINTS),
            positionGains=[ARM_GAIN] * len(ARM_JOINTS),
        )  # fmt: skip

    def set_gripper(self, closed: bool) -> None:
        """Command the fingers; opening also drops whatever is held."""
        self.gripper_closed = closed
        if not closed:
            self.release()
        target = 0.0 if closed else FINGER_OPEN
        self.client.setJointMotorControlArray(
            self.body, list(FINGER_JOINTS), self.client.POSITION_CONTROL,
            targetPositions=[target, target], forces=[FINGER_FORCE, FINGER_FORCE],
        )  # fmt: skip

    # -- grasp ---------------------------------------------------------------------------------------------
    def touching(self, body: int) -> bool:
        """Whether any link of the hand (palm or fingers) is in contact with ``body``."""
        return any(c[3] >= HAND_LINK for c in self.client.getContactPoints(self.body, body))

    def try_grasp(self, movable: list[int]) -> int | None:
        """If closing and both fingers touch one movable body, attach it and return its id."""
        if not self.gripper_closed or self.held is not None:
            return None
        left = {c[2] for c in self.client.getContactPoints(bodyA=self.body, linkIndexA=FINGER_JOINTS[0])}
        right = {c[2] for c in self.client.getContactPoints(bodyA=self.body, linkIndexA=FINGER_JOINTS[1])}
        both = [b for b in movable if b in left and b in right]
        if not both:
            return None
        self._attach(both[0])
        return both[0]

    def _attach(self, body: int) -> None:
        c = self.client
        ee_pos, ee_orn = self.ee_pose()
        obj_pos, obj_orn = c.getBasePositionAndOrientation(body)
        inv_pos, inv_orn = c.invertTransform(ee_pos.tolist(), ee_orn.tolist())
        rel_pos, rel_orn = c.multiplyTransforms(inv_pos, inv_orn, obj_pos, obj_orn)
        self._constraint = int(
            c.createConstraint(
                self.body, EE_LINK, body, -1, c.JOINT_FIXED, [0, 0, 0], rel_pos, [0, 0, 0], rel_orn, [0, 0, 0, 1]
            )
        )
        c.changeConstraint(self._constraint, maxForce=500.0)
        self.held = body

    def release(self) -> None:
        if self._constraint is not None:
            self.client.removeConstraint(self._constraint)
        self._constraint = None
        self.held = None
