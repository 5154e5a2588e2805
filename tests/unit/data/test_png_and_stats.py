"""The direct PNG encoder is lossless and readable by Pillow; batched statistics equal per-feature ones."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from embodied.data.images import encode_png, encode_pngs
from embodied.data.stats import feature_stats, features_stats


@pytest.mark.parametrize("shape", [(56, 56, 3), (7, 5, 1), (9, 4, 4), (6, 11)])
def test_encode_png_round_trips_through_pillow(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    image[: shape[0] // 2] = 200  # flat rows too: the Up filter's differences are zero there
    with Image.open(io.BytesIO(encode_png(image))) as decoded:
        assert decoded.format == "PNG"
        back = np.asarray(decoded)
    np.testing.assert_array_equal(back.reshape(image.shape), image)


def test_encode_png_refuses_two_channels() -> None:
    with pytest.raises(ValueError, match="C in 1, 3, 4"):
        encode_png(np.zeros((4, 4, 2), np.uint8))


def test_features_stats_equals_feature_stats() -> None:
    rng = np.random.default_rng(1)
    arrays: dict[str, np.ndarray] = {
        "action": rng.standard_normal((30, 7)).astype(np.float32),
        "index": np.arange(30, dtype=np.int64),
        "done": rng.random(30) > 0.5,
        "points": rng.random((30, 2, 2)).astype(np.float32),
    }
    batched = features_stats(arrays)
    assert list(batched) == list(arrays)
    for key, values in arrays.items():
        single = feature_stats(values)
        assert batched[key].keys() == single.keys()
        for stat, value in single.items():
            np.testing.assert_allclose(batched[key][stat], value, rtol=1e-12, atol=1e-12, err_msg=f"{key} {stat}")


@pytest.mark.parametrize("channels", [3, 1, 4])
def test_encode_pngs_matches_one_frame_at_a_time(channels: int) -> None:
    """The batched encoder (threaded deflate over runs of frames) gives, in order, each frame's own PNG."""
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (37, 12, 10, channels), dtype=np.uint8)  # 37: runs of unequal length
    frames[::3] = 17  # some constant frames between the noisy ones
    pngs = encode_pngs(frames)
    assert pngs == [encode_png(f) for f in frames]
    for png, frame in zip(pngs, frames, strict=True):
        with Image.open(io.BytesIO(png)) as decoded:
            np.testing.assert_array_equal(np.asarray(decoded).reshape(frame.shape), frame)


def test_write_dataset_pixel_statistics_equal_numpy_over_all_frames(tmp_path: Path) -> None:
    """stats.json's image statistics (summed per-episode pixel counts) equal numpy's over every frame."""
    from embodied.data import Episode, write_dataset

    rng = np.random.default_rng(3)
    episodes = [
        Episode(
            images={"front": rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)},
            state=np.zeros((n, 2), np.float32),
            actions=np.zeros((n, 3), np.float32),
            task="t",
        )
        for n in (5, 9, 4)
    ]
    root = write_dataset(episodes, tmp_path / "d", fps=10)
    stats = json.loads((root / "meta" / "stats.json").read_text())["observation.images.front"]
    pixels = np.concatenate([ep.images["front"] for ep in episodes]).reshape(-1, 3) / 255.0
    np.testing.assert_allclose(np.ravel(stats["mean"]), pixels.mean(0), rtol=1e-12)
    np.testing.assert_allclose(np.ravel(stats["std"]), pixels.std(0), rtol=1e-12)
    np.testing.assert_allclose(np.ravel(stats["q10"]), np.quantile(pixels, 0.1, axis=0), rtol=1e-12)
    assert stats["count"] == [18]


def test_encode_pngs_works_in_a_forked_child_after_the_parent_used_its_pool() -> None:
    """The encoder's thread pool does not survive ``fork``; a child must not wait on the parent's threads."""
    import multiprocessing

    frames = np.random.default_rng(4).integers(0, 256, (32, 6, 6, 3), dtype=np.uint8)
    expected = encode_pngs(frames)  # the parent's pool now exists
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(encode_pngs, (frames,)).get(timeout=30) == expected
