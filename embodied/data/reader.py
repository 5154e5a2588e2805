"""Read LeRobot v3.0 datasets (ours or anyone's) into numpy frames and ``Episode`` records.

Only the standard columns are required (``index``, ``episode_index``, ``frame_index``, ``timestamp``,
``task_index``, ``action``); unknown columns and ``info.json`` keys are tolerated. Image features may be inline
structs or paths relative to the root; video features are refused (decoding MP4 is out of scope). Numeric
columns are loaded once; images are decoded when a frame or an episode is asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embodied.data import layout as L
from embodied.data.arrow import column_to_numpy
from embodied.data.episode import Episode
from embodied.data.images import decode_image
from embodied.errors import UserError

NON_NUMERIC = ("image", "video", "string")


class DatasetError(ValueError, UserError):
    """A directory is not a readable LeRobot v3.0 dataset; the message names the file and what is wrong."""


class LeRobotDataset:
    """A LeRobot v3.0 dataset on disk: ``len()`` frames, ``ds[i]`` one frame, ``ds.episode(e)`` one episode."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.info = load_info(self.root)
        self.features: dict[str, dict[str, Any]] = self.info["features"]
        self.fps: float = self.info["fps"]
        videos = [k for k, f in self.features.items() if f.get("dtype") == "video"]
        if videos:
            raise DatasetError(
                f"{self.root / L.INFO_PATH}: features {videos} are stored as video; embodied reads inline image "
                "features only (re-record with images, or decode the videos to image features first)"
            )
        self.tasks = _load_tasks(self.root)
        self._table = _load_data(self.root)
        self._check_columns()
        self._numeric = {
            key: column_to_numpy(self._table.column(key), tuple(f["shape"]), f["dtype"])
            for key, f in self.features.items()
            if f["dtype"] not in NON_NUMERIC and key in self._table.column_names
        }
        self.episode_meta = _load_episode_meta(self.root)
        self._ranges = self._episode_ranges()
        stats_path = self.root / L.STATS_PATH
        raw_stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
        self.stats = {k: {s: np.asarray(v) for s, v in d.items()} for k, d in raw_stats.items()}

    @property
    def num_frames(self) -> int:
        return self._table.num_rows

    @property
    def num_episodes(self) -> int:
        return len(self._ranges)

    @property
    def image_keys(self) -> list[str]:
        return [k for k, f in self.features.items() if f["dtype"] == "image"]

    def __len__(self) -> int:
        return self.num_frames

    def __getitem__(self, row: int) -> dict[str, Any]:
        """Frame ``row`` (in ``index`` order): numeric features, decoded images and its ``task`` text."""
        if not -self.num_frames <= row < self.num_frames:
            raise IndexError(f"frame {row} out of range for {self.num_frames} frames")
        row %= self.num_frames
        frame: dict[str, Any] = {key: values[row] for key, values in self._numeric.items()}
        for key in self.image_keys:
            frame[key] = decode_image(self._table.column(key)[row].as_py(), self.root)
        frame["task"] = self.tasks[int(frame["task_index"])]
        return frame

    def column(self, key: str) -> np.ndarray:
        """All frames of a numeric feature, ``[N, *shape]`` (``[N]`` for scalars)."""
        if key not in self._numeric:
            raise KeyError(f"no numeric feature {key!r}; available: {sorted(self._numeric)}")
        return self._numeric[key]

    def images(self, key: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Decoded frames ``start:stop`` of image feature ``key`` as ``[n, H, W, C]`` uint8."""
        cells = self._table.column(key).slice(start, None if stop is None else stop - start).to_pylist()
        return np.stack([decode_image(cell, self.root) for cell in cells])

    def episode(self, episode_index: int) -> Episode:
        """Episode ``episode_index`` as an ``Episode`` (extras default to empty when the dataset has none)."""
        if episode_index not in self._ranges:
            raise KeyError(f"no episode {episode_index}; the dataset has {sorted(self._ranges)[:10]}...")
        start, stop = self._ranges[episode_index]
        cut = {key: values[start:stop] for key, values in self._numeric.items()}
        images = {key.removeprefix(L.IMAGE_PREFIX): self.images(key, start, stop) for key in self.image_keys}
        depth = {key.removeprefix(L.DEPTH_PREFIX): v for key, v in cut.items() if key.startswith(L.DEPTH_PREFIX)}
        actions = cut[L.ACTION]
        extras = self._extras(episode_index)
        return Episode(
            images=images,
            state=cut.get(L.STATE, np.zeros((len(actions), 0), np.float32)),
            actions=actions.reshape(len(actions), -1),
            task=self.tasks[int(cut["task_index"][0])],
            rewards=cut.get(L.REWARD),
            dones=cut.get(L.DONE),
            depth=depth,
            points=cut.get(L.POINTS),
            **extras,
        )

    def episodes(self) -> list[Episode]:
        """Every episode, in ``episode_index`` order."""
        return [self.episode(e) for e in sorted(self._ranges)]

    def _extras(self, episode_index: int) -> dict[str, Any]:
        """The ``embodied/*`` columns of an episode's metadata row, without the prefix (absent → defaults)."""
        row = self.episode_meta.get(episode_index, {})
        extras = {name: row[L.EXTRAS_PREFIX + name] for name in L.EXTRA_COLUMNS if L.EXTRAS_PREFIX + name in row}
        extras["vqa"] = extras.get("vqa") or []
        extras["captions"] = extras.get("captions") or []
        for name in ("env_id", "point_camera"):
            if extras.get(name) is None:
                extras[name] = ""
        return extras

    def _check_columns(self) -> None:
        """Required columns present and ``info.json`` totals equal to what the data files hold."""
        missing = [c for c in L.REQUIRED_COLUMNS if c not in self._table.column_names]
        if missing:
            raise DatasetError(f"{self.root / 'data'}: data files lack required columns {missing}")
        absent = [k for k, f in self.features.items() if f["dtype"] == "image" and k not in self._table.column_names]
        if absent:
            raise DatasetError(
                f"{self.root / L.INFO_PATH} declares image features {absent} missing from the data files"
            )
        if self.info.get("total_frames", self.num_frames) != self.num_frames:
            raise DatasetError(
                f"{self.root / L.INFO_PATH}: total_frames is {self.info['total_frames']} but the data files hold "
                f"{self.num_frames} frames"
            )

    def _episode_ranges(self) -> dict[int, tuple[int, int]]:
        """Row range of each episode, from the data; checked against the episodes metadata where it has one."""
        episode_index = self._numeric["episode_index"]
        boundaries = np.flatnonzero(np.diff(episode_index)) + 1
        starts = np.concatenate([[0], boundaries])
        stops = np.concatenate([boundaries, [len(episode_index)]])
        ranges = {int(episode_index[a]): (int(a), int(b)) for a, b in zip(starts, stops, strict=True)}
        if len(ranges) != len(starts):
            raise DatasetError(f"{self.root / 'data'}: frames of one episode are not contiguous in index order")
        first_index = int(self._numeric["index"][0]) if self.num_frames else 0
        for e, row in self.episode_meta.items():
            expected = (row.get("dataset_from_index"), row.get("dataset_to_index"))
            actual = tuple(first_index + r for r in ranges.get(e, (-1, -1)))
            if None not in expected and expected != actual:
                raise DatasetError(
                    f"{self.root / L.EPISODES_DIR}: episode {e} spans index {expected} but the data puts it at {actual}"
                )
        total = self.info.get("total_episodes", len(ranges))
        if total != len(ranges):
            raise DatasetError(f"{self.root / L.INFO_PATH}: total_episodes is {total} but the data has {len(ranges)}")
        return ranges


def read_dataset(root: str | Path) -> LeRobotDataset:
    """Open the LeRobot v3.0 dataset at ``root`` (see ``LeRobotDataset``); ``DatasetError`` when it cannot be read."""
    try:
        return LeRobotDataset(root)
    except DatasetError:
        raise
    except (pa.ArrowException, UnicodeDecodeError, json.JSONDecodeError) as err:  # truncated or corrupted files
        reason = (str(err).splitlines() or [""])[0]
        raise DatasetError(f"{root}: unreadable LeRobot dataset ({type(err).__name__}: {reason})") from err


def load_info(root: Path) -> dict[str, Any]:
    """``meta/info.json``, checked to exist and to declare ``codebase_version`` v3.0."""
    path = root / L.INFO_PATH
    if not path.is_file():
        raise DatasetError(f"{path} not found: {root} is not a LeRobot dataset")
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: not valid JSON ({err}); the file is truncated or corrupted") from None
    if not isinstance(info, dict):
        raise DatasetError(f"{path}: expected a JSON object, got {type(info).__name__}")
    version = info.get("codebase_version")
    if version != L.CODEBASE_VERSION:
        raise DatasetError(
            f"{path}: codebase_version is {version!r}, expected {L.CODEBASE_VERSION!r} "
            "(convert older datasets with lerobot's convert_dataset_v21_to_v30)"
        )
    for key in ("fps", "features"):
        if key not in info:
            raise DatasetError(f"{path}: missing required key {key!r}")
    return info


def _load_data(root: Path) -> pa.Table:
    """All data parquet files concatenated and sorted by global ``index``."""
    paths = sorted((root / "data").glob("*/*.parquet"))
    if not paths:
        raise DatasetError(f"{root / 'data'}: no data files (expected data/chunk-*/file-*.parquet)")
    table = pa.concat_tables([pq.read_table(p) for p in paths], promote_options="permissive")
    if "index" in table.column_names:
        table = table.sort_by("index")
    return table


def _load_tasks(root: Path) -> list[str]:
    """Task texts indexed by ``task_index``; the text is pandas' index column (``task`` or unnamed)."""
    path = root / L.TASKS_PATH
    if not path.is_file():
        raise DatasetError(f"{path} not found: a LeRobot v3.0 dataset lists its tasks there")
    table = pq.read_table(path)
    pandas_meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    candidates = [c for c in pandas_meta.get("index_columns", []) if isinstance(c, str)] + ["task", "__index_level_0__"]
    text_column = next((c for c in candidates if c in table.column_names), None)
    if text_column is None or "task_index" not in table.column_names:
        raise DatasetError(f"{path}: expected a task_index column and the task text, found {table.column_names}")
    texts, indices = table.column(text_column).to_pylist(), table.column("task_index").to_pylist()
    tasks = [""] * (max(indices) + 1 if indices else 0)
    for text, index in zip(texts, indices, strict=True):
        tasks[index] = text
    return tasks


def _load_episode_meta(root: Path) -> dict[int, dict[str, Any]]:
    """Rows of ``meta/episodes/*/*.parquet`` by episode index, without the bulky ``stats/`` columns."""
    rows: dict[int, dict[str, Any]] = {}
    for path in sorted((root / L.EPISODES_DIR).glob("*/*.parquet")):
        table = pq.read_table(path)
        table = table.select([c for c in table.column_names if not c.startswith("stats/")])
        rows |= {int(r["episode_index"]): r for r in table.to_pylist()}
    return rows
