"""Names and paths of the LeRobot dataset v3.0 layout, shared by the writer and the reader.

```
root/
  meta/info.json                                  codebase_version "v3.0", fps, features, totals, path templates
  meta/stats.json                                 per feature: min, max, mean, std, count
  meta/tasks.parquet                              task text (pandas index column "task") ↔ task_index
  meta/episodes/chunk-000/file-000.parquet        one row per episode: length, tasks, data file, from/to
                                                  indices, stats/<feature>/<stat>, and our embodied/* extras
  data/chunk-000/file-000.parquet                 one row per frame, many episodes per file
```

Episode extras (plan, VQA pairs, captions, env id, seed, success, pointing camera) are columns of the episodes
parquet named ``embodied/<field>``: the ``/`` groups them like LeRobot's own ``data/…`` and ``stats/…`` columns,
and LeRobot's loader ignores columns it does not know. Per-frame pointing targets are the data column
``action.points``.
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
DEFAULT_CHUNKS_SIZE = 1000  # files per chunk directory (LeRobot's default)
DEFAULT_DATA_FILE_MB = 100  # a data file is closed once it holds this much (episodes never straddle files)

STATE = "observation.state"
ACTION = "action"
REWARD = "next.reward"
DONE = "next.done"
IMAGE_PREFIX = "observation.images."
DEPTH_PREFIX = "observation.depth."
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

EXTRAS_PREFIX = "embodied/"
EXTRA_COLUMNS = ("env_id", "seed", "success", "plan", "vqa", "captions", "point_camera")


def image_key(camera: str) -> str:
    """Feature name of ``camera``'s RGB stream, e.g. ``observation.images.front``."""
    return IMAGE_PREFIX + camera


def depth_key(camera: str) -> str:
    """Feature name of ``camera``'s depth stream, e.g. ``observation.depth.front`` (metres, float32)."""
    return DEPTH_PREFIX + camera
