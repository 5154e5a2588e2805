"""Physical predicates read from the simulator: where an item is, in symbolic terms.

* ``inside(scene, obj, rec)`` — bowl: the object's centre lies over the bowl's inner floor (x and y) and its
  AABB bottom is below the rim top; zone: the centre lies over the zone and the object rests on the table
  (bottom within ``REST_TOL`` of the table top). Never true while the object is held.
* ``on_top(scene, a, b)`` — a's centre lies inside b's AABB in x and y and a's bottom is within ``REST_TOL``
  of b's top; never true while a is held.
* ``location(scene, obj)`` — ``"held"``, the name of the receptacle it is inside or the object it rests on,
  ``"table"``, or ``"off"`` (fell off the table).
"""

from __future__ import annotations

from embodied.envs.tabletop.objects import RIM_THICKNESS, ObjectInfo
from embodied.envs.tabletop.scene import TabletopScene

REST_TOL = 0.012  # metres


def inside(scene: TabletopScene, obj: ObjectInfo, rec: ObjectInfo) -> bool:
    held = scene.held
    if held is not None and held.name == obj.name:
        return False
    centre = scene.position(obj)
    rlo, rhi = scene.aabb(rec)
    pad = RIM_THICKNESS if rec.shape == "bowl" else 0.0
    if not (rlo[0] + pad < centre[0] < rhi[0] - pad and rlo[1] + pad < centre[1] < rhi[1] - pad):
        return False
    bottom = scene.aabb(obj)[0][2]
    if rec.shape == "bowl":
        return bool(bottom < rhi[2])
    return bool(bottom < scene.table_height + REST_TOL)


def on_top(scene: TabletopScene, a: ObjectInfo, b: ObjectInfo) -> bool:
    held = scene.held
    if held is not None and held.name == a.name:
        return False
    centre = scene.position(a)
    blo, bhi = scene.aabb(b)
    if not (blo[0] < centre[0] < bhi[0] and blo[1] < centre[1] < bhi[1]):
        return False
    return bool(abs(scene.aabb(a)[0][2] - bhi[2]) < REST_TOL)


def location(scene: TabletopScene, obj: ObjectInfo) -> str:
    held = scene.held
    if held is not None and held.name == obj.name:
        return "held"
    for rec in scene.receptacles:
        if inside(scene, obj, rec):
            return rec.name
    for other in scene.movable:
        if other.name != obj.name and on_top(scene, obj, other):
            return other.name
    if scene.position(obj)[2] < scene.table_height - 0.05:
        return "off"
    return "table"
