"""Family ``pointcloud``: a depth image ``[B, 1, H, W]`` (metres) → PointNet-style tokens ``[B, N, D]``.

Design, chosen to stay fast on CPU:

1. **Unprojection.** Every pixel (centre ``u = j + 0.5``, ``v = i + 0.5``) becomes a camera-frame point with a
   pinhole model (OpenCV axes: x right, y down, z forward): ``x = (u - cx) z / fx``, ``y = (v - cy) z / fy``.
   The intrinsics come from a symmetric field of view (``fov_deg``, horizontal = vertical, principal point at
   the image centre, so the image edge ``u = 0`` lies at ``x = -z tan(fov/2)``) unless a ``[B, 3, 3]`` or
   ``[3, 3]`` pixel-unit matrix ``K`` is passed at call time.
2. **Grouping.** Farthest-point sampling + ball query (PointNet++) is too slow on CPU, so the groups are a
   fixed ``grid × grid`` tiling of the depth image: neighbouring pixels are neighbouring points on a surface,
   and grouping becomes a reshape. ``pixel_stride`` keeps every k-th pixel to bound the points per group.
3. **Per-group PointNet** (Qi et al. 2017): a shared MLP over each point's offset from its group centroid and
   its absolute position, max-pooled over the group's valid points, plus an embedding of the centroid itself
   as the token's position. Pixels with no return (depth ≤ 0, non-finite, beyond ``max_depth``) are left out
   of the pool and the centroid; an empty group gives a zero feature.

``dense_features`` returns the per-point features before pooling, a map ``[B, D, H/k, W/k]``.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field
from torch import nn

from embodied.models.context import BuildContext
from embodied.models.encoders.base import ENCODERS, Encoder
from embodied.registry import ComponentSettings


class PointCloudSettings(ComponentSettings):
    """Camera model, grouping and widths of the depth → point-cloud encoder."""

    dim: int = Field(default=64, ge=1, description="token and per-point feature width D")
    fov_deg: float = Field(default=60.0, gt=0.0, lt=180.0, description="camera field of view (degrees)")
    grid: int = Field(default=4, ge=1, le=64, description="the depth image is tiled into grid × grid groups")
    pixel_stride: int = Field(default=1, ge=1, le=16, description="keep every k-th pixel in each direction")
    hidden_dim: int = Field(default=64, ge=1, description="hidden width of the shared point MLP")
    max_depth: float = Field(default=10.0, gt=0.0, description="depths beyond this (m): no return")


def fov_intrinsics(height: int, width: int, fov_deg: float) -> torch.Tensor:
    """``[3, 3]`` pinhole matrix: symmetric field of view, principal point at the image centre."""
    focal_x = (width / 2) / math.tan(math.radians(fov_deg) / 2)
    focal_y = (height / 2) / math.tan(math.radians(fov_deg) / 2)
    return torch.tensor([[focal_x, 0.0, width / 2], [0.0, focal_y, height / 2], [0.0, 0.0, 1.0]])


def unproject(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Depth ``[B, 1, H, W]`` + ``K`` ``[B, 3, 3]`` or ``[3, 3]`` → camera-frame points ``[B, 3, H, W]``."""
    b, _, h, w = depth.shape
    k = intrinsics.to(depth).expand(b, 3, 3)
    v = torch.arange(h, dtype=depth.dtype, device=depth.device) + 0.5  # pixel centres
    u = torch.arange(w, dtype=depth.dtype, device=depth.device) + 0.5
    fx, fy = k[:, 0, 0].view(b, 1, 1), k[:, 1, 1].view(b, 1, 1)
    cx, cy = k[:, 0, 2].view(b, 1, 1), k[:, 1, 2].view(b, 1, 1)
    z = depth[:, 0]  # [B, H, W]
    x = (u.view(1, 1, w) - cx) * z / fx
    y = (v.view(1, h, 1) - cy) * z / fy
    return torch.stack([x, y, z], dim=1)


def group_patches(maps: torch.Tensor, grid: int) -> torch.Tensor:
    """``[B, C, H, W]`` → ``[B, grid², P, C]``: the grid × grid tiles, P = (H/grid)·(W/grid) pixels each."""
    b, c, h, w = maps.shape
    ph, pw = h // grid, w // grid
    tiles = maps.reshape(b, c, grid, ph, grid, pw).permute(0, 2, 4, 3, 5, 1)  # [B, g, g, ph, pw, C]
    return tiles.reshape(b, grid * grid, ph * pw, c)


@ENCODERS.register("pointcloud", PointCloudSettings)
class PointCloudEncoder(Encoder):
    """Depth image → unprojected points → per-patch PointNet tokens."""

    modality = "depth"

    def __init__(self, settings: PointCloudSettings, ctx: BuildContext) -> None:
        super().__init__()
        side = math.ceil(ctx.image_size / settings.pixel_stride)
        if side % settings.grid:
            raise ValueError(
                f"pointcloud grid={settings.grid} must divide the {side}×{side} point map "
                f"(image_size {ctx.image_size} / pixel_stride {settings.pixel_stride})"
            )
        self.settings = settings
        self._dim = settings.dim
        # per point: offset from its group's centroid (local shape) and absolute position (where it is)
        self.point_mlp = nn.Sequential(
            nn.Linear(6, settings.hidden_dim),
            nn.GELU(),
            nn.Linear(settings.hidden_dim, self._dim),
        )
        self.centroid_embed = nn.Linear(3, self._dim)

    @property
    def embed_dim(self) -> int:
        return self._dim

    @property
    def num_tokens(self) -> int:
        return self.settings.grid**2

    def _points(self, depth: torch.Tensor, intrinsics: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, 1, H, W]`` → points ``[B, 3, H/k, W/k]`` (invalid: zeros), validity ``[B, 1, H/k, W/k]``."""
        if depth.dim() != 4 or depth.shape[1] != 1:
            raise ValueError(f"pointcloud encoder expects depth [B, 1, H, W], got shape {tuple(depth.shape)}")
        if intrinsics is None:
            intrinsics = fov_intrinsics(depth.shape[2], depth.shape[3], self.settings.fov_deg)
        points = unproject(depth, intrinsics)
        stride = self.settings.pixel_stride
        points, depth = points[:, :, ::stride, ::stride], depth[:, :, ::stride, ::stride]
        valid = torch.isfinite(depth) & (depth > 0) & (depth <= self.settings.max_depth)
        return torch.where(valid, points, torch.zeros_like(points)), valid

    def _point_features(
        self, depth: torch.Tensor, intrinsics: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-point features ``[B, G, P, D]``, validity ``[B, G, P, 1]``, group centroids ``[B, G, 3]``."""
        points, valid = self._points(depth, intrinsics)
        grid = self.settings.grid
        pts = group_patches(points, grid)  # [B, G, P, 3]
        mask = group_patches(valid.to(points.dtype), grid)  # [B, G, P, 1]
        count = mask.sum(dim=2).clamp_min(1.0)  # [B, G, 1]
        centroid = pts.sum(dim=2) / count  # [B, G, 3]; invalid points are zeros
        local = pts - centroid.unsqueeze(2)
        feats = self.point_mlp(torch.cat([local, pts], dim=-1))  # [B, G, P, D]
        return feats, mask, centroid

    def forward(self, inputs: torch.Tensor, intrinsics: torch.Tensor | None = None) -> torch.Tensor:
        """Depth ``[B, 1, H, W]`` (optionally with ``K`` ``[B, 3, 3]``) → ``[B, grid², D]``."""
        feats, mask, centroid = self._point_features(inputs, intrinsics)
        pooled = feats.masked_fill(mask == 0, float("-inf")).amax(dim=2)  # [B, G, D]
        has_points = mask.amax(dim=2) > 0  # [B, G, 1]
        pooled = torch.where(has_points, pooled, torch.zeros_like(pooled))
        return pooled + self.centroid_embed(centroid) * has_points

    def dense_features(self, inputs: torch.Tensor, intrinsics: torch.Tensor | None = None) -> torch.Tensor:
        """Depth ``[B, 1, H, W]`` → per-point features ``[B, D, H/k, W/k]`` (zeros where no return)."""
        feats, mask, _ = self._point_features(inputs, intrinsics)
        b, _, h, w = inputs.shape
        side_h, side_w = math.ceil(h / self.settings.pixel_stride), math.ceil(w / self.settings.pixel_stride)
        grid = self.settings.grid
        feats = feats * mask  # [B, G, P, D]
        tiles = feats.reshape(b, grid, grid, side_h // grid, side_w // grid, self._dim)
        return tiles.permute(0, 5, 1, 3, 2, 4).reshape(b, self._dim, side_h, side_w)
