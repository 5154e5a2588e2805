"""Names and paths of the LeRobot dataset v3.0 layout, shared by the writer, the reader and the validator.

```
root/
  meta/info.json                                  codebase_version "v3.0", fps, features, totals, path templates
  meta/stats.json                                 per feature: min, max, mean, std, count, q01 q10 q50 q90 q99
  meta/tasks.parquet                              task text (pandas index column "task") ↔ task_index
  meta/episodes/chunk-000/file-000.parquet        one row per episode: length, tasks, data file, from/to
                                                  indices, videos/<key>/…, stats/<feature>/<stat>
  meta/embodied/episodes.parquet                  our extras, one row per episode (see below)
  data/chunk-000/file-000.parquet                 one row per frame, many episodes per file
  videos/<key>/chunk-000/file-000.mp4             video features only: many episodes per file, back to back
```

Conventions (LeRobot 0.6, ``lerobot/datasets/{utils,dataset_writer,dataset_metadata,video_utils}.py``):

- every frame carries its own ``task_index`` (a task may change within an episode); the episodes row lists the
  episode's distinct ``tasks``;
- a video feature (``dtype`` ``"video"``) has no data column; frame ``t`` of episode ``e`` is the frame of
  ``videos/<key>/chunk-<c>/file-<f>.mp4`` (``c``, ``f`` from the episode's ``videos/<key>/chunk_index`` and
  ``file_index``) at time ``videos/<key>/from_timestamp + timestamp[t]``; ``to_timestamp`` ends the segment;
- a depth camera is an image (or video) feature under ``observation.images.`` with shape ``[H, W, 1]`` and
  ``info`` ``{"is_depth_map": true, "depth_unit": "m" | "mm"}``; inline depth frames are single-channel TIFF (or
  16-bit PNG) cells in the unit named there (floating point: metres, integer: millimetres, LeRobot's
  ``infer_depth_unit``). Ours are float32 metres, ``observation.images.<camera>_depth``.

Episode extras (plan, VQA pairs, captions, env id, seed, success, pointing camera) live in
``meta/embodied/episodes.parquet`` (``episode_index`` + one column per extra): LeRobot reads
``meta/episodes/*/*.parquet`` as one table, so a column there that its own appended rows lack makes the dataset
unloadable (``CastError: column names don't match``), while files elsewhere under ``meta/`` are ignored.
Datasets written before this change carry the extras as ``embodied/<field>`` columns of the episodes parquet;
the reader still accepts them. Per-frame pointing targets are the data column ``action.points``.
"""

from __future__ import annotations

CODEBASE_VERSION = "v3.0"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EXTRAS_PATH = "meta/embodied/episodes.parquet"
DEFAULT_CHUNKS_SIZE = 1000  # files per chunk directory (LeRobot's default)
DEFAULT_DATA_FILE_MB = 100  # a data file is closed once it holds this much (episodes never straddle files)
DEFAULT_VIDEO_FILE_MB = 200  # the same for a video file (LeRobot's DEFAULT_VIDEO_FILE_SIZE_IN_MB)

STATE = "observation.state"
ACTION = "action"
REWARD = "next.reward"
DONE = "next.done"
IMAGE_PREFIX = "observation.images."
#: depth as a float feature ``[H, W]``, the layout of datasets written before the LeRobot depth convention
LEGACY_DEPTH_PREFIX = "observation.depth."
DEPTH_SUFFIX = "_depth"
#: per-frame pointing targets ``[K, 2]`` pixels (u, v) of the action's primitive arguments (pick, place) in
#: the episode's ``point_camera`` (an ``embodied/`` extra); written only when episodes carry them
POINTS = "action.points"

# Per-frame bookkeeping columns every LeRobot v3 data file carries.
INDEX_FEATURES: dict[str, dict[str, object]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
REQUIRED_COLUMNS = (*INDEX_FEATURES, ACTION)

#: prefix of the extras columns of datasets written before ``EXTRAS_PATH`` (read, never written)
EXTRAS_PREFIX = "embodied/"
EXTRA_COLUMNS = ("env_id", "seed", "success", "plan", "vqa", "captions", "point_camera")


def image_key(camera: str) -> str:
    """Feature name of ``camera``'s RGB stream, e.g. ``observation.images.front``."""
    return IMAGE_PREFIX + camera


def depth_key(camera: str) -> str:
    """Feature name of ``camera``'s depth stream, e.g. ``observation.images.front_depth`` (LeRobot's depth camera)."""
    return IMAGE_PREFIX + camera + DEPTH_SUFFIX


def depth_camera(key: str) -> str:
    """The camera of a depth feature: ``observation.images.front_depth`` → ``front``, ``observation.images.depth``
    → ``depth`` (LeRobot's own name), ``observation.depth.front`` (legacy) → ``front``."""
    if key.startswith(LEGACY_DEPTH_PREFIX):
        return key.removeprefix(LEGACY_DEPTH_PREFIX)
    name = key.removeprefix(IMAGE_PREFIX)
    return name.removesuffix(DEPTH_SUFFIX) if name != DEPTH_SUFFIX.lstrip("_") else name


def is_depth_feature(feature: dict[str, object]) -> bool:
    """LeRobot's ``is_depth_map``: ``info.is_depth_map`` (or the legacy ``video.is_depth_map`` in ``info`` or
    ``video_info``) is true."""
    info = feature.get("info") or {}
    video_info = feature.get("video_info") or {}
    assert isinstance(info, dict) and isinstance(video_info, dict)
    return bool(info.get("is_depth_map") or info.get("video.is_depth_map") or video_info.get("video.is_depth_map"))
