"""``pointcloud`` encoder: pinhole unprojection, patch grouping, invalid depth, intrinsics, settings."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from embodied.models.context import BuildContext
from embodied.models.encoders.pointcloud import (
    PointCloudEncoder,
    PointCloudSettings,
    fov_intrinsics,
    group_patches,
    unproject,
)

CTX = BuildContext(embed_dim=32, image_size=32, state_dim=9, action_dim=7)


def make(ctx: BuildContext = CTX, **settings: Any) -> PointCloudEncoder:
    torch.manual_seed(0)
    settings.setdefault("dim", 32)
    return PointCloudEncoder(PointCloudSettings(**settings), ctx)


@pytest.mark.parametrize("fov_deg", [60.0, 90.0])
def test_constant_plane_unprojects_to_the_fov_extents(fov_deg: float) -> None:
    z, size = 2.0, 32
    points = unproject(torch.full((1, 1, size, size), z), fov_intrinsics(size, size, fov_deg))  # [1, 3, H, W]
    x, y, depth = points[0]
    torch.testing.assert_close(depth, torch.full((size, size), z))
    # pixel centres: the outermost sit half a pixel inside the image edge at ±z·tan(fov/2)
    half_extent = z * math.tan(math.radians(fov_deg) / 2) * (size - 1) / size
    assert x.max().item() == pytest.approx(half_extent, rel=1e-5)
    assert x.min().item() == pytest.approx(-half_extent, rel=1e-5)
    assert y.max().item() == pytest.approx(half_extent, rel=1e-5)
    assert y.min().item() == pytest.approx(-half_extent, rel=1e-5)
    assert (x[:, 1:] > x[:, :-1]).all() and (y[1:] > y[:-1]).all()  # x grows rightwards, y downwards


def test_group_patches_tiles_row_major() -> None:
    maps = torch.arange(16.0).reshape(1, 1, 4, 4)
    groups = group_patches(maps, 2)  # [1, 4, 4, 1]
    assert groups[0, :, :, 0].tolist() == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]


def test_tokens_are_max_pooled_point_features_plus_centroid() -> None:
    encoder = make(grid=2)
    depth = 0.5 + torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        tokens = encoder(depth)  # [B, 4, D]
        dense = encoder.dense_features(depth)  # [B, D, 32, 32]
        points = unproject(depth, fov_intrinsics(32, 32, 60.0))
    assert tokens.shape == (2, 4, 32) and dense.shape == (2, 32, 32, 32)
    top_right_points = points[:, :, :16, 16:].flatten(2)  # group 1
    expected = dense[:, :, :16, 16:].amax(dim=(2, 3)) + encoder.centroid_embed(top_right_points.mean(-1))
    torch.testing.assert_close(tokens[:, 1], expected, atol=1e-5, rtol=1e-5)


def test_invalid_depth_is_left_out() -> None:
    encoder = make(grid=2)
    depth = torch.full((1, 1, 32, 32), 1.0)
    depth[0, 0, 20:, 20:] = 0.0  # no return in part of group 3
    depth_inf = depth.clone()
    depth_inf[0, 0, 20:, 20:] = float("inf")
    depth_far = depth.clone()
    depth_far[0, 0, 20:, 20:] = 50.0  # beyond max_depth
    with torch.no_grad():
        reference = encoder(depth)
        torch.testing.assert_close(encoder(depth_inf), reference)
        torch.testing.assert_close(encoder(depth_far), reference)
        empty = torch.ones(1, 1, 32, 32)
        empty[0, 0, :16, :16] = float("nan")  # group 0 has no valid point at all
        tokens = encoder(empty)
    assert torch.isfinite(tokens).all()
    assert tokens[0, 0].abs().max() == 0


def test_intrinsics_at_call_time() -> None:
    encoder = make()
    depth = 0.5 + torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        default = encoder(depth)
        same = encoder(depth, intrinsics=fov_intrinsics(32, 32, 60.0).expand(2, 3, 3))
        wider = encoder(depth, intrinsics=fov_intrinsics(32, 32, 100.0))
    torch.testing.assert_close(same, default)
    assert (wider - default).abs().max() > 1e-3


def test_pixel_stride_subsamples() -> None:
    encoder = make(pixel_stride=2, grid=4)
    depth = torch.ones(1, 1, 32, 32)
    assert encoder(depth).shape == (1, 16, 32)
    assert encoder.dense_features(depth).shape == (1, 32, 16, 16)


def test_wrong_input_and_grid_are_errors() -> None:
    with pytest.raises(ValueError, match=r"expects depth \[B, 1, H, W\]"):
        make()(torch.ones(1, 32, 32))
    with pytest.raises(ValueError, match="grid=5 must divide the 32×32 point map"):
        make(grid=5)


@pytest.mark.parametrize(
    "bad",
    [
        {"fov_deg": 0.0},
        {"fov_deg": 180.0},
        {"grid": 0},
        {"pixel_stride": 0},
        {"max_depth": 0.0},
        {"num_points": 128},
    ],
)
def test_settings_reject_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PointCloudSettings(**bad)
