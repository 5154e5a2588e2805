"""``cnn`` encoder: CoordConv breaks translation equivariance, dense map resolution, keypoints, settings."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import ValidationError

from embodied.models.context import BuildContext
from embodied.models.encoders.cnn import CNNEncoder, CNNSettings, sincos_2d, spatial_softmax

CTX = BuildContext(embed_dim=32, image_size=32, state_dim=9, action_dim=7)


def make(ctx: BuildContext = CTX, **settings: Any) -> CNNEncoder:
    torch.manual_seed(0)
    settings.setdefault("dim", 32)
    return CNNEncoder(CNNSettings(**settings), ctx)


def dot_image(row: int, col: int) -> torch.Tensor:
    """``[1, 3, 32, 32]`` zeros with one bright pixel, away from the borders."""
    image = torch.zeros(1, 3, 32, 32)
    image[:, :, row, col] = 3.0
    return image


@pytest.mark.parametrize("coord_channels", [False, True])
def test_coord_channels_make_features_depend_on_absolute_position(coord_channels: bool) -> None:
    encoder = make(coord_channels=coord_channels)
    shift = 8  # pixels; the stride-2 map moves by 4 cells
    with torch.no_grad():
        here = encoder.dense_features(dot_image(10, 10))[0, :, 4:7, 4:7]  # 3×3 cells around the dot
        there = encoder.dense_features(dot_image(10 + shift, 10 + shift))[0, :, 8:11, 8:11]
    if coord_channels:  # the same local pattern elsewhere gives different features: position is encoded
        assert (here - there).abs().max() > 1e-2
    else:  # a plain conv stem is translation-equivariant away from the borders
        torch.testing.assert_close(here, there, atol=1e-5, rtol=1e-5)


def test_translated_image_changes_tokens() -> None:
    encoder = make()
    with torch.no_grad():
        a, b = encoder(dot_image(6, 6)), encoder(dot_image(6, 22))
    assert a.shape == (1, 16, 32)
    assert (a - b).abs().max() > 1e-3


@pytest.mark.parametrize(("stride", "side"), [(1, 32), (2, 16)])
def test_dense_map_is_at_least_half_image_resolution(stride: int, side: int) -> None:
    encoder = make(stride=stride, dim=24)
    dense = encoder.dense_features(torch.randn(3, 3, 32, 32))
    assert dense.shape == (3, 24, side, side)
    assert side >= CTX.image_size // 2


def test_grid_tokens_are_pooled_dense_map_plus_position() -> None:
    encoder = make(grid=2, pos_embed="none")
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        dense = encoder.dense_features(images)  # [B, D, 16, 16]
        tokens = encoder(images)  # [B, 4, D]
    top_left = dense[:, :, :8, :8].mean(dim=(2, 3))
    torch.testing.assert_close(tokens[:, 0], top_left, atol=1e-5, rtol=1e-5)


def test_position_embeddings() -> None:
    table = sincos_2d(4, 32)
    assert table.shape == (16, 32)
    assert torch.cdist(table, table).add(torch.eye(16)).min() > 0.1  # every grid cell distinct
    assert sincos_2d(2, 6)[:, 4:].abs().sum() == 0  # widths not divisible by 4: zero-padded
    fixed = make(pos_embed="sincos")
    learned = make(pos_embed="learned")
    assert not any(p.shape == (16, 32) for p in fixed.parameters())
    assert learned.pos.requires_grad and learned.pos.shape == (16, 32)


def test_spatial_softmax_finds_the_peak() -> None:
    logits = torch.zeros(1, 2, 8, 8)
    logits[0, 0, 2, 6] = 50.0  # row 2, column 6
    logits[0, 1, 7, 0] = 50.0
    xy = spatial_softmax(logits)
    grid = torch.linspace(-1, 1, 8)
    torch.testing.assert_close(xy[0, 0], torch.stack([grid[6], grid[2]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(xy[0, 1], torch.stack([grid[0], grid[7]]), atol=1e-4, rtol=0)
    uniform = spatial_softmax(torch.zeros(1, 1, 5, 5))
    torch.testing.assert_close(uniform, torch.zeros(1, 1, 2), atol=1e-6, rtol=0)


def test_keypoint_tokens_are_appended_and_trained() -> None:
    encoder = make(keypoints=3)
    assert encoder.num_tokens == 16 + 3
    tokens = encoder(torch.randn(2, 3, 32, 32))
    assert tokens.shape == (2, 19, 32)
    tokens[:, 16:].sum().backward()
    assert encoder.keypoint_logits.weight.grad is not None
    assert encoder.keypoint_logits.weight.grad.abs().sum() > 0
    assert encoder.log_temperature.grad is not None


def test_dim_defaults_to_last_stage_width() -> None:
    assert make(channels=[8, 24], dim=None).embed_dim == 24
    assert make(dim=48).embed_dim == 48


@pytest.mark.parametrize(
    "bad",
    [
        {"channels": []},
        {"channels": [32, 0]},
        {"stride": 3},
        {"grid": 0},
        {"pos_embed": "rope"},
        {"keypoints": -1},
        {"dim": 0},
        {"colour_jitter": True},
    ],
)
def test_settings_reject_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CNNSettings(**bad)


def test_grid_larger_than_feature_map_is_an_error() -> None:
    with pytest.raises(ValueError, match="grid=16 is larger than its 8×8 feature map"):
        make(BuildContext(embed_dim=32, image_size=16), grid=16)


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_grid_tokens_pool_the_dense_map(pool: str) -> None:
    """Tokens are the dense map pooled per grid cell (average or max); max keeps a one-pixel object's peak."""
    encoder = make(pool=pool, pos_embed="none", grid=4)
    image = dot_image(10, 10)
    with torch.no_grad():
        dense = encoder.dense_features(image)  # [1, D, 16, 16]
        tokens = encoder(image)  # [1, 16, D]
    pooled = torch.nn.functional.adaptive_max_pool2d if pool == "max" else torch.nn.functional.adaptive_avg_pool2d
    expected = pooled(dense, 4).flatten(2).transpose(1, 2)
    torch.testing.assert_close(tokens, expected)


def test_unknown_pool_is_refused() -> None:
    with pytest.raises(ValidationError, match="pool"):
        CNNSettings(pool="median")
