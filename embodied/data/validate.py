"""Check a directory against the LeRobot v3.0 layout rules, and summarise what a dataset holds.

``validate_dataset(root)`` returns every ``Problem`` found (file, field, what is wrong); an empty list means
LeRobot's ``LeRobotDataset`` can load it, normalise it (including the ``QUANTILES`` modes) and append to it.
The rules, from LeRobot 0.6 (``lerobot/datasets``):

- ``meta/info.json``: ``codebase_version`` ``"v3.0"``, ``fps`` a positive integer, ``chunks_size`` and the file
  budgets positive, ``data_path`` (and ``video_path`` when a feature is a video) templates, ``features`` each with
  a known ``dtype`` and an integer ``shape``; the five index features (``DEFAULT_FEATURES``) present;
- data files: exactly one column per non-video feature (``get_hf_features_from_features``), ``index`` = 0..N-1,
  ``frame_index`` 0..len-1 within each episode, ``timestamp`` = ``frame_index / fps`` (within 1e-4 s), every
  ``task_index`` in ``meta/tasks.parquet``, totals equal to ``info.json``'s;
- episodes files: one column set shared by every file (LeRobot reads them as one table), the bookkeeping
  columns, ``dataset_from_index``/``dataset_to_index`` matching the data, ``videos/<key>/...`` for each video;
- ``meta/stats.json``: every numeric and camera feature with ``min``, ``max``, ``mean``, ``std``, ``count`` and
  the quantiles ``q01`` ... ``q99``, in LeRobot's shapes (``[C, 1, 1]`` for cameras).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embodied.data import layout as L
from embodied.data.arrow import column_to_numpy
from embodied.data.metadata import DatasetError, load_data, load_info, load_tasks
from embodied.data.stats import QUANTILE_KEYS, STAT_KEYS

NUMPY_DTYPES = {"bool", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16"}
KNOWN_DTYPES = NUMPY_DTYPES | {"image", "video", "string", "language"}
EPISODE_COLUMNS: tuple[str, ...] = (
    "episode_index",
    "tasks",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
    "meta/episodes/chunk_index",
    "meta/episodes/file_index",
)
VIDEO_COLUMNS = ("chunk_index", "file_index", "from_timestamp", "to_timestamp")


@dataclass(frozen=True)
class Problem:
    """One broken rule: the file (relative to the dataset root), the field, and what is wrong."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


def validate_dataset(root: str | Path) -> list[Problem]:
    """Every problem of the dataset at ``root``; ``DatasetError`` when ``meta/info.json`` is missing or unreadable."""
    root = Path(root)
    info = load_info(root)
    problems = _check_info(info)
    features: dict[str, Any] = info.get("features") if isinstance(info.get("features"), dict) else {}  # type: ignore[assignment]
    try:
        tasks = load_tasks(root)
        table = load_data(root)
    except (DatasetError, pa.ArrowException) as err:
        return [*problems, Problem("data", "files", str(err))]
    problems += _check_data(table, features, info, len(tasks))
    problems += _check_episodes(root, table, features, info)
    problems += _check_stats(root, features)
    return problems


def _check_info(info: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    for key in ("fps", "chunks_size", "data_files_size_in_mb", "total_episodes", "total_frames", "total_tasks"):
        value = info.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= (0 if key[:5] != "total" else -1):
            out.append(Problem(L.INFO_PATH, key, f"expected a positive number, got {value!r}"))
    if not isinstance(info.get("fps"), int):
        out.append(Problem(L.INFO_PATH, "fps", f"LeRobot needs an integer fps, got {info.get('fps')!r}"))
    if not isinstance(info.get("data_path"), str) or "{chunk_index" not in info.get("data_path", ""):
        out.append(Problem(L.INFO_PATH, "data_path", f"expected a template like {L.DATA_PATH!r}"))
    features = info.get("features")
    if not isinstance(features, dict):
        return [*out, Problem(L.INFO_PATH, "features", f"expected an object, got {type(features).__name__}")]
    for key, feature in features.items():
        dtype, shape = feature.get("dtype"), feature.get("shape")
        if dtype not in KNOWN_DTYPES:
            out.append(Problem(L.INFO_PATH, f"features.{key}.dtype", f"{dtype!r} is not one of {sorted(KNOWN_DTYPES)}"))
        if not isinstance(shape, list | tuple) or not all(isinstance(s, int) and s > 0 for s in shape):
            out.append(Problem(L.INFO_PATH, f"features.{key}.shape", f"expected positive integers, got {shape!r}"))
    for key, spec in L.INDEX_FEATURES.items():
        if features.get(key, {}).get("dtype") != spec["dtype"]:
            out.append(Problem(L.INFO_PATH, f"features.{key}", f"required index feature with dtype {spec['dtype']}"))
    if any(f.get("dtype") == "video" for f in features.values()) and not info.get("video_path"):
        out.append(Problem(L.INFO_PATH, "video_path", "features are videos but there is no video_path template"))
    return out


def _check_data(table: pa.Table, features: dict[str, Any], info: dict[str, Any], num_tasks: int) -> list[Problem]:
    out: list[Problem] = []
    expected = {k for k, f in features.items() if f.get("dtype") != "video"}
    columns = set(table.column_names)
    if columns != expected:
        missing, extra = sorted(expected - columns), sorted(columns - expected)
        out.append(Problem("data", "columns", f"missing {missing}, not in info.json features {extra}"))
    if missing_index := [c for c in L.INDEX_FEATURES if c not in columns]:
        return [*out, Problem("data", "columns", f"cannot check frames without {missing_index}")]
    col = {k: column_to_numpy(table.column(k), (1,), str(L.INDEX_FEATURES[k]["dtype"])) for k in L.INDEX_FEATURES}
    if not np.array_equal(col["index"], np.arange(table.num_rows)):
        out.append(Problem("data", "index", f"expected 0..{table.num_rows - 1} in order, without gaps"))
    starts = np.flatnonzero(np.diff(col["episode_index"], prepend=-1))
    frame_expected = np.arange(table.num_rows) - np.repeat(starts, np.diff(np.append(starts, table.num_rows)))
    if not np.array_equal(col["frame_index"], frame_expected):
        out.append(Problem("data", "frame_index", "expected 0..length-1 within each episode"))
    fps = info.get("fps") or 1
    if np.abs(col["timestamp"].astype(np.float64) - col["frame_index"] / fps).max(initial=0) > 1e-4:
        out.append(Problem("data", "timestamp", f"expected frame_index / fps (fps {fps}) within 1e-4 s"))
    if table.num_rows and (col["task_index"].min() < 0 or col["task_index"].max() >= num_tasks):
        out.append(Problem("data", "task_index", f"values outside the {num_tasks} tasks of {L.TASKS_PATH}"))
    if info.get("total_frames") != table.num_rows:
        out.append(
            Problem(L.INFO_PATH, "total_frames", f"{info.get('total_frames')} but the data holds {table.num_rows}")
        )
    episodes = len(np.unique(col["episode_index"]))
    if info.get("total_episodes") != episodes:
        out.append(Problem(L.INFO_PATH, "total_episodes", f"{info.get('total_episodes')} but the data has {episodes}"))
    return out


def _check_episodes(root: Path, table: pa.Table, features: dict[str, Any], info: dict[str, Any]) -> list[Problem]:
    paths = sorted((root / L.EPISODES_DIR).glob("*/*.parquet"))
    if not paths:
        return [Problem(L.EPISODES_DIR, "files", "no chunk-*/file-*.parquet")]
    out: list[Problem] = []
    schemas = {p.relative_to(root).as_posix(): set(pq.read_schema(p).names) for p in paths}
    first, reference = next(iter(schemas.items()))
    for name, names in schemas.items():
        if names != reference:
            diff = sorted(names ^ reference)[:5]
            out.append(Problem(name, "columns", f"differ from {first}'s ({diff}...); LeRobot loads them as one table"))
    required = [*EPISODE_COLUMNS]
    required += [f"videos/{k}/{c}" for k, f in features.items() if f.get("dtype") == "video" for c in VIDEO_COLUMNS]
    for name, names in schemas.items():
        if lacking := [c for c in required if c not in names]:
            out.append(Problem(name, "columns", f"lacks {lacking}"))
    rows = _episode_rows(paths)
    rows.sort(key=lambda r: r.get("episode_index", -1))
    if [r.get("episode_index") for r in rows] != list(range(len(rows))):
        out.append(Problem(L.EPISODES_DIR, "episode_index", "expected 0..E-1, one row each"))
    position = 0
    for r in rows:
        span = (r.get("dataset_from_index"), r.get("dataset_to_index"))
        if span != (position, position + (r.get("length") or 0)):
            out.append(
                Problem(L.EPISODES_DIR, f"episode {r.get('episode_index')}", f"spans {span}, length {r.get('length')}")
            )
        position = span[1] if isinstance(span[1], int) else position
    if position != table.num_rows:
        out.append(
            Problem(L.EPISODES_DIR, "dataset_to_index", f"episodes cover {position} frames, the data {table.num_rows}")
        )
    if len(rows) != info.get("total_episodes"):
        out.append(Problem(L.INFO_PATH, "total_episodes", f"{info.get('total_episodes')} but {len(rows)} episode rows"))
    return out


def _episode_rows(paths: list[Path]) -> list[dict[str, Any]]:
    """The bookkeeping columns of every episodes file, as rows."""
    wanted = ("episode_index", "length", "dataset_from_index", "dataset_to_index")
    rows: list[dict[str, Any]] = []
    for path in paths:
        names = pq.read_schema(path).names
        rows += pq.read_table(path, columns=[c for c in wanted if c in names]).to_pylist()
    return rows


def _check_stats(root: Path, features: dict[str, Any]) -> list[Problem]:
    path = root / L.STATS_PATH
    if not path.is_file():
        return [Problem(L.STATS_PATH, "file", "missing: LeRobot's normalisers need it")]
    try:
        stats = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return [Problem(L.STATS_PATH, "file", f"not valid JSON ({err})")]
    out: list[Problem] = []
    for key, feature in features.items():
        if feature.get("dtype") in ("string", "language"):
            continue
        if key not in stats:
            out.append(Problem(L.STATS_PATH, key, "no statistics"))
            continue
        if missing := [s for s in STAT_KEYS if s not in stats[key]]:
            hint = " (LeRobot's QUANTILES normalisation needs q01 and q99)" if set(missing) & set(QUANTILE_KEYS) else ""
            out.append(Problem(L.STATS_PATH, key, f"lacks {missing}{hint}"))
        out += _stat_shapes(key, feature, stats[key])
    return out


def _stat_shapes(key: str, feature: dict[str, Any], stats: dict[str, Any]) -> list[Problem]:
    """LeRobot's shapes: cameras ``[C, 1, 1]``, numeric ``[shape[-1]]``, ``count`` ``[1]``."""
    shape = feature.get("shape") or [1]
    camera = feature.get("dtype") in ("image", "video")
    want = (1 if L.is_depth_feature(feature) else shape[-1], 1, 1) if camera else (shape[-1],)
    out = []
    for name, value in stats.items():
        got = np.shape(value)
        expected = (1,) if name == "count" else want
        if got != expected:
            out.append(Problem(L.STATS_PATH, f"{key}.{name}", f"shape {list(got)}, LeRobot expects {list(expected)}"))
    return out


def describe_dataset(root: str | Path) -> dict[str, Any]:
    """What a dataset holds: totals, tasks, and each feature's dtype, shape and storage."""
    root = Path(root)
    info = load_info(root)
    tasks = load_tasks(root)
    features = {}
    for key, f in info["features"].items():
        extra = f.get("info") or {}
        storage = "video" if f["dtype"] == "video" else "inline" if f["dtype"] == "image" else "column"
        if L.is_depth_feature(f):
            storage += f", depth in {extra.get('depth_unit', '?')}"
        elif f["dtype"] == "video":
            storage += f" {extra.get('video.codec', '?')}"
        features[key] = {"dtype": f["dtype"], "shape": list(f["shape"]), "storage": storage}
    stats = json.loads((root / L.STATS_PATH).read_text()) if (root / L.STATS_PATH).is_file() else {}
    return {
        "root": str(root),
        "codebase_version": info.get("codebase_version"),
        "robot_type": info.get("robot_type"),
        "fps": info.get("fps"),
        "episodes": info.get("total_episodes"),
        "frames": info.get("total_frames"),
        "tasks": tasks,
        "features": features,
        "quantile_stats": bool(stats) and all(set(QUANTILE_KEYS) <= set(v) for v in stats.values()),
        "embodied_extras": (root / L.EXTRAS_PATH).is_file(),
    }
