"""write_dataset → read_dataset is lossless, and the files follow the LeRobot v3.0 layout exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from embodied.data import Episode, read_dataset, write_dataset
from tests.unit.data.helpers import TASKS, make_episodes


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Episode]]:
    episodes = make_episodes()
    root = write_dataset(episodes, tmp_path_factory.mktemp("ds") / "demo", fps=10, robot_type="panda")
    return root, episodes


def test_round_trip_is_lossless(written: tuple[Path, list[Episode]]) -> None:
    root, episodes = written
    back = read_dataset(root).episodes()
    assert len(back) == len(episodes)
    for a, b in zip(episodes, back, strict=True):
        assert a.images.keys() == b.images.keys()
        for cam in a.images:
            np.testing.assert_array_equal(a.images[cam], b.images[cam])
        for name in ("state", "actions", "rewards", "dones"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and np.array_equal(x, y), name
        assert b.depth["front"].dtype == np.float32 and np.array_equal(a.depth["front"], b.depth["front"])
        for name in ("task", "env_id", "seed", "success", "plan", "vqa", "captions"):
            assert getattr(a, name) == getattr(b, name), name


def test_info_totals_and_features_match_the_data(written: tuple[Path, list[Episode]]) -> None:
    root, _ = written
    info = json.loads((root / "meta/info.json").read_text())
    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10 and info["robot_type"] == "panda"
    assert info["total_episodes"] == 3 and info["total_frames"] == data.num_rows == 10 and info["total_tasks"] == 2
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["features"]["observation.images.front"] == {
        "dtype": "image",
        "shape": [8, 8, 3],
        "names": ["height", "width", "channels"],
    }
    assert info["features"]["observation.state"]["shape"] == [15] and info["features"]["action"]["shape"] == [7]
    assert set(info["features"]) == set(data.column_names)
    cell = data.column("observation.images.front")[0].as_py()
    assert cell["path"] is None and cell["bytes"].startswith(b"\x89PNG")


def test_indices_tasks_and_episode_rows_are_consistent(written: tuple[Path, list[Episode]]) -> None:
    root, episodes = written
    data = pq.read_table(root / "data/chunk-000/file-000.parquet").to_pydict()
    assert data["index"] == list(range(10))
    tasks = pq.read_table(root / "meta/tasks.parquet").to_pydict()
    task_of = dict(zip(tasks["task_index"], tasks["task"], strict=True))
    assert sorted(task_of.values()) == sorted(TASKS)
    rows = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    for ep, row in zip(episodes, rows, strict=True):
        start, stop = row["dataset_from_index"], row["dataset_to_index"]
        assert stop - start == row["length"] == len(ep) and row["tasks"] == [ep.task]
        assert (row["data/chunk_index"], row["data/file_index"]) == (0, 0)
        assert data["frame_index"][start:stop] == list(range(len(ep)))
        assert set(data["episode_index"][start:stop]) == {row["episode_index"]}
        assert {task_of[t] for t in data["task_index"][start:stop]} == {ep.task}
        np.testing.assert_allclose(data["timestamp"][start:stop], np.arange(len(ep)) / 10, rtol=1e-6)
        np.testing.assert_allclose(row["stats/action/mean"], ep.actions.astype(np.float64).mean(0))
    assert [r["dataset_from_index"] for r in rows[1:]] == [r["dataset_to_index"] for r in rows[:-1]]


def test_stats_equal_numpy_recomputation(written: tuple[Path, list[Episode]]) -> None:
    root, episodes = written
    stats = json.loads((root / "meta/stats.json").read_text())
    actions = np.concatenate([ep.actions for ep in episodes]).astype(np.float64)
    for name, fn in (("min", np.min), ("max", np.max), ("mean", np.mean), ("std", np.std)):
        np.testing.assert_allclose(stats["action"][name], fn(actions, axis=0), rtol=1e-12)
    assert stats["action"]["count"] == [10]
    pixels = np.concatenate([ep.images["wrist"] for ep in episodes]).reshape(-1, 3) / 255.0
    np.testing.assert_allclose(np.asarray(stats["observation.images.wrist"]["mean"])[:, 0, 0], pixels.mean(0))
    assert np.asarray(stats["observation.images.wrist"]["std"]).shape == (3, 1, 1)
    rewards = np.concatenate([ep.rewards for ep in episodes if ep.rewards is not None]).astype(np.float64)
    np.testing.assert_allclose(stats["next.reward"]["max"], [rewards.max()])
    assert stats["index"]["min"] == [0] and stats["index"]["max"] == [9]
    assert read_dataset(root).stats["action"]["mean"].shape == (7,)


def test_frames_are_addressable_like_lerobot(written: tuple[Path, list[Episode]]) -> None:
    root, episodes = written
    ds = read_dataset(root)
    assert len(ds) == 10 and ds.num_episodes == 3 and ds.tasks == list(TASKS)
    frame = ds[4]  # second episode, frame 1
    assert frame["episode_index"] == 1 and frame["frame_index"] == 1 and frame["task"] == episodes[1].task
    np.testing.assert_array_equal(frame["observation.images.front"], episodes[1].images["front"][1])
    np.testing.assert_array_equal(frame["observation.state"], episodes[1].state[1])
    assert ds.column("action").shape == (10, 7)


def test_small_file_budget_splits_data_files_between_episodes(tmp_path: Path) -> None:
    episodes = make_episodes((2, 3, 4, 1))
    root = write_dataset(episodes, tmp_path / "split", fps=5, data_file_mb=1e-6, chunks_size=2)
    files = sorted(p.relative_to(root).as_posix() for p in root.glob("data/*/*.parquet"))
    assert files == [f"data/chunk-00{c}/file-00{f}.parquet" for c, f in ((0, 0), (0, 1), (1, 0), (1, 1))]
    rows = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [(r["data/chunk_index"], r["data/file_index"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    back = read_dataset(root).episodes()
    assert [len(ep) for ep in back] == [2, 3, 4, 1]
    np.testing.assert_array_equal(back[2].images["front"], episodes[2].images["front"])


def test_writer_refuses_bad_input(tmp_path: Path) -> None:
    episodes = make_episodes((2, 2))
    with pytest.raises(ValueError, match="at least one episode"):
        write_dataset([], tmp_path / "empty", fps=10)
    write_dataset(episodes, tmp_path / "ds", fps=10)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_dataset(episodes, tmp_path / "ds", fps=10)
    write_dataset(episodes[:1], tmp_path / "ds", fps=10, overwrite=True)
    assert read_dataset(tmp_path / "ds").num_episodes == 1
    other = make_episodes((2,), size=6)
    with pytest.raises(ValueError, match="episode 1 has schema"):
        write_dataset([episodes[0], other[0]], tmp_path / "mixed", fps=10)
    with pytest.raises(ValueError, match="unknown feature 'gripper'"):
        write_dataset(episodes, tmp_path / "named", fps=10, names={"gripper": ["open"]})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # failed writes leave no staging directories


def test_feature_names_are_written(tmp_path: Path) -> None:
    names = ["pick_x", "pick_y", "pick_z", "place_x", "place_y", "place_z", "yaw"]
    root = write_dataset(make_episodes((2,)), tmp_path / "ds", fps=10, names={"action": names})
    assert read_dataset(root).features["action"]["names"] == names
