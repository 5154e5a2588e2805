"""The direct PNG encoder is lossless and readable by Pillow; batched statistics equal per-feature ones."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from embodied.data.images import encode_png
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
