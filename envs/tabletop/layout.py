"""Random layouts: which items a scene holds (``sample_specs``) and where they stand (``place_items``).

Every draw comes from the ``np.random.Generator`` passed in, so a layout is a pure function of the seed.
Items are placed by rejection sampling inside ``WORKSPACE`` (the part of the table the Panda reaches with its
hand pointing down) with footprints kept ``MARGIN`` apart; receptacles are placed first (they are largest) and
never rotated, so their AABB equals their footprint; movable objects get a uniform yaw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embodied.envs.tabletop.objects import (
    COLOURS,
    RECEPTACLES,
    SHAPES,
    SIZE_RANGES,
    ObjectSpec,
    footprint_radius,
    half_extents,
)

WORKSPACE = ((0.3, 0.7), (-0.3, 0.3))  # ((x_min, x_max), (y_min, y_max)) in metres, robot base at origin
MARGIN = 0.03  # metres between footprints
MAX_TRIES = 2000


def sample_specs(
    rng: np.random.Generator,
    n_objects: int = 4,
    n_receptacles: int = 1,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> list[ObjectSpec]:
    """A random scene: ``n_objects`` distinct colour–shape pairs (drawn from ``pairs`` if given) and
    ``n_receptacles`` receptacles of distinct names."""
    pool = list(pairs) if pairs is not None else [(c, s) for c in COLOURS for s in SHAPES]
    picks = rng.choice(len(pool), size=n_objects, replace=False)
    specs = [ObjectSpec(*pool[int(i)]) for i in picks]
    rec_pool = [(c, r) for c in COLOURS for r in RECEPTACLES]
    for i in rng.choice(len(rec_pool), size=n_receptacles, replace=False):
        specs.append(ObjectSpec(*rec_pool[int(i)]))
    return specs


def draw_size(rng: np.random.Generator, spec: ObjectSpec) -> float:
    if spec.size is not None:
        return float(spec.size)
    lo, hi = SIZE_RANGES[spec.shape]
    return float(rng.uniform(lo, hi))


def _half_size(spec: ObjectSpec, size: float) -> float:
    """Half side of the axis-aligned square that bounds the item's footprint at any yaw it may get."""
    if spec.kind == "receptacle":  # never rotated
        return float(half_extents(spec.shape, size)[:2].max())
    return footprint_radius(spec.shape, size)


def place_items(
    rng: np.random.Generator, specs: Sequence[ObjectSpec], sizes: Sequence[float]
) -> list[tuple[np.ndarray, float]]:
    """Table-plane ``(xy [2], yaw)`` for every spec, in the order given; raises if no layout fits.

    Footprints are bounding squares kept ``MARGIN`` apart along x or y. Receptacles keep their whole footprint
    inside ``WORKSPACE``; objects keep their centre inside it.
    """
    order = sorted(range(len(specs)), key=lambda i: specs[i].kind != "receptacle")
    placed: list[tuple[np.ndarray, float]] = []
    out: dict[int, tuple[np.ndarray, float]] = {}
    (x0, x1), (y0, y1) = WORKSPACE
    for i in order:
        half = _half_size(specs[i], sizes[i])
        pad = half if specs[i].kind == "receptacle" else 0.0
        for _ in range(MAX_TRIES):
            xy = np.array([rng.uniform(x0 + pad, x1 - pad), rng.uniform(y0 + pad, y1 - pad)])
            if all(np.abs(xy - p).max() > half + h + MARGIN for p, h in placed):
                break
        else:
            raise RuntimeError(f"could not place {specs[i].name} after {MAX_TRIES} tries; too many items")
        yaw = 0.0 if specs[i].kind == "receptacle" else float(rng.uniform(-np.pi, np.pi))
        placed.append((xy, half))
        out[i] = (xy, yaw)
    return [out[i] for i in range(len(specs))]
