"""Our per-episode extras (env id, seed, success, plan, VQA pairs, captions, pointing camera), kept apart from
LeRobot's episodes parquet in ``meta/embodied/episodes.parquet`` (why: ``embodied.data.layout``).

Episodes without a row (e.g. appended later by LeRobot) get the defaults: empty text, no seed, no success, no
plan, no VQA pairs or captions; their ``action.points`` (LeRobot makes every feature mandatory) are taken to be in
the dataset's one pointing camera, and dropped when its episodes name none or several (``LeRobotDataset.episode``).
Datasets written before this file existed carry the extras as ``embodied/<field>`` columns of
``meta/episodes/*/*.parquet``; ``read_extras`` falls back to those.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from embodied.data import layout as L
from embodied.data.episode import Episode, VQAPair

VQA_STRUCT = pa.struct(
    [
        ("question", pa.string()),
        ("answer", pa.string()),
        ("qtype", pa.string()),
        ("points", pa.list_(pa.list_(pa.float32(), 2))),  # null: not recorded (see VQAPair.points)
    ]
)
# Explicit types: inference would give all-None seeds or all-empty VQA lists a null type that readers trip on.
EXTRA_TYPES = {
    "env_id": pa.string(),
    "seed": pa.int64(),
    "success": pa.bool_(),
    "plan": pa.string(),
    "vqa": pa.list_(VQA_STRUCT),
    "captions": pa.list_(pa.string()),
    "point_camera": pa.string(),
}


def extras_table(episodes: Sequence[Episode]) -> pa.Table:
    """One row per episode: ``episode_index`` and every extra, explicitly typed."""
    columns: dict[str, pa.Array] = {"episode_index": pa.array(range(len(episodes)), pa.int64())}
    values: dict[str, list[Any]] = {
        "env_id": [ep.env_id for ep in episodes],
        "seed": [ep.seed for ep in episodes],
        "success": [ep.success for ep in episodes],
        "plan": [ep.plan for ep in episodes],
        "vqa": [[_vqa_row(p) for p in ep.vqa] for ep in episodes],
        "captions": [list(ep.captions) for ep in episodes],
        "point_camera": [ep.point_camera for ep in episodes],
    }
    columns |= {name: pa.array(values[name], kind) for name, kind in EXTRA_TYPES.items()}
    return pa.table(columns)


def _vqa_row(pair: VQAPair) -> dict[str, Any]:
    points = None if pair.points is None else [list(p) for p in pair.points]
    return {"question": pair.question, "answer": pair.answer, "qtype": pair.qtype, "points": points}


def read_extras(root: Path, episode_meta: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Extras by episode index, from ``EXTRAS_PATH`` or else the legacy ``embodied/*`` episodes columns."""
    path = root / L.EXTRAS_PATH
    if path.is_file():
        rows = pq.read_table(path).to_pylist()
        return {int(r["episode_index"]): {k: r[k] for k in L.EXTRA_COLUMNS if k in r} for r in rows}
    return {
        e: {k: row[L.EXTRAS_PREFIX + k] for k in L.EXTRA_COLUMNS if L.EXTRAS_PREFIX + k in row}
        for e, row in episode_meta.items()
    }


def with_defaults(extras: dict[str, Any]) -> dict[str, Any]:
    """``extras`` with absent or null fields replaced by ``Episode``'s defaults."""
    out = dict(extras)
    out["vqa"] = out.get("vqa") or []
    out["captions"] = out.get("captions") or []
    for name in ("env_id", "point_camera"):
        if out.get(name) is None:
            out[name] = ""
    if out.get("success") is None:
        out["success"] = False
    return out
