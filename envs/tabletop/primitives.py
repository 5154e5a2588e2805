"""Motion primitives executed inside one ``primitive``-mode step: IK-driven straight-line moves with physics.

``pick_place(scene, pick, place, yaw)``: open → move above ``pick`` → descend to it → close (grasping what both
fingers touch) → lift → move above ``place`` → descend to it → open → lift. ``touch(scene, point, yaw)``: close
(a closed hand is a narrow probe) → move above ``point`` → descend to it → lift. ``push(scene, start, end, yaw)``:
close the gripper (a closed hand is a compact pusher) → move above ``start`` → descend → move straight to
``end`` at pushing speed → lift. Points are world positions of the end effector. Moves are interpolated in
Cartesian space (``MOVE_SPEED``) with the IK target refreshed every ``IK_EVERY`` physics steps, then held
until the end effector settles (or ``SETTLE_STEPS`` pass), so the arm stays on a straight, predictable path.
"""

from __future__ import annotations

import numpy as np

from embodied.envs.tabletop.scene import PHYSICS_DT, TabletopScene

APPROACH_HEIGHT = 0.15  # metres above the table for transit moves
MOVE_SPEED = 0.5  # m/s for transit moves
PUSH_SPEED = 0.15  # m/s while pushing, slow enough that objects do not skid away
IK_EVERY = 8  # physics steps between IK refreshes during a move (30 Hz)
SETTLE_STEPS = 48  # at most this many extra physics steps to reach the final target
SETTLE_TOL = 0.004  # metres
GRIPPER_STEPS = 48  # physics steps to close or open the fingers (0.2 s)


def move_linear(scene: TabletopScene, target: np.ndarray, yaw: float, speed: float = MOVE_SPEED) -> None:
    """Move the end effector along a straight line to ``target`` at ``speed``; returns once settled."""
    assert scene.robot is not None
    start = scene.robot.ee_pose()[0]
    target = np.asarray(target, dtype=np.float64)
    n = max(1, int(np.ceil(np.linalg.norm(target - start) / speed / (IK_EVERY * PHYSICS_DT))))
    for k in range(1, n + 1):
        scene.move_ee(start + (target - start) * k / n, yaw)
        scene.step_physics(IK_EVERY)
    for _ in range(SETTLE_STEPS // IK_EVERY):
        if np.linalg.norm(scene.robot.ee_pose()[0] - target) < SETTLE_TOL:
            break
        scene.move_ee(target, yaw)
        scene.step_physics(IK_EVERY)


def _above(point: np.ndarray, table_height: float) -> np.ndarray:
    return np.array([point[0], point[1], max(point[2], table_height + APPROACH_HEIGHT)])


def _gripper(scene: TabletopScene, closed: bool) -> None:
    scene.set_gripper(closed)
    scene.step_physics(GRIPPER_STEPS)


def pick_place(scene: TabletopScene, pick: np.ndarray, place: np.ndarray, yaw: float) -> None:
    """Grasp at ``pick`` and release at ``place`` (world end-effector positions)."""
    th = scene.table_height
    _gripper(scene, closed=False)
    move_linear(scene, _above(pick, th), yaw)
    move_linear(scene, pick, yaw)
    _gripper(scene, closed=True)
    move_linear(scene, _above(pick, th), yaw)
    move_linear(scene, _above(place, th), yaw)
    move_linear(scene, place, yaw)
    _gripper(scene, closed=False)
    move_linear(scene, _above(place, th), yaw)


def touch(scene: TabletopScene, point: np.ndarray, yaw: float) -> None:
    """Touch down at ``point`` (world end-effector position) with the closed hand, then lift."""
    th = scene.table_height
    _gripper(scene, closed=True)
    move_linear(scene, _above(point, th), yaw)
    move_linear(scene, point, yaw)
    move_linear(scene, _above(point, th), yaw)


def push(scene: TabletopScene, start: np.ndarray, end: np.ndarray, yaw: float) -> None:
    """Push along the straight segment ``start`` → ``end`` (world end-effector positions)."""
    th = scene.table_height
    _gripper(scene, closed=True)
    move_linear(scene, _above(start, th), yaw)
    move_linear(scene, start, yaw)
    move_linear(scene, end, yaw, speed=PUSH_SPEED)
    move_linear(scene, _above(end, th), yaw)
