"""Write episodes as a LeRobot v3.0 dataset (parquet + ``meta/``), images inline as PNG structs.

The dataset is built in a staging directory next to ``root`` and renamed into place at the end, so a crash
never leaves a half-written dataset that looks complete. Layout and column names: ``embodied.data.layout``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embodied.data import layout as L
from embodied.data.arrow import tensor_column
from embodied.data.episode import Episode
from embodied.data.images import encode_png
from embodied.data.stats import StatsDict, feature_stats

IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
VQA_STRUCT = pa.struct([("question", pa.string()), ("answer", pa.string()), ("qtype", pa.string())])
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


def write_dataset(
    episodes: Sequence[Episode],
    root: str | Path,
    fps: int,
    *,
    robot_type: str | None = None,
    names: Mapping[str, Sequence[str]] | None = None,
    overwrite: bool = False,
    data_file_mb: float = L.DEFAULT_DATA_FILE_MB,
    chunks_size: int = L.DEFAULT_CHUNKS_SIZE,
) -> Path:
    """Write ``episodes`` under ``root`` in the LeRobot v3.0 layout and return ``root``.

    ``names`` optionally names the dimensions of a feature (``{"action": ["x", "y", ...]}``) in ``info.json``.
    Every episode must share the first one's cameras and array shapes.
    """
    root = Path(root)
    episodes = list(episodes)
    if not episodes:
        raise ValueError("write_dataset needs at least one episode")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if root.exists() and not overwrite:
        raise FileExistsError(f"{root} already exists; pass overwrite=True to replace it")
    features = _features(episodes, dict(names or {}))
    tasks = list(dict.fromkeys(ep.task for ep in episodes))  # first-appearance order → task_index
    staging = root.parent / f".{root.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        episode_rows = _write_data(episodes, staging, fps, tasks, data_file_mb, chunks_size)
        _write_parquet(_episodes_table(episode_rows), staging / L.EPISODES_PATH.format(chunk_index=0, file_index=0))
        _write_tasks(tasks, staging / L.TASKS_PATH)
        _write_json(_global_stats(episodes, fps, tasks), staging / L.STATS_PATH)
        totals = {"total_episodes": len(episodes), "total_frames": sum(map(len, episodes)), "total_tasks": len(tasks)}
        layout = {"chunks_size": chunks_size, "data_files_size_in_mb": data_file_mb}
        _write_json(_info(features, fps, robot_type, totals, layout), staging / L.INFO_PATH)
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root


def _features(episodes: list[Episode], names: dict[str, Sequence[str]]) -> dict[str, dict[str, Any]]:
    """``info.json`` features of the first episode, after checking every episode has the same schema."""
    first = episodes[0]
    features: dict[str, dict[str, Any]] = {}
    for cam, frames in first.images.items():
        features[L.image_key(cam)] = {
            "dtype": "image",
            "shape": list(frames.shape[1:]),
            "names": ["height", "width", "channels"],
        }
    for cam, frames in first.depth.items():
        features[L.depth_key(cam)] = {"dtype": "float32", "shape": list(frames.shape[1:]), "names": ["height", "width"]}
    features[L.STATE] = {"dtype": "float32", "shape": [first.state.shape[1]], "names": None}
    features[L.ACTION] = {"dtype": "float32", "shape": [first.actions.shape[1]], "names": None}
    if first.points is not None:
        features[L.POINTS] = {"dtype": "float32", "shape": list(first.points.shape[1:]), "names": ["argument", "uv"]}
    features[L.REWARD] = {"dtype": "float32", "shape": [1], "names": None}
    features[L.DONE] = {"dtype": "bool", "shape": [1], "names": None}
    features.update({k: dict(v) for k, v in L.INDEX_FEATURES.items()})
    for key, dim_names in names.items():
        if key not in features:
            raise ValueError(f"names given for unknown feature {key!r}; features are {sorted(features)}")
        features[key]["names"] = list(dim_names)
    reference = _schema(first)
    for i, ep in enumerate(episodes[1:], start=1):
        if _schema(ep) != reference:
            raise ValueError(f"episode {i} has schema {_schema(ep)} but episode 0 has {reference}; all must match")
    return features


def _schema(ep: Episode) -> dict[str, tuple[int, ...]]:
    """Per-frame shapes of an episode's arrays, to compare episodes."""
    shapes = {L.image_key(c): v.shape[1:] for c, v in ep.images.items()}
    shapes |= {L.depth_key(c): v.shape[1:] for c, v in ep.depth.items()}
    shapes |= {L.POINTS: ep.points.shape[1:]} if ep.points is not None else {}
    return shapes | {L.STATE: ep.state.shape[1:], L.ACTION: ep.actions.shape[1:]}


def _frame_arrays(ep: Episode, episode_index: int, start: int, task_index: int, fps: int) -> dict[str, np.ndarray]:
    """Every numeric per-frame column of one episode, keyed by feature name (images excluded)."""
    length = len(ep)
    assert ep.rewards is not None and ep.dones is not None  # filled in by Episode.__post_init__
    arrays = {L.depth_key(c): v for c, v in ep.depth.items()}
    arrays |= {L.STATE: ep.state, L.ACTION: ep.actions, L.REWARD: ep.rewards, L.DONE: ep.dones}
    arrays |= {L.POINTS: ep.points} if ep.points is not None else {}
    return arrays | {
        "timestamp": (np.arange(length) / fps).astype(np.float32),
        "frame_index": np.arange(length, dtype=np.int64),
        "episode_index": np.full(length, episode_index, np.int64),
        "index": np.arange(start, start + length, dtype=np.int64),
        "task_index": np.full(length, task_index, np.int64),
    }


def _episode_table(ep: Episode, arrays: dict[str, np.ndarray]) -> pa.Table:
    """One episode's rows of the data parquet: image structs first, then the numeric columns."""
    columns: dict[str, pa.Array] = {}
    for cam, frames in ep.images.items():
        cells = [{"bytes": encode_png(frame), "path": None} for frame in frames]
        columns[L.image_key(cam)] = pa.array(cells, type=IMAGE_STRUCT)
    columns |= {key: tensor_column(values) for key, values in arrays.items()}
    return pa.table(columns)


def _write_data(
    episodes: list[Episode], root: Path, fps: int, tasks: list[str], data_file_mb: float, chunks_size: int
) -> list[dict[str, Any]]:
    """Write the data parquet files (episodes never straddle files) and return one metadata row per episode."""
    rows: list[dict[str, Any]] = []
    pending: list[pa.Table] = []
    chunk_index = file_index = start = 0
    for episode_index, ep in enumerate(episodes):
        if pending and sum(t.nbytes for t in pending) >= data_file_mb * 2**20:
            _write_parquet(
                pa.concat_tables(pending), root / L.DATA_PATH.format(chunk_index=chunk_index, file_index=file_index)
            )
            pending = []
            chunk_index, file_index = (
                (chunk_index + 1, 0) if file_index + 1 == chunks_size else (chunk_index, file_index + 1)
            )
        arrays = _frame_arrays(ep, episode_index, start, tasks.index(ep.task), fps)
        pending.append(_episode_table(ep, arrays))
        rows.append(_episode_row(ep, episode_index, start, chunk_index, file_index, arrays))
        start += len(ep)
    _write_parquet(pa.concat_tables(pending), root / L.DATA_PATH.format(chunk_index=chunk_index, file_index=file_index))
    return rows


def _episode_row(
    ep: Episode, episode_index: int, start: int, chunk_index: int, file_index: int, arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    """The episodes-parquet row: LeRobot's bookkeeping, per-episode stats, then the ``embodied/`` extras."""
    row: dict[str, Any] = {
        "episode_index": episode_index,
        "tasks": [ep.task],
        "length": len(ep),
        "data/chunk_index": chunk_index,
        "data/file_index": file_index,
        "dataset_from_index": start,
        "dataset_to_index": start + len(ep),
        "meta/episodes/chunk_index": 0,
        "meta/episodes/file_index": 0,
    }
    stats = {L.image_key(c): feature_stats(v, image=True) for c, v in ep.images.items()}
    stats |= {key: feature_stats(values) for key, values in arrays.items()}
    for key, feature in stats.items():
        row |= {f"stats/{key}/{name}": value for name, value in feature.items()}
    extras: dict[str, Any] = {
        "env_id": ep.env_id,
        "seed": ep.seed,
        "success": ep.success,
        "plan": ep.plan,
        "vqa": [{"question": p.question, "answer": p.answer, "qtype": p.qtype} for p in ep.vqa],
        "captions": list(ep.captions),
        "point_camera": ep.point_camera,
    }
    return row | {L.EXTRAS_PREFIX + k: v for k, v in extras.items()}


def _episodes_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The episodes parquet, with the ``embodied/`` extras typed explicitly."""
    table = pa.Table.from_pylist(rows)
    for name, kind in EXTRA_TYPES.items():
        key = L.EXTRAS_PREFIX + name
        table = table.set_column(table.schema.get_field_index(key), key, pa.array([r[key] for r in rows], kind))
    return table


def _global_stats(episodes: list[Episode], fps: int, tasks: list[str]) -> dict[str, StatsDict]:
    """``stats.json``: statistics of every feature over all frames of the dataset."""
    stats = {
        L.image_key(c): feature_stats(np.concatenate([ep.images[c] for ep in episodes]), image=True)
        for c in episodes[0].images
    }
    per_episode: list[dict[str, np.ndarray]] = []
    start = 0
    for i, ep in enumerate(episodes):
        per_episode.append(_frame_arrays(ep, i, start, tasks.index(ep.task), fps))
        start += len(ep)
    for key in per_episode[0]:
        stats[key] = feature_stats(np.concatenate([arrays[key] for arrays in per_episode]))
    return stats


def _write_tasks(tasks: list[str], path: Path) -> None:
    """``tasks.parquet`` as pandas writes a frame indexed by task text, so ``pd.read_parquet`` (LeRobot) works."""
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
    }
    table = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks, pa.string())})
    _write_parquet(table.replace_schema_metadata({"pandas": json.dumps(pandas_meta)}), path)


def _info(
    features: dict[str, dict[str, Any]],
    fps: int,
    robot_type: str | None,
    totals: dict[str, int],
    layout: dict[str, float],
) -> dict[str, Any]:
    """``info.json`` with the keys LeRobot writes, in its order (no videos: images are inline)."""
    return {
        "codebase_version": L.CODEBASE_VERSION,
        "robot_type": robot_type,
        **totals,
        **layout,
        "fps": fps,
        "splits": {"train": f"0:{totals['total_episodes']}"},
        "data_path": L.DATA_PATH,
        "video_path": None,
        "features": features,
    }


def _write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _write_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
