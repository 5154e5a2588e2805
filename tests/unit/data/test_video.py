"""Video datasets (PyAV): written in LeRobot's layout, read back frame-exact at the parquet timestamps."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embodied.data import DatasetError, Episode, read_dataset, write_dataset
from embodied.data.validate import validate_dataset
from embodied.data.video import quantize_depth

av = pytest.importorskip("av", reason="PyAV is not installed (pip install 'embodied[video]')")

SIZE = 16
KEY = "observation.images.front"


def _frames(count: int, offset: int) -> np.ndarray:
    """``[count, H, W, 3]`` frames that differ from each other everywhere: level ``8 * (offset + t)`` plus a ramp."""
    ramp = np.linspace(0, 40, SIZE, dtype=np.float64)[None, :, None]
    levels = 8.0 * (offset + np.arange(count))[:, None, None, None]
    frames = np.broadcast_to(levels + ramp + np.array([0, 20, 40]), (count, SIZE, SIZE, 3))
    return np.clip(frames, 0, 255).astype(np.uint8)


def _episodes(lengths: tuple[int, ...] = (5, 7, 4)) -> list[Episode]:
    episodes, offset = [], 0
    for i, length in enumerate(lengths):
        episodes.append(
            Episode(
                images={"front": _frames(length, offset)},
                state=np.zeros((length, 2), np.float32),
                actions=np.full((length, 3), i / 10, np.float32),
                task=f"task {i % 2}",
            )
        )
        offset += length
    return episodes


def _assert_frame_exact(written: list[Episode], back: list[Episode]) -> None:
    """Every decoded frame is nearest to its own original among all frames of the dataset, and close to it."""
    originals = np.concatenate([ep.images["front"] for ep in written]).astype(np.int16)
    decoded = np.concatenate([ep.images["front"] for ep in back]).astype(np.int16)
    assert decoded.shape == originals.shape
    distance = np.abs(decoded[:, None] - originals[None]).mean(axis=(2, 3, 4))  # [decoded, original]
    np.testing.assert_array_equal(distance.argmin(1), np.arange(len(originals)))
    assert np.abs(decoded - originals).mean() < 3.0  # lossy yuv420p, far below the 8 levels between frames


@pytest.fixture(scope="module")
def video_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Episode]]:
    episodes = _episodes()
    root = tmp_path_factory.mktemp("video") / "ds"
    return write_dataset(episodes, root, fps=10, video=True, video_codec="libx264"), episodes


def test_video_dataset_follows_lerobot_layout(video_dataset: tuple[Path, list[Episode]]) -> None:
    root = video_dataset[0]
    info = json.loads((root / "meta/info.json").read_text())
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    feature = info["features"][KEY]
    assert feature["dtype"] == "video" and feature["shape"] == [SIZE, SIZE, 3]
    assert feature["info"]["video.codec"] == "h264" and feature["info"]["video.pix_fmt"] == "yuv420p"
    assert feature["info"]["video.fps"] == 10 and feature["info"]["is_depth_map"] is False
    assert (root / "videos" / KEY / "chunk-000/file-000.mp4").is_file()
    assert KEY not in pq.read_schema(root / "data/chunk-000/file-000.parquet").names
    rows = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [r[f"videos/{KEY}/from_timestamp"] for r in rows] == [0.0, 0.5, 1.2]
    assert [r[f"videos/{KEY}/to_timestamp"] for r in rows] == [0.5, 1.2, 1.6]
    assert validate_dataset(root) == []


def test_video_frames_read_back_frame_exact(video_dataset: tuple[Path, list[Episode]]) -> None:
    root, episodes = video_dataset
    ds = read_dataset(root)
    _assert_frame_exact(episodes, ds.episodes())
    middle = ds[6]  # episode 1, frame 1: decoded alone, at its own timestamp
    np.testing.assert_array_equal(middle[KEY], ds.episode(1).images["front"][1])  # same frame as in the run
    assert np.abs(middle[KEY].astype(float) - episodes[1].images["front"][1]).mean() < 3.0


def test_lerobot_default_codec_av1_reads_frame_exact(tmp_path: Path) -> None:
    episodes = _episodes((4, 3))
    root = write_dataset(episodes, tmp_path / "av1", fps=15, video=True)  # libsvtav1, g=2, crf=30 as LeRobot
    assert json.loads((root / "meta/info.json").read_text())["features"][KEY]["info"]["video.codec"] == "av1"
    _assert_frame_exact(episodes, read_dataset(root).episodes())


def test_episodes_spread_over_several_video_files(tmp_path: Path) -> None:
    episodes = _episodes()
    root = write_dataset(episodes, tmp_path / "files", fps=10, video=True, video_codec="libx264", video_file_mb=1e-6)
    rows = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [r[f"videos/{KEY}/file_index"] for r in rows] == [0, 1, 2]
    assert {r[f"videos/{KEY}/from_timestamp"] for r in rows} == {0.0}
    _assert_frame_exact(episodes, read_dataset(root).episodes())


def test_a_timestamp_without_a_frame_is_an_error_naming_the_file(
    video_dataset: tuple[Path, list[Episode]], tmp_path: Path
) -> None:
    root = Path(shutil.copytree(video_dataset[0], tmp_path / "shifted"))
    path = root / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    column = f"videos/{KEY}/from_timestamp"
    table = table.set_column(table.schema.get_field_index(column), column, pa.array([0.0, 0.55, 1.2]))
    pq.write_table(table, path)
    with pytest.raises(DatasetError, match=r"episode 1: .*file-000.mp4: no frame within 0.0001 s of t=0.550000 s"):
        read_dataset(root).episode(1)


def test_lerobot_depth_video_reads_as_metres(video_dataset: tuple[Path, list[Episode]], tmp_path: Path) -> None:
    """A LeRobot depth camera recorded as video: 12-bit log-quantised codes, HEVC ``gray12le`` (its defaults)."""
    root = Path(shutil.copytree(video_dataset[0], tmp_path / "depth"))
    frames = 16
    depth = np.linspace(0.3, 2.5, frames * SIZE * SIZE, dtype=np.float32).reshape(frames, SIZE, SIZE)
    path = root / "videos/observation.images.depth/chunk-000/file-000.mp4"
    path.parent.mkdir(parents=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("hevc", rate=10, options={"x265-params": "lossless=1:log-level=error"})
        stream.pix_fmt, stream.width, stream.height = "gray12le", SIZE, SIZE
        for i, codes in enumerate(quantize_depth(depth, {})):
            frame = av.VideoFrame.from_ndarray(codes, format="gray12le")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["observation.images.depth"] = {
        "dtype": "video",
        "shape": [SIZE, SIZE, 1],
        "names": ["height", "width", "channels"],
        "info": {"is_depth_map": True, "video.codec": "hevc", "video.pix_fmt": "gray12le"},
    }
    (root / "meta/info.json").write_text(json.dumps(info))
    meta = root / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(meta)
    for name in ("chunk_index", "file_index", "from_timestamp", "to_timestamp"):
        table = table.append_column(f"videos/observation.images.depth/{name}", table.column(f"videos/{KEY}/{name}"))
    pq.write_table(table, meta)
    back = read_dataset(root).episodes()
    decoded = np.concatenate([ep.depth["depth"] for ep in back])
    assert decoded.dtype == np.float32 and "depth" not in back[0].images
    np.testing.assert_allclose(decoded, depth, atol=5e-3)  # 12-bit log quantisation: ~1.5 mm steps at 1 m
