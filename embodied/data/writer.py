"""Write episodes as a LeRobot v3.0 dataset (parquet + ``meta/``), images inline as PNG structs by default.

``video=True`` stores the RGB cameras as MP4 video features instead (PyAV, LeRobot's encoder defaults; see
``embodied.data.video``); depth stays inline (float TIFF, lossless). Every column matches the schema LeRobot's
own recorder writes (``lerobot/datasets/dataset_writer.py``, ``dataset_metadata.py``), so LeRobot can append
episodes to our datasets and still load them; our extras go to ``meta/embodied/episodes.parquet``.

The dataset is built in a staging directory next to ``root`` and renamed into place at the end, so a crash
never leaves a half-written dataset that looks complete. Layout and column names: ``embodied.data.layout``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embodied.data import layout as L
from embodied.data.arrow import tensor_column
from embodied.data.episode import Episode
from embodied.data.extras import extras_table
from embodied.data.features import episode_features, hf_schema_metadata
from embodied.data.images import encode_depth, encode_pngs
from embodied.data.stats import StatsDict, depth_stats, features_stats, image_stats, pixel_counts
from embodied.data.video import DEFAULT_CODEC, VideoFeatureWriter, probe_info, require_av

IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


@dataclass(frozen=True)
class Storage:
    """Where frames go: data-file budget, files per chunk, and whether RGB cameras are videos."""

    data_file_mb: float = L.DEFAULT_DATA_FILE_MB
    chunks_size: int = L.DEFAULT_CHUNKS_SIZE
    video: bool = False
    video_codec: str = DEFAULT_CODEC
    video_file_mb: float = L.DEFAULT_VIDEO_FILE_MB


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
    video: bool = False,
    video_codec: str = DEFAULT_CODEC,
    video_file_mb: float = L.DEFAULT_VIDEO_FILE_MB,
) -> Path:
    """Write ``episodes`` under ``root`` in the LeRobot v3.0 layout and return ``root``.

    ``names`` optionally names the dimensions of a feature (``{"action": ["x", "y", ...]}``) in ``info.json``.
    Every episode must share the first one's cameras and array shapes. ``video=True`` encodes the RGB cameras
    as MP4 (``video_codec``, e.g. ``libsvtav1`` as LeRobot or the faster ``libx264``) and needs PyAV.
    """
    root = Path(root)
    episodes = list(episodes)
    if not episodes:
        raise ValueError("write_dataset needs at least one episode")
    if fps <= 0 or int(fps) != fps:
        raise ValueError(f"fps must be a positive integer (LeRobot's info.json fps is an int), got {fps}")
    if root.exists() and not overwrite:
        raise FileExistsError(f"{root} already exists; pass overwrite=True to replace it")
    if video:
        require_av("write_dataset(video=True)")
    storage = Storage(data_file_mb, chunks_size, video, video_codec, video_file_mb)
    features = episode_features(episodes, dict(names or {}), video)
    tasks = list(dict.fromkeys(t for ep in episodes for t in ep.tasks))  # first-appearance order → task_index
    staging = root.parent / f".{root.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        rows, pixels = _write_frames(episodes, staging, int(fps), tasks, storage, features)
        _write_parquet(_episodes_table(rows), staging / L.EPISODES_PATH.format(chunk_index=0, file_index=0))
        _write_parquet(extras_table(episodes), staging / L.EXTRAS_PATH)
        _write_tasks(tasks, staging / L.TASKS_PATH)
        _write_json(_global_stats(episodes, int(fps), tasks, pixels), staging / L.STATS_PATH)
        totals = {"total_episodes": len(episodes), "total_frames": sum(map(len, episodes)), "total_tasks": len(tasks)}
        _write_json(_info(features, int(fps), robot_type, totals, storage), staging / L.INFO_PATH)
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root


def _frame_arrays(ep: Episode, episode_index: int, start: int, tasks: list[str], fps: int) -> dict[str, np.ndarray]:
    """Every numeric per-frame column of one episode, keyed by feature name (images and depth excluded)."""
    length = len(ep)
    assert ep.rewards is not None and ep.dones is not None  # filled in by Episode.__post_init__
    arrays = {L.STATE: ep.state} if ep.state.shape[1] else {}  # S = 0: no state column (see episode_features)
    actions = ep.actions[:, 0].astype(np.int64) if ep.action_space is not None else ep.actions  # indices [T]
    arrays |= {L.ACTION: actions, L.REWARD: ep.rewards, L.DONE: ep.dones}
    arrays |= {L.POINTS: ep.points} if ep.points is not None else {}
    task_index = {task: i for i, task in enumerate(tasks)}
    return arrays | {
        "timestamp": (np.arange(length) / fps).astype(np.float32),
        "frame_index": np.arange(length, dtype=np.int64),
        "episode_index": np.full(length, episode_index, np.int64),
        "index": np.arange(start, start + length, dtype=np.int64),
        "task_index": np.array([task_index[ep.task_at(t)] for t in range(length)], np.int64),
    }


def _episode_table(ep: Episode, arrays: dict[str, np.ndarray], video: bool) -> pa.Table:
    """One episode's rows of the data parquet: image structs (unless videos), depth structs, numeric columns."""
    columns: dict[str, pa.Array] = {}
    for cam, frames in ep.images.items() if not video else ():
        columns[L.image_key(cam)] = pa.array([{"bytes": b, "path": None} for b in encode_pngs(frames)], IMAGE_STRUCT)
    for cam, frames in ep.depth.items():
        columns[L.depth_key(cam)] = pa.array([{"bytes": encode_depth(f), "path": None} for f in frames], IMAGE_STRUCT)
    columns |= {key: tensor_column(values) for key, values in arrays.items()}
    return pa.table(columns)


def _write_frames(
    episodes: list[Episode], root: Path, fps: int, tasks: list[str], storage: Storage, features: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Write the data parquet files (episodes never straddle files) and videos; one metadata row per episode,
    and each camera's pixel counts over the whole dataset."""
    cameras = list(episodes[0].images) if storage.video else []
    videos = {
        cam: VideoFeatureWriter(
            root, L.image_key(cam), fps, storage.video_codec, storage.video_file_mb, storage.chunks_size
        )
        for cam in cameras
    }
    hf_metadata = hf_schema_metadata(features)
    rows: list[dict[str, Any]] = []
    pixels: dict[str, np.ndarray] = {}  # camera → pixel counts over every episode so far, for stats.json
    pending: list[pa.Table] = []
    chunk_index = file_index = start = pending_bytes = 0
    try:
        for episode_index, ep in enumerate(episodes):
            if pending and pending_bytes >= storage.data_file_mb * 2**20:
                path = root / L.DATA_PATH.format(chunk_index=chunk_index, file_index=file_index)
                _write_parquet(pa.concat_tables(pending), path, hf_metadata)
                pending, pending_bytes = [], 0
                last = file_index + 1 == storage.chunks_size
                chunk_index, file_index = (chunk_index + 1, 0) if last else (chunk_index, file_index + 1)
            arrays = _frame_arrays(ep, episode_index, start, tasks, fps)
            pending.append(_episode_table(ep, arrays, storage.video))
            pending_bytes += pending[-1].nbytes
            row = _episode_row(ep, episode_index, start, chunk_index, file_index)
            for cam, writer in videos.items():
                row |= writer.write(ep.images[cam])
            counts = {cam: pixel_counts(frames) for cam, frames in ep.images.items()}
            for cam, c in counts.items():
                pixels[cam] = pixels[cam] + c if cam in pixels else c
            rows.append(
                row
                | _stats_columns(ep, arrays, counts)
                | {"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0}
            )
            start += len(ep)
    finally:
        for writer in videos.values():
            writer.close()
    path = root / L.DATA_PATH.format(chunk_index=chunk_index, file_index=file_index)
    _write_parquet(pa.concat_tables(pending), path, hf_metadata)
    for cam, writer in videos.items():
        assert writer.first_path is not None
        features[L.image_key(cam)]["info"] = probe_info(writer.first_path)  # as LeRobot's update_video_info
    return rows, pixels


def _episode_row(ep: Episode, episode_index: int, start: int, chunk_index: int, file_index: int) -> dict[str, Any]:
    """LeRobot's bookkeeping columns of one episode, in its order (``LeRobotDatasetMetadata.save_episode``)."""
    return {
        "episode_index": episode_index,
        "tasks": ep.tasks,
        "length": len(ep),
        "data/chunk_index": chunk_index,
        "data/file_index": file_index,
        "dataset_from_index": start,
        "dataset_to_index": start + len(ep),
    }


def _stats_columns(ep: Episode, arrays: dict[str, np.ndarray], counts: dict[str, np.ndarray]) -> dict[str, Any]:
    """``stats/<feature>/<stat>`` of one episode, for every feature LeRobot computes them for (``counts``: each
    camera's ``pixel_counts``)."""
    stats = {L.image_key(c): image_stats(counts[c], len(ep)) for c in ep.images}
    stats |= {L.depth_key(c): depth_stats(v) for c, v in ep.depth.items()}
    stats |= features_stats(arrays)
    return {f"stats/{key}/{name}": value for key, feature in stats.items() for name, value in feature.items()}


def _episodes_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The episodes parquet; ``tasks`` typed explicitly (list of strings)."""
    table = pa.Table.from_pylist(rows)
    index = table.schema.get_field_index("tasks")
    return table.set_column(index, "tasks", pa.array([r["tasks"] for r in rows], pa.list_(pa.string())))


def _global_stats(
    episodes: list[Episode], fps: int, tasks: list[str], pixels: dict[str, np.ndarray]
) -> dict[str, StatsDict]:
    """``stats.json``: statistics of every feature over all frames of the dataset (exact, not aggregated; image
    statistics from ``pixels``, each camera's pixel counts summed over every frame)."""
    stats: dict[str, StatsDict] = {}
    for cam in episodes[0].images:
        stats[L.image_key(cam)] = image_stats(pixels[cam], sum(map(len, episodes)))
    for cam in episodes[0].depth:
        stats[L.depth_key(cam)] = depth_stats(np.concatenate([ep.depth[cam] for ep in episodes]))
    per_episode: list[dict[str, np.ndarray]] = []
    start = 0
    for i, ep in enumerate(episodes):
        per_episode.append(_frame_arrays(ep, i, start, tasks, fps))
        start += len(ep)
    return stats | features_stats({key: np.concatenate([a[key] for a in per_episode]) for key in per_episode[0]})


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
    features: dict[str, dict[str, Any]], fps: int, robot_type: str | None, totals: dict[str, int], storage: Storage
) -> dict[str, Any]:
    """``info.json`` with the keys of LeRobot's ``DatasetInfo``, in its order."""
    return {
        "codebase_version": L.CODEBASE_VERSION,
        "robot_type": robot_type,
        **totals,
        "chunks_size": storage.chunks_size,
        "data_files_size_in_mb": storage.data_file_mb,
        "video_files_size_in_mb": storage.video_file_mb,
        "fps": fps,
        "splits": {"train": f"0:{totals['total_episodes']}"},
        "data_path": L.DATA_PATH,
        "video_path": L.VIDEO_PATH if storage.video else None,
        "features": features,
    }


def _write_parquet(table: pa.Table, path: Path, metadata: dict[bytes, bytes] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(metadata) if metadata else table, path)


def _write_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
