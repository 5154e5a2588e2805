"""LeRobot v3 conventions on datasets made here: quantile stats, depth cameras, per-frame tasks, appendable schema."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from embodied.data import Episode, make_samples, read_dataset, write_dataset
from embodied.data.samples import action_prompt
from embodied.data.stats import QUANTILE_KEYS, QUANTILES, STAT_KEYS
from embodied.data.validate import validate_dataset
from tests.unit.data.helpers import make_episodes

#: the columns LeRobot's ``LeRobotDatasetMetadata.save_episode`` writes for an appended episode
BOOKKEEPING = {
    "episode_index",
    "tasks",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
    "meta/episodes/chunk_index",
    "meta/episodes/file_index",
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Episode]]:
    episodes = make_episodes((4, 6, 3))
    return write_dataset(episodes, tmp_path_factory.mktemp("ds") / "demo", fps=10), episodes


def test_stats_carry_lerobot_quantiles_equal_to_numpy(written: tuple[Path, list[Episode]]) -> None:
    root, episodes = written
    stats = json.loads((root / "meta/stats.json").read_text())
    actions = np.concatenate([ep.actions for ep in episodes]).astype(np.float64)
    for key, q in zip(QUANTILE_KEYS, QUANTILES, strict=True):
        np.testing.assert_allclose(stats["action"][key], np.quantile(actions, q, axis=0), rtol=1e-12)
    pixels = np.concatenate([ep.images["front"] for ep in episodes]).reshape(-1, 3).astype(np.float64) / 255.0
    for key, q in zip(QUANTILE_KEYS, QUANTILES, strict=True):
        np.testing.assert_allclose(
            np.asarray(stats["observation.images.front"][key])[:, 0, 0], np.quantile(pixels, q, 0)
        )
    np.testing.assert_allclose(np.asarray(stats["observation.images.front"]["std"])[:, 0, 0], pixels.std(0))
    depth = np.concatenate([ep.depth["front"] for ep in episodes]).astype(np.float64).reshape(-1)
    assert np.asarray(stats["observation.images.front_depth"]["q99"]).shape == (1, 1, 1)
    np.testing.assert_allclose(
        np.asarray(stats["observation.images.front_depth"]["q01"]).item(), np.quantile(depth, 0.01)
    )
    assert all(set(STAT_KEYS) <= set(feature) for feature in stats.values())
    timestamps = np.concatenate([np.arange(n) / 10 for n in (4, 6, 3)]).astype(np.float32)  # stored as float32
    assert stats["timestamp"]["q50"] == [np.quantile(timestamps.astype(np.float64), 0.5)]


def test_per_episode_stats_columns_have_quantiles(written: tuple[Path, list[Episode]]) -> None:
    root, episodes = written
    rows = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    np.testing.assert_allclose(rows[1]["stats/action/q90"], np.quantile(episodes[1].actions.astype(np.float64), 0.9, 0))
    assert np.shape(rows[0]["stats/observation.images.wrist/q10"]) == (3, 1, 1)


def test_depth_is_a_lerobot_depth_camera_and_round_trips_exactly(written: tuple[Path, list[Episode]]) -> None:
    root, episodes = written
    feature = json.loads((root / "meta/info.json").read_text())["features"]["observation.images.front_depth"]
    assert feature == {
        "dtype": "image",
        "shape": [8, 8, 1],
        "names": ["height", "width", "channels"],
        "info": {"is_depth_map": True, "depth_unit": "m"},
    }
    cell = pq.read_table(root / "data/chunk-000/file-000.parquet").column("observation.images.front_depth")[0].as_py()
    assert Image.open(io.BytesIO(cell["bytes"])).mode == "F"  # float TIFF, as LeRobot's image writer
    ds = read_dataset(root)
    back = ds.episodes()
    for a, b in zip(episodes, back, strict=True):
        assert b.depth["front"].dtype == np.float32 and np.array_equal(a.depth["front"], b.depth["front"])
    assert "observation.images.front_depth" not in ds.image_keys and ds[0]["observation.images.front_depth"].shape == (
        8,
        8,
    )


def _uint16_depth_dataset(root: Path, unit: str | None) -> np.ndarray:
    """A dataset as a LeRobot depth camera records it: uint16 millimetre PNG cells in an image feature."""
    shutil.copytree(write_dataset(make_episodes((3,)), root.parent / f"src-{unit}", fps=10), root)
    millimetres = np.random.default_rng(3).integers(100, 5000, (3, 8, 8), dtype=np.uint16)
    cells = []
    for frame in millimetres:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="PNG")
        cells.append({"bytes": buffer.getvalue(), "path": None})
    path = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    index = table.schema.get_field_index("observation.images.front_depth")
    pq.write_table(
        table.set_column(index, "observation.images.front_depth", pa.array(cells, table.field(index).type)), path
    )
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["observation.images.front_depth"]["info"] = {"is_depth_map": True} | (
        {"depth_unit": unit} if unit else {}
    )
    (root / "meta/info.json").write_text(json.dumps(info))
    return millimetres


@pytest.mark.parametrize("unit", ["mm", None])
def test_uint16_millimetre_depth_reads_as_metres(tmp_path: Path, unit: str | None) -> None:
    millimetres = _uint16_depth_dataset(tmp_path / "ds", unit)
    episode = read_dataset(tmp_path / "ds").episode(0)
    assert episode.depth["front"].dtype == np.float32 and "front_depth" not in episode.images
    np.testing.assert_allclose(episode.depth["front"], millimetres / 1000.0, rtol=1e-6)


def _two_task_episode() -> Episode:
    base = make_episodes((6,))[0]
    tasks = ["pick up the red cube."] * 3 + ["place it in the blue bowl."] * 3
    return Episode(
        images=base.images, state=base.state, actions=base.actions, task=tasks[0], depth=base.depth, frame_tasks=tasks
    )


def test_an_episode_keeps_both_tasks_through_files_samples_and_prompts(tmp_path: Path) -> None:
    episode = _two_task_episode()
    root = write_dataset([episode, *make_episodes((2,))], tmp_path / "ds", fps=10)
    data = pq.read_table(root / "data/chunk-000/file-000.parquet").to_pydict()
    assert data["task_index"][:6] == [0, 0, 0, 1, 1, 1]
    row = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()[0]
    assert row["tasks"] == ["pick up the red cube.", "place it in the blue bowl."]
    back = read_dataset(root).episodes()
    assert back[0].frame_tasks == episode.frame_tasks and back[0].task == "pick up the red cube."
    assert back[1].frame_tasks is None  # one task throughout
    prompts = [s.prompt for s in make_samples(back[:1], kinds=("action",))]
    assert prompts == [action_prompt("pick up the red cube")] * 3 + [action_prompt("place it in the blue bowl")] * 3
    assert read_dataset(root)[4]["task"] == "place it in the blue bowl."


def test_frame_tasks_are_checked() -> None:
    base = make_episodes((2,))[0]
    with pytest.raises(ValueError, match="frame_tasks has 1 entries but the episode has 2 frames"):
        Episode(images={}, state=base.state, actions=base.actions, task="a", frame_tasks=["a"])
    with pytest.raises(ValueError, match="frame_tasks\\[0\\] is 'b' but task is 'a'"):
        Episode(images={}, state=base.state, actions=base.actions, task="a", frame_tasks=["b", "a"])


def test_every_column_matches_what_lerobot_appends(written: tuple[Path, list[Episode]]) -> None:
    """LeRobot reads ``meta/episodes`` as one table and casts each data file to its features: the column sets
    of our files must be exactly those its own appended episodes get, and stats shapes must stack with its."""
    root, _ = written
    features = json.loads((root / "meta/info.json").read_text())["features"]
    episodes = set(pq.read_schema(root / "meta/episodes/chunk-000/file-000.parquet").names)
    assert episodes == BOOKKEEPING | {f"stats/{key}/{stat}" for key in features for stat in STAT_KEYS}
    assert set(pq.read_schema(root / "data/chunk-000/file-000.parquet").names) == set(features)
    stats = json.loads((root / "meta/stats.json").read_text())
    assert np.shape(stats["observation.images.front"]["mean"]) == (3, 1, 1)
    assert np.shape(stats["observation.state"]["q01"]) == (15,) and np.shape(stats["next.done"]["min"]) == (1,)
    assert validate_dataset(root) == []


def _append_like_lerobot(root: Path) -> None:
    """What ``LeRobotDataset.resume(...).add_frame/save_episode`` writes for one 2-frame episode: a new data file
    and a new episodes file (``update_chunk_file_indices``) with LeRobot's columns only, then info totals."""
    info = json.loads((root / "meta/info.json").read_text())
    old = pq.read_table(root / "data/chunk-000/file-000.parquet")
    start, episode = old.num_rows, info["total_episodes"]
    new = old.slice(0, 2)
    replace = {"index": [start, start + 1], "episode_index": [episode] * 2, "frame_index": [0, 1]}
    for name, values in replace.items():
        new = new.set_column(new.schema.get_field_index(name), name, pa.array(values, pa.int64()))
    pq.write_table(new, root / "data/chunk-000/file-001.parquet")
    row = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").slice(0, 1).to_pylist()[0]
    row |= {"episode_index": episode, "length": 2, "data/file_index": 1, "meta/episodes/file_index": 1}
    row |= {"dataset_from_index": start, "dataset_to_index": start + 2}
    pq.write_table(pa.Table.from_pylist([row]), root / "meta/episodes/chunk-000/file-001.parquet")
    info |= {"total_episodes": episode + 1, "total_frames": start + 2}
    (root / "meta/info.json").write_text(json.dumps(info))


def test_a_dataset_appended_by_lerobot_stays_valid_and_readable(
    written: tuple[Path, list[Episode]], tmp_path: Path
) -> None:
    root = Path(shutil.copytree(written[0], tmp_path / "appended"))
    _append_like_lerobot(root)
    assert validate_dataset(root) == []
    ds = read_dataset(root)
    assert ds.num_episodes == 4 and len(ds.episode(3)) == 2
    assert (
        ds.episode(3).plan is None and ds.episode(3).captions == [] and ds.episode(0).captions == written[1][0].captions
    )


def test_the_validator_names_the_file_and_field_that_lerobot_would_trip_on(
    written: tuple[Path, list[Episode]], tmp_path: Path
) -> None:
    root = Path(shutil.copytree(written[0], tmp_path / "broken"))
    _append_like_lerobot(root)
    extra = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet")
    pq.write_table(
        extra.append_column("embodied/plan", pa.array([None] * 3, pa.string())),
        root / "meta/episodes/chunk-000/file-000.parquet",
    )
    stats = json.loads((root / "meta/stats.json").read_text())
    del stats["action"]["q01"]
    (root / "meta/stats.json").write_text(json.dumps(stats))
    problems = [str(p) for p in validate_dataset(root)]
    assert any(p.startswith("meta/episodes/chunk-000/file-001.parquet: columns: differ") for p in problems), problems
    assert any("meta/stats.json: action: lacks ['q01']" in p and "QUANTILES" in p for p in problems), problems


def test_data_files_carry_the_huggingface_features_lerobot_writes(written: tuple[Path, list[Episode]]) -> None:
    """LeRobot's data files carry ``datasets``' Features in the ``huggingface`` schema metadata; ``datasets`` (and
    the Hub's viewer) use an entry where its arrow type equals the column's: images become ``Image`` only so."""
    root, _ = written
    schema = pq.read_schema(root / "data/chunk-000/file-000.parquet")
    listed = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
    arrow = {"Image": pa.struct([("bytes", pa.binary()), ("path", pa.string())])}
    for key, feature in listed.items():
        expected = arrow[feature["_type"]] if feature["_type"] == "Image" else pa.from_numpy_dtype(feature["dtype"])
        assert schema.field(key).type == expected, key
    cameras = ["observation.images.front", "observation.images.wrist", "observation.images.front_depth"]
    assert [k for k, f in listed.items() if f["_type"] == "Image"] == cameras
    assert listed["next.done"] == {"dtype": "bool", "_type": "Value"} and "observation.state" not in listed
    scalars = {"next.reward", "next.done", "timestamp", "frame_index", "episode_index", "index", "task_index"}
    assert listed.keys() == {*cameras, *scalars}


def test_video_data_files_list_no_video_feature(tmp_path: Path) -> None:
    pytest.importorskip("av", reason="PyAV is not installed (pip install 'embodied[video]')")
    episodes = make_episodes((3, 2), size=16)
    root = write_dataset(episodes, tmp_path / "v", fps=10, video=True, video_codec="libx264", data_file_mb=1e-6)
    for path in sorted((root / "data").glob("*/*.parquet")):  # every data file, not only the last one
        listed = json.loads(pq.read_schema(path).metadata[b"huggingface"])["info"]["features"]
        assert "observation.images.front" not in listed
        assert listed["observation.images.front_depth"] == {"_type": "Image"}


def test_an_episode_without_state_writes_no_state_feature(tmp_path: Path) -> None:
    """Arrow has no zero-length fixed-size list: ``state [T, 0]`` is no column at all, and reads back as ``[T, 0]``."""
    episodes = [
        Episode(images={}, state=np.zeros((n, 0), np.float32), actions=np.full((n, 3), n, np.float32), task="reach")
        for n in (3, 4)
    ]
    root = write_dataset(episodes, tmp_path / "stateless", fps=10)
    info = json.loads((root / "meta/info.json").read_text())
    assert "observation.state" not in info["features"]
    assert "observation.state" not in json.loads((root / "meta/stats.json").read_text())
    assert validate_dataset(root) == []
    back = read_dataset(root).episodes()
    assert [e.state.shape for e in back] == [(3, 0), (4, 0)]
    np.testing.assert_array_equal(back[1].actions, episodes[1].actions)


def _pointing_episodes(cameras: tuple[str, ...]) -> list[Episode]:
    episodes = make_episodes((4, 3))
    for ep, camera in zip(episodes, cameras, strict=True):
        ep.points = np.random.default_rng(len(ep)).uniform(0, 8, (len(ep), 2, 2)).astype(np.float32)
        ep.point_camera = camera
    return episodes


@pytest.mark.parametrize(("cameras", "expected"), [(("front", "front"), "front"), (("front", "wrist"), None)])
def test_points_of_an_episode_lerobot_appended(tmp_path: Path, cameras: tuple[str, str], expected: str | None) -> None:
    """LeRobot's ``add_frame`` needs every feature, ``action.points`` included, but writes no extras row: the new
    episode's points are in the dataset's one pointing camera, and dropped when its episodes use several."""
    root = write_dataset(_pointing_episodes(cameras), tmp_path / "points", fps=10)
    _append_like_lerobot(root)  # copies the first two frames of episode 0, action.points included
    assert validate_dataset(root) == []
    episodes = read_dataset(root).episodes()
    appended = episodes[2]
    assert [e.point_camera for e in episodes[:2]] == list(cameras)
    if expected is None:
        assert appended.points is None and appended.point_camera == ""
    else:
        assert appended.point_camera == expected
        first = episodes[0].points
        assert first is not None
        np.testing.assert_array_equal(appended.points, first[:2])
