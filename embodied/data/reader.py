"""Read LeRobot v3.0 datasets (ours or anyone's) into numpy frames and ``Episode`` records.

Only the standard columns are required (``index``, ``episode_index``, ``frame_index``, ``timestamp``,
``task_index``, ``action``); unknown columns and ``info.json`` keys are tolerated. Cameras may be inline image
structs, paths relative to the root, or MP4 video features (decoded with PyAV, matched to the parquet
timestamps: ``embodied.data.video``). Depth cameras are LeRobot's ``is_depth_map`` features (inline TIFF/PNG,
float metres or uint16 millimetres per ``depth_unit``, or 12-bit depth videos) and our legacy
``observation.depth.<camera>`` float columns; all become ``Episode.depth`` in float32 metres. Each frame keeps
its own ``task_index``: an episode whose task changes gets ``Episode.frame_tasks``. Numeric columns are loaded
once; images are decoded when a frame or an episode is asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from embodied.data import layout as L
from embodied.data.action_space import DiscreteActions
from embodied.data.arrow import column_to_numpy
from embodied.data.episode import Episode
from embodied.data.extras import read_extras, with_defaults
from embodied.data.images import decode_depth, decode_image
from embodied.data.metadata import DatasetError, load_data, load_episode_meta, load_info, load_tasks
from embodied.data.video import decode_at, dequantize_depth

__all__ = ["DatasetError", "LeRobotDataset", "load_info", "read_dataset"]

NON_NUMERIC = ("image", "video", "string", "language")


class LeRobotDataset:
    """A LeRobot v3.0 dataset on disk: ``len()`` frames, ``ds[i]`` one frame, ``ds.episode(e)`` one episode."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.info = load_info(self.root)
        self.features: dict[str, dict[str, Any]] = self.info["features"]
        self.fps: float = self.info["fps"]
        self.tasks = load_tasks(self.root)
        self._table = load_data(self.root)
        self._check_columns()
        self._numeric = {
            key: column_to_numpy(self._table.column(key), tuple(f["shape"]), f["dtype"])
            for key, f in self.features.items()
            if f["dtype"] not in NON_NUMERIC and key in self._table.column_names
        }
        self.episode_meta = load_episode_meta(self.root)
        self.extras = read_extras(self.root, self.episode_meta)
        self._ranges = self._episode_ranges()
        self._check_videos()
        stats_path = self.root / L.STATS_PATH
        raw_stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
        self.stats = {k: {s: np.asarray(v) for s, v in d.items()} for k, d in raw_stats.items()}
        #: ``DiscreteActions`` when ``action`` holds indices of a Discrete space (``info.json``), else None
        self.action_space = DiscreteActions.from_feature(self.features.get(L.ACTION, {}))

    @property
    def num_frames(self) -> int:
        return self._table.num_rows

    @property
    def num_episodes(self) -> int:
        return len(self._ranges)

    @property
    def image_keys(self) -> list[str]:
        """RGB camera features (inline images or videos)."""
        return [k for k, f in self.features.items() if f["dtype"] in ("image", "video") and not L.is_depth_feature(f)]

    @property
    def video_keys(self) -> list[str]:
        return [k for k, f in self.features.items() if f["dtype"] == "video"]

    @property
    def depth_keys(self) -> list[str]:
        """Depth features: LeRobot's ``is_depth_map`` cameras and legacy ``observation.depth.*`` columns."""
        marked = [k for k, f in self.features.items() if f["dtype"] in ("image", "video") and L.is_depth_feature(f)]
        return marked + [k for k in self._numeric if k.startswith(L.LEGACY_DEPTH_PREFIX)]

    def __len__(self) -> int:
        return self.num_frames

    def __getitem__(self, row: int) -> dict[str, Any]:
        """Frame ``row`` (in ``index`` order): numeric features, decoded images and depth, its ``task`` text."""
        if not -self.num_frames <= row < self.num_frames:
            raise IndexError(f"frame {row} out of range for {self.num_frames} frames")
        row %= self.num_frames
        frame: dict[str, Any] = {key: values[row] for key, values in self._numeric.items()}
        for key in self.image_keys:
            frame[key] = self.images(key, row, row + 1)[0]
        for key in self.depth_keys:
            frame[key] = self.depth(key, row, row + 1)[0]
        frame["task"] = self.tasks[int(frame["task_index"])]
        return frame

    def column(self, key: str) -> np.ndarray:
        """All frames of a numeric feature, ``[N, *shape]`` (``[N]`` for scalars)."""
        if key not in self._numeric:
            raise KeyError(f"no numeric feature {key!r}; available: {sorted(self._numeric)}")
        return self._numeric[key]

    def images(self, key: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Decoded frames ``start:stop`` of RGB camera ``key`` as ``[n, H, W, C]`` uint8."""
        if self.features[key]["dtype"] == "video":
            return self._video_frames(key, start, self.num_frames if stop is None else stop)
        cells = self._table.column(key).slice(start, None if stop is None else stop - start).to_pylist()
        return np.stack([decode_image(cell, self.root) for cell in cells])

    def depth(self, key: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``start:stop`` of depth feature ``key`` as ``[n, H, W]`` float32 metres."""
        stop = self.num_frames if stop is None else stop
        if key.startswith(L.LEGACY_DEPTH_PREFIX):
            return self._numeric[key][start:stop]
        feature = self.features[key]
        info = feature.get("info") or {}
        if feature["dtype"] == "video":
            return dequantize_depth(self._video_frames(key, start, stop, depth=True), info)
        cells = self._table.column(key).slice(start, stop - start).to_pylist()
        try:
            return np.stack([decode_depth(cell, self.root, info.get("depth_unit")) for cell in cells])
        except ValueError as err:
            raise DatasetError(f"{self.root / L.INFO_PATH}: feature {key!r}: {err}") from None

    def episode(self, episode_index: int) -> Episode:
        """Episode ``episode_index`` as an ``Episode`` (extras default to empty when the dataset has none)."""
        if episode_index not in self._ranges:
            raise KeyError(f"no episode {episode_index}; the dataset has {sorted(self._ranges)[:10]}...")
        start, stop = self._ranges[episode_index]
        cut = {key: values[start:stop] for key, values in self._numeric.items()}
        actions = cut[L.ACTION]
        frame_tasks = [self.tasks[int(i)] for i in cut["task_index"]]
        extras = with_defaults(self.extras.get(episode_index, {}))
        points = cut.get(L.POINTS)
        if points is not None and not extras["point_camera"]:
            # An episode without our extras row (appended by LeRobot, which must fill every feature) has points
            # but no camera: they are in the dataset's one point camera, or meaningless when there is none.
            extras["point_camera"] = self._point_camera
            points = points if self._point_camera else None
        return Episode(
            images={key.removeprefix(L.IMAGE_PREFIX): self.images(key, start, stop) for key in self.image_keys},
            state=cut.get(L.STATE, np.zeros((len(actions), 0), np.float32)),
            actions=actions.reshape(len(actions), -1),
            task=frame_tasks[0],
            rewards=cut.get(L.REWARD),
            dones=cut.get(L.DONE),
            depth={L.depth_camera(key): self.depth(key, start, stop) for key in self.depth_keys},
            points=points,
            frame_tasks=frame_tasks,
            action_space=self.action_space,
            **extras,
        )

    @property
    def _point_camera(self) -> str:
        """The camera of the pointing targets when every episode that names one names the same, else ``""``."""
        cameras = {str(e.get("point_camera") or "") for e in self.extras.values()} - {""}
        return next(iter(cameras)) if len(cameras) == 1 else ""

    def episodes(self) -> list[Episode]:
        """Every episode, in ``episode_index`` order."""
        return [self.episode(e) for e in sorted(self._ranges)]

    def _video_frames(self, key: str, start: int, stop: int, *, depth: bool = False) -> np.ndarray:
        """Rows ``start:stop`` of video feature ``key``, decoded episode by episode at the parquet timestamps."""
        parts = []
        episode_index = self._numeric["episode_index"]
        timestamps = self._numeric["timestamp"].astype(np.float64)
        row = start
        while row < stop:
            e = int(episode_index[row])
            last = self._ranges[e][1]
            end = min(stop, last)
            meta = self.episode_meta[e]
            prefix = f"videos/{key}/"
            path = self.root / (self.info.get("video_path") or L.VIDEO_PATH).format(
                video_key=key, chunk_index=meta[prefix + "chunk_index"], file_index=meta[prefix + "file_index"]
            )
            times = float(meta[prefix + "from_timestamp"]) + timestamps[row:end]
            try:
                parts.append(decode_at(path, times, depth=depth))
            except ValueError as err:
                raise DatasetError(f"{key}, episode {e}: {err}") from None
            row = end
        return np.concatenate(parts)

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

    def _check_videos(self) -> None:
        """Every episode row names the file and start time of each video feature, and the file exists."""
        template = self.info.get("video_path") or L.VIDEO_PATH
        for key in self.video_keys:
            columns = [f"videos/{key}/{c}" for c in ("chunk_index", "file_index", "from_timestamp")]
            for e in self._ranges:
                row = self.episode_meta.get(e, {})
                lacking = [c for c in columns if row.get(c) is None]
                if lacking:
                    raise DatasetError(f"{self.root / L.EPISODES_DIR}: episode {e} has no {lacking[0]} column value")
                path = self.root / template.format(
                    video_key=key, chunk_index=row[columns[0]], file_index=row[columns[1]]
                )
                if not path.is_file():
                    raise DatasetError(f"{path} not found: video of {key!r}, episode {e}")

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
