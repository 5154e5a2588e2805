"""Control modes, their action spaces and the normalisation constants that map [-1, 1] to metres.

``ee_delta`` — ``Box(-1, 1, (4,))`` = ``[dx, dy, dz, gripper]`` at 10 Hz (``CONTROL_DT`` = 0.1 s, i.e.
``SUBSTEPS`` = 24 physics steps of 1/240 s). The end-effector target is the *measured* end-effector position
plus ``EE_DELTA_MAX`` × ``[dx, dy, dz]`` (so ±1 is ±5 cm per step), clipped to ``EE_BOUNDS``; the hand points
down with a fixed yaw of 0. ``gripper > 0`` closes the gripper (grasping an object both fingers touch),
``gripper <= 0`` opens it (releasing what is held).

``primitive`` — ``Box(-1, 1, (7,))`` = ``[pick_x, pick_y, pick_z, place_x, place_y, place_z, yaw]``, one motion
primitive per step (see ``primitives``). Each coordinate maps affinely from [-1, 1] onto ``PRIMITIVE_RANGES``:
x ∈ [0.25, 0.75] m, y ∈ [-0.35, 0.35] m (robot base at the origin), z ∈ [0, 0.2] m *above the table top*
(the end-effector height: grasp height for pick, release height for place), yaw ∈ [-π/2, π/2] rad (the
hand's rotation about the vertical; the fingers close along the hand's y axis). In push tasks the two points
are the start and end of a straight push stroke instead; in touch tasks only the first point is used (the
closed hand touches down there).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

CONTROL_MODES: tuple[str, ...] = ("primitive", "ee_delta")
CONTROL_DT = 0.1
SUBSTEPS = 24  # physics steps per ee_delta control step (CONTROL_DT / PHYSICS_DT)
EE_DELTA_MAX = 0.05  # metres per control step at |action| = 1
EE_BOUNDS = ((0.2, 0.8), (-0.4, 0.4), (0.005, 0.4))  # metres; z relative to the table top
PRIMITIVE_RANGES = np.array(
    [[0.25, 0.75], [-0.35, 0.35], [0.0, 0.2], [0.25, 0.75], [-0.35, 0.35], [0.0, 0.2], [-np.pi / 2, np.pi / 2]]
)


def action_space(control: str) -> spaces.Box:
    if control == "ee_delta":
        return spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)
    if control == "primitive":
        return spaces.Box(-1.0, 1.0, (len(PRIMITIVE_RANGES),), dtype=np.float32)
    raise ValueError(f"control must be one of {CONTROL_MODES}, got {control!r}")


def decode_primitive(action: np.ndarray) -> np.ndarray:
    """[-1, 1]^7 → physical ``[pick xyz, place xyz, yaw]`` (z above the table top)."""
    a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    lo, hi = PRIMITIVE_RANGES[:, 0], PRIMITIVE_RANGES[:, 1]
    return lo + (a + 1.0) / 2.0 * (hi - lo)


def encode_primitive(physical: np.ndarray) -> np.ndarray:
    """Inverse of ``decode_primitive`` (clipped to [-1, 1]), float32 — what experts return."""
    lo, hi = PRIMITIVE_RANGES[:, 0], PRIMITIVE_RANGES[:, 1]
    a = 2.0 * (np.asarray(physical, dtype=np.float64) - lo) / (hi - lo) - 1.0
    return np.clip(a, -1.0, 1.0).astype(np.float32)


def ee_target(ee_position: np.ndarray, action: np.ndarray, table_height: float) -> np.ndarray:
    """The clipped end-effector target [3] of an ``ee_delta`` action."""
    a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    target = np.asarray(ee_position, dtype=np.float64) + EE_DELTA_MAX * a[:3]
    lo = np.array([EE_BOUNDS[0][0], EE_BOUNDS[1][0], table_height + EE_BOUNDS[2][0]])
    hi = np.array([EE_BOUNDS[0][1], EE_BOUNDS[1][1], table_height + EE_BOUNDS[2][1]])
    return np.clip(target, lo, hi)
