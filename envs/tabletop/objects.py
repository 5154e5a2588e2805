"""The object vocabulary (colours × shapes, receptacles) and how each item is built in pybullet.

Movable objects (``kind == "object"``), ``size`` in metres:

* ``cube``      — edge ``size`` ∈ [0.035, 0.045].
* ``sphere``    — diameter ``size`` ∈ [0.035, 0.045] (rolling/spinning friction keep it from rolling away).
* ``cylinder``  — diameter ``size`` ∈ [0.035, 0.045], height 1.2 × ``size``, standing upright.
* ``block``     — cuboid of length ``size`` ∈ [0.05, 0.06], width and height 0.6 × ``size``.

Receptacles (``kind == "receptacle"``, static):

* ``bowl``  — a square tray: a 5 mm floor and four 3 cm rims around an inner square of side ``size`` ∈ [0.14, 0.16]
  (tasks may ask for a larger one).
* ``zone``  — a 2 mm coloured square of side ``size`` ∈ [0.10, 0.12] drawn on the table, visual only (no
  collision), so objects can be pushed onto it.

Shapes are built with ``createCollisionShape``/``createVisualShape``/``createMultiBody`` (no files, fast).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pybullet_utils.bullet_client import BulletClient

COLOURS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.12, 0.12, 1.0),
    "green": (0.15, 0.7, 0.2, 1.0),
    "blue": (0.12, 0.3, 0.9, 1.0),
    "yellow": (0.95, 0.85, 0.1, 1.0),
    "purple": (0.55, 0.2, 0.75, 1.0),
    "orange": (1.0, 0.5, 0.05, 1.0),
}
SHAPES: tuple[str, ...] = ("cube", "sphere", "cylinder", "block")
RECEPTACLES: tuple[str, ...] = ("bowl", "zone")
SIZE_RANGES: dict[str, tuple[float, float]] = {
    "cube": (0.035, 0.045),
    "sphere": (0.035, 0.045),
    "cylinder": (0.035, 0.045),
    "block": (0.05, 0.06),
    "bowl": (0.14, 0.16),
    "zone": (0.10, 0.12),
}
OBJECT_MASS = 0.1  # kg
RIM_HEIGHT = 0.03
RIM_THICKNESS = 0.008
FLOOR_THICKNESS = 0.005
ZONE_THICKNESS = 0.002


@dataclass(frozen=True)
class ObjectInfo:
    """One item in the scene. ``name`` is "<colour> <shape>" and unique within a scene."""

    name: str
    colour: str
    shape: str
    body_id: int
    size: float
    kind: str  # "object" (movable) or "receptacle"


@dataclass(frozen=True)
class ObjectSpec:
    """What to build: a layout is a list of specs; ``size=None`` draws one from ``SIZE_RANGES``."""

    colour: str
    shape: str
    size: float | None = None

    @property
    def kind(self) -> str:
        return "receptacle" if self.shape in RECEPTACLES else "object"

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"


def half_extents(shape: str, size: float) -> np.ndarray:
    """Half extents [3] of the item's bounding box when upright and unrotated."""
    if shape == "cube":
        return np.full(3, size / 2)
    if shape == "sphere":
        return np.full(3, size / 2)
    if shape == "cylinder":
        return np.array([size / 2, size / 2, 0.6 * size])
    if shape == "block":
        return np.array([size / 2, 0.3 * size, 0.3 * size])
    outer = size / 2 + RIM_THICKNESS
    if shape == "bowl":
        return np.array([outer, outer, RIM_HEIGHT / 2])
    if shape == "zone":
        return np.array([size / 2, size / 2, ZONE_THICKNESS / 2])
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES + RECEPTACLES}")


def footprint_radius(shape: str, size: float) -> float:
    """Radius of the item's footprint on the table (for non-overlapping placement)."""
    h = half_extents(shape, size)
    return float(np.hypot(h[0], h[1]))


def _movable(client: BulletClient, shape: str, size: float, rgba: tuple[float, ...]) -> tuple[int, int]:
    """(collision, visual) shape ids of a movable object."""
    if shape == "sphere":
        col = client.createCollisionShape(client.GEOM_SPHERE, radius=size / 2)
        vis = client.createVisualShape(client.GEOM_SPHERE, radius=size / 2, rgbaColor=rgba)
    elif shape == "cylinder":
        h = 1.2 * size
        col = client.createCollisionShape(client.GEOM_CYLINDER, radius=size / 2, height=h)
        vis = client.createVisualShape(client.GEOM_CYLINDER, radius=size / 2, length=h, rgbaColor=rgba)
    else:
        he = half_extents(shape, size).tolist()
        col = client.createCollisionShape(client.GEOM_BOX, halfExtents=he)
        vis = client.createVisualShape(client.GEOM_BOX, halfExtents=he, rgbaColor=rgba)
    return col, vis


def _bowl(client: BulletClient, size: float, rgba: tuple[float, ...]) -> tuple[int, int]:
    """Compound (collision, visual) shapes of a tray: floor plus four rims, origin at the floor's bottom centre."""
    inner, t, h = size / 2, RIM_THICKNESS, RIM_HEIGHT
    outer = inner + t
    boxes = [([outer, outer, FLOOR_THICKNESS / 2], [0.0, 0.0, FLOOR_THICKNESS / 2])]
    for sx, sy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        he = [t / 2, outer, h / 2] if sx else [outer, t / 2, h / 2]
        boxes.append((he, [sx * (inner + t / 2), sy * (inner + t / 2), h / 2]))
    extents = [b[0] for b in boxes]
    offsets = [b[1] for b in boxes]
    n = len(boxes)
    col = client.createCollisionShapeArray(
        shapeTypes=[client.GEOM_BOX] * n, halfExtents=extents, collisionFramePositions=offsets
    )
    vis = client.createVisualShapeArray(
        shapeTypes=[client.GEOM_BOX] * n, halfExtents=extents, visualFramePositions=offsets,
        rgbaColors=[list(rgba)] * n,
    )  # fmt: skip
    return col, vis


def build_item(client: BulletClient, spec: ObjectSpec, size: float, position: np.ndarray, yaw: float) -> int:
    """Create the pybullet body for ``spec`` resting on the surface at ``position`` (its bottom centre)."""
    rgba = COLOURS[spec.colour]
    orn = client.getQuaternionFromEuler([0.0, 0.0, yaw])
    pos = np.asarray(position, dtype=np.float64).copy()
    if spec.shape == "bowl":
        col, vis = _bowl(client, size, rgba)
        return int(client.createMultiBody(0.0, col, vis, pos.tolist(), orn))
    if spec.shape == "zone":
        vis = client.createVisualShape(client.GEOM_BOX, halfExtents=half_extents("zone", size).tolist(), rgbaColor=rgba)
        pos[2] += ZONE_THICKNESS / 2 + 1e-4  # a hair above the table so the renderer does not z-fight
        return int(client.createMultiBody(0.0, -1, vis, pos.tolist(), orn))
    col, vis = _movable(client, spec.shape, size, rgba)
    pos[2] += half_extents(spec.shape, size)[2]
    body = int(client.createMultiBody(OBJECT_MASS, col, vis, pos.tolist(), orn))
    client.changeDynamics(body, -1, lateralFriction=1.0, spinningFriction=0.001, rollingFriction=0.001)
    return body
