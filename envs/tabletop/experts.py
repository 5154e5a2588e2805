"""Scripted experts with privileged state: one action at a time toward the task's next subgoal.

Both experts read the scene directly (positions, the held object) and re-plan every step from the current
state, so a slipped grasp or a push that drifts is retried rather than derailing the episode.

* ``primitive_action`` — one ``primitive`` action per subgoal: grasp point and yaw of the object, release point
  above its target (a free corner slot when a bowl must hold several objects), or a push stroke from behind
  the object to just short of the zone centre.
* ``EEDeltaExpert`` — a small state machine over waypoints for ``ee_delta`` control: rise to a safe height,
  move above the object, descend, close, lift, carry above the target, lower, open; pushes approach from
  behind and advance along the object–zone line with a lateral correction.
"""

from __future__ import annotations

import numpy as np

from embodied.envs.tabletop.control import EE_DELTA_MAX, encode_primitive
from embodied.envs.tabletop.objects import FLOOR_THICKNESS, ObjectInfo, footprint_radius
from embodied.envs.tabletop.predicates import inside
from embodied.envs.tabletop.scene import TabletopScene
from embodied.envs.tabletop.tasks.base import Task

GRASP_MIN_HEIGHT = 0.015  # metres above the table: lowest end-effector height for a grasp
SAFE_HEIGHT = 0.12  # metres above the table for transit
DROP = 0.012  # metres between the object's bottom and the surface at release
SLOT_CLEARANCE = 0.037  # metres from a bowl's inner wall to a corner slot's centre (largest object radius)
PUSH_HEIGHT = 0.015  # end-effector height above the table while pushing
PUSH_STEP = 0.02  # metres the pusher advances per ee_delta step
TOL = 0.008  # metres: waypoint reached
NEAR = 0.02  # metres of xy error below which the hand descends (correcting xy on the way down)


def grasp_point(scene: TabletopScene, obj: ObjectInfo) -> np.ndarray:
    p = scene.position(obj)
    return np.array([p[0], p[1], max(p[2], scene.table_height + GRASP_MIN_HEIGHT)])


def grasp_yaw(scene: TabletopScene, obj: ObjectInfo) -> float:
    """Hand yaw that closes the fingers across the object's narrow side (its local y axis)."""
    if obj.shape in ("sphere", "cylinder"):
        return 0.0
    period = np.pi / 2 if obj.shape == "cube" else np.pi
    return float((scene.yaw(obj) + period / 2) % period - period / 2)


def target_xy(scene: TabletopScene, task: Task, obj: ObjectInfo, target: ObjectInfo) -> np.ndarray:
    """Where the object's centre should go: the target's centre, or the free corner of a shared bowl."""
    centre = scene.position(target)[:2]
    sharing = sum(g[2] == target.name for g in task.subgoals())
    if target.kind != "receptacle" or sharing < 2:
        return centre
    q = max(0.0, target.size / 2 - SLOT_CLEARANCE)
    slots = [centre + q * np.array(s) for s in ((1, 1), (-1, -1), (1, -1), (-1, 1))]
    occupants = [scene.position(o)[:2] for o in scene.movable if o.name != obj.name and inside(scene, o, target)]
    if not occupants:
        return slots[0]
    return max(slots, key=lambda s: min(float(np.linalg.norm(s - p)) for p in occupants))


def surface_height(scene: TabletopScene, target: ObjectInfo) -> float:
    if target.shape == "bowl":
        return scene.table_height + FLOOR_THICKNESS
    return float(scene.aabb(target)[1][2])


def push_geometry(scene: TabletopScene, obj: ObjectInfo, zone: ObjectInfo) -> tuple[np.ndarray, np.ndarray, float]:
    """(unit push direction [2], zone centre [2], object footprint radius)."""
    d = scene.position(zone)[:2] - scene.position(obj)[:2]
    return d / max(float(np.linalg.norm(d)), 1e-9), scene.position(zone)[:2], footprint_radius(obj.shape, obj.size)


def primitive_action(scene: TabletopScene, task: Task) -> np.ndarray:
    """The expert's normalised ``primitive`` action (see ``control``) for the next subgoal."""
    th = scene.table_height
    goal = task.next_subgoal(scene)
    if goal is None:  # done: a harmless grasp in mid-air above the workspace centre
        return encode_primitive(np.array([0.45, 0.0, 0.2, 0.45, 0.0, 0.2, 0.0]))
    verb, name, target_name = goal
    obj = scene.get(name)
    if verb == "push":
        u, centre, r = push_geometry(scene, obj, scene.get(target_name))
        start = scene.position(obj)[:2] - u * (r + 0.03)
        end = centre - u * (0.01 + 0.8 * r)
        yaw = float((np.arctan2(u[1], u[0]) + np.pi / 2) % np.pi - np.pi / 2)
        return encode_primitive(np.array([*start, PUSH_HEIGHT, *end, PUSH_HEIGHT, yaw]))
    pick = grasp_point(scene, obj)
    if verb == "touch":  # the closed hand touches down 1 cm into the object's top
        pick[2] = max(pick[2], scene.aabb(obj)[1][2] - 0.01)
        place = pick.copy()
    else:
        target = scene.get(target_name)
        bottom_offset = pick[2] - scene.aabb(obj)[0][2]
        z = surface_height(scene, target) + bottom_offset + DROP
        place = np.array([*target_xy(scene, task, obj, target), z])
    pick[2] -= th
    place[2] -= th
    return encode_primitive(np.array([*pick, *place, grasp_yaw(scene, obj)]))


class EEDeltaExpert:
    """Closed-loop waypoint follower for ``ee_delta`` control; ``reset()`` at every episode start."""

    CLOSE_WAIT = 4  # steps to wait for a grasp after closing before reopening and retrying

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.closing = 0
        self.pushing = False

    def act(self, scene: TabletopScene, task: Task) -> np.ndarray:
        goal = task.next_subgoal(scene)
        if goal is None:
            return np.array([0.0, 0.0, 0.0, -1.0], dtype=np.float32)
        verb, name, target = goal
        obj = scene.get(name)
        if verb == "touch":
            return self._touch(scene, obj)
        if verb == "push":
            return self._push(scene, obj, scene.get(target))
        held = scene.held
        if held is not None and held.name == name:
            return self._carry(scene, task, obj, scene.get(target))
        if held is not None:  # holding the wrong object: let go
            return np.array([0.0, 0.0, 0.5, -1.0], dtype=np.float32)
        return self._fetch(scene, obj)

    # -- helpers -------------------------------------------------------------------------------------------
    @staticmethod
    def _ee(scene: TabletopScene) -> np.ndarray:
        assert scene.robot is not None
        return scene.robot.ee_pose()[0]

    def _toward(self, scene: TabletopScene, waypoint: np.ndarray, gripper: float) -> np.ndarray:
        delta = np.clip((waypoint - self._ee(scene)) / EE_DELTA_MAX, -1.0, 1.0)
        return np.array([*delta, gripper], dtype=np.float32)

    def _transit(self, scene: TabletopScene, goal_xy: np.ndarray, gripper: float) -> np.ndarray | None:
        """Rise, then move at the safe height, while the hand is not near above ``goal_xy``; None once it is
        (the caller's descent toward its waypoint corrects the remaining ``NEAR`` of xy error)."""
        ee, safe = self._ee(scene), scene.table_height + SAFE_HEIGHT
        err = float(np.linalg.norm(ee[:2] - goal_xy))
        if err < NEAR:
            return None
        if err > 0.03 and ee[2] < safe - 0.03:
            return self._toward(scene, np.array([ee[0], ee[1], safe]), gripper)
        return self._toward(scene, np.array([goal_xy[0], goal_xy[1], max(ee[2], safe - 0.03)]), gripper)

    # -- behaviours ----------------------------------------------------------------------------------------
    def _fetch(self, scene: TabletopScene, obj: ObjectInfo) -> np.ndarray:
        assert scene.robot is not None
        g = grasp_point(scene, obj)
        if scene.robot.gripper_closed:  # closed without a grasp: wait a little, then reopen and retry
            self.closing += 1
            if self.closing <= self.CLOSE_WAIT:
                return self._toward(scene, g, 1.0)
            self.closing = 0
            return np.array([0.0, 0.0, 1.0, -1.0], dtype=np.float32)
        move = self._transit(scene, g[:2], -1.0)
        if move is not None:
            return move
        if np.linalg.norm(self._ee(scene) - g) < TOL:
            self.closing = 0
            return self._toward(scene, g, 1.0)
        return self._toward(scene, g, -1.0)

    def _carry(self, scene: TabletopScene, task: Task, obj: ObjectInfo, target: ObjectInfo) -> np.ndarray:
        ee = self._ee(scene)
        offset = ee - scene.position(obj)
        goal_xy = target_xy(scene, task, obj, target) + offset[:2]
        move = self._transit(scene, goal_xy, 1.0)
        if move is not None:
            return move
        release = surface_height(scene, target) + (ee[2] - scene.aabb(obj)[0][2]) + DROP
        if ee[2] - release < TOL:
            return np.array([0.0, 0.0, 0.0, -1.0], dtype=np.float32)
        return self._toward(scene, np.array([goal_xy[0], goal_xy[1], release]), 1.0)

    def _touch(self, scene: TabletopScene, obj: ObjectInfo) -> np.ndarray:
        p = scene.position(obj)
        move = self._transit(scene, p[:2], 1.0)
        if move is not None:
            return move
        return self._toward(scene, np.array([p[0], p[1], scene.aabb(obj)[1][2] - 0.01]), 1.0)

    def _push(self, scene: TabletopScene, obj: ObjectInfo, zone: ObjectInfo) -> np.ndarray:
        u, centre, r = push_geometry(scene, obj, zone)
        perp = np.array([-u[1], u[0]])
        ee, o = self._ee(scene), scene.position(obj)[:2]
        rel = ee[:2] - o
        along, lateral = float(rel @ u), float(rel @ perp)
        low = ee[2] < scene.table_height + PUSH_HEIGHT + 0.01
        lateral_tol = 0.025 if self.pushing else 0.012
        self.pushing = low and -(r + 0.08) < along < -(r - 0.01) and abs(lateral) < lateral_tol
        if self.pushing:
            if np.linalg.norm(centre - o) < 0.01:
                return np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32)
            step = ee[:2] + u * PUSH_STEP - 0.5 * lateral * perp
            return self._toward(scene, np.array([step[0], step[1], scene.table_height + PUSH_HEIGHT]), 1.0)
        start = o - u * (r + 0.03)
        move = self._transit(scene, start, 1.0)
        if move is not None:
            return move
        return self._toward(scene, np.array([start[0], start[1], scene.table_height + PUSH_HEIGHT]), 1.0)
