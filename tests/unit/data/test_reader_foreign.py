"""Reading v3.0 datasets written by others (built here with pyarrow alone) and refusing bad ones clearly."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from embodied.data import read_dataset

FEATURES: dict[str, Any] = {
    "observation.images.top": {"dtype": "image", "shape": [4, 5, 3], "names": ["height", "width", "channel"]},
    "observation.state": {"dtype": "float32", "shape": [2], "names": ["shoulder", "elbow"]},
    "action": {"dtype": "float32", "shape": [2], "names": ["shoulder", "elbow"]},
    **{
        k: {"dtype": "int64", "shape": [1], "names": None}
        for k in ("frame_index", "episode_index", "index", "task_index")
    },
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
}


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _build(root: Path, **info_overrides: Any) -> dict[str, Any]:
    """Two episodes (3 + 2 frames), variable-length list columns and an extra column LeRobot tools might add."""
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (5, 4, 5, 3), dtype=np.uint8)
    state = rng.normal(size=(5, 2)).astype(np.float32)
    action = rng.normal(size=(5, 2)).astype(np.float32)
    data = pa.table(
        {
            "observation.images.top": [{"bytes": _png(p), "path": None} for p in pixels],
            "observation.state": pa.array(state.tolist(), pa.list_(pa.float32())),
            "action": pa.array(action.tolist(), pa.list_(pa.float32())),
            "timestamp": pa.array([0.0, 0.05, 0.1, 0.0, 0.05], pa.float32()),
            "frame_index": [0, 1, 2, 0, 1],
            "episode_index": [0, 0, 0, 1, 1],
            "index": [0, 1, 2, 3, 4],
            "task_index": [1, 1, 1, 0, 0],
            "annotator_note": ["ok"] * 5,
        }
    )
    (root / "data/chunk-000").mkdir(parents=True)
    pq.write_table(data, root / "data/chunk-000/file-000.parquet")
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    episodes = {"episode_index": [0, 1], "tasks": [["fold"], ["grasp"]], "length": [3, 2]}
    episodes |= {"dataset_from_index": [0, 3], "dataset_to_index": [3, 5]}
    pq.write_table(pa.table(episodes), root / "meta/episodes/chunk-000/file-000.parquet")
    # pandas writes an unnamed index (the task text) as __index_level_0__
    pq.write_table(
        pa.table({"task_index": [0, 1], "__index_level_0__": ["grasp", "fold"]}), root / "meta/tasks.parquet"
    )
    info = {"codebase_version": "v3.0", "fps": 20, "total_episodes": 2, "total_frames": 5, "features": FEATURES}
    (root / "meta/info.json").write_text(json.dumps(info | info_overrides))
    return {"pixels": pixels, "state": state, "action": action}


def test_reads_a_minimal_dataset_written_by_others(tmp_path: Path) -> None:
    truth = _build(tmp_path)
    ds = read_dataset(tmp_path)
    assert ds.tasks == ["grasp", "fold"] and ds.fps == 20 and len(ds) == 5
    first, second = ds.episodes()
    assert first.task == "fold" and second.task == "grasp" and len(first) == 3 and len(second) == 2
    np.testing.assert_array_equal(first.images["top"], truth["pixels"][:3])
    np.testing.assert_array_equal(second.state, truth["state"][3:])
    np.testing.assert_array_equal(np.concatenate([first.actions, second.actions]), truth["action"])
    assert second.rewards is not None and not second.rewards.any()  # no next.reward column → zeros
    assert second.dones is not None and second.dones.tolist() == [False, True]
    assert first.plan is None and first.vqa == [] and first.env_id == "" and ds.stats == {}


def test_a_video_feature_without_its_episode_columns_is_named(tmp_path: Path) -> None:
    video = {"dtype": "video", "shape": [4, 5, 3], "names": ["height", "width", "channels"]}
    _build(tmp_path, features=FEATURES | {"observation.images.side": video})
    with pytest.raises(ValueError, match=r"meta/episodes: episode 0 has no videos/observation.images.side/chunk_index"):
        read_dataset(tmp_path)


def test_missing_info_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"meta/info.json not found"):
        read_dataset(tmp_path)


def test_wrong_codebase_version_names_file_and_version(tmp_path: Path) -> None:
    _build(tmp_path, codebase_version="v2.1")
    with pytest.raises(ValueError, match=r"info.json: codebase_version is 'v2.1', expected 'v3.0'"):
        read_dataset(tmp_path)


def test_totals_that_disagree_with_the_data_are_refused(tmp_path: Path) -> None:
    _build(tmp_path, total_frames=7)
    with pytest.raises(ValueError, match="total_frames is 7 but the data files hold 5"):
        read_dataset(tmp_path)


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    _build(tmp_path)
    path = tmp_path / "data/chunk-000/file-000.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["frame_index"]), path)
    with pytest.raises(ValueError, match=r"lack required columns \['frame_index'\]"):
        read_dataset(tmp_path)


def test_episode_ranges_must_match_the_metadata(tmp_path: Path) -> None:
    _build(tmp_path)
    path = tmp_path / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.set_column(3, "dataset_from_index", pa.array([0, 2])), path)
    with pytest.raises(ValueError, match=r"episode 1 spans index \(2, 5\) but the data puts it at \(3, 5\)"):
        read_dataset(tmp_path)
