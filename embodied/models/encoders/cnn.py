"""Family ``cnn``: a small convolutional stem for fast CPU runs, with spatial inductive bias.

``[B, 3, H, W]`` → optional CoordConv channels (normalised x/y maps appended to the input; Liu et al.
2018, "An intriguing failing of convolutional neural networks and the CoordConv solution") → conv stages
(the first strided by ``stride``, the rest stride 1) → a 1×1 projection to D: the dense map
``[B, D, H/s, W/s]`` that pixel-pointing heads score (Transporter/CLIPort style). Tokens are that map
pooled (average or max, ``pool``) to ``grid × grid`` plus a 2-D position embedding, optionally followed by ``keypoints``
spatial-softmax keypoint tokens (Levine et al. 2016, "End-to-end training of deep visuomotor policies"):
each keypoint's expected (x, y) is embedded linearly and tagged with a learned keypoint embedding.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt
from torch import nn

from embodied.models.context import BuildContext
from embodied.models.encoders.base import ENCODERS, Encoder
from embodied.registry import ComponentSettings


class CNNSettings(ComponentSettings):
    """Sizes of the conv stem and how its map becomes tokens."""

    dim: int | None = Field(
        default=None, ge=1, description="token and dense-map width D; null = the last stage's channels"
    )
    channels: list[PositiveInt] = Field(
        default=[32, 64], min_length=1, max_length=8, description="output channels of each 3×3 conv stage"
    )
    stride: int = Field(
        default=2, ge=1, le=2, description="stride of the first stage; the dense map is image_size / stride"
    )
    coord_channels: bool = Field(default=True, description="append x/y coordinate maps (CoordConv)")
    grid: int = Field(default=4, ge=1, le=64, description="the map is pooled to grid × grid tokens")
    pool: Literal["avg", "max"] = Field(
        default="avg",
        description="pooling of the map into grid tokens; max keeps small objects' features (a 3-px cube in a "
        "16×16 cell is 4% of an average)",
    )
    pos_embed: Literal["sincos", "learned", "none"] = Field(
        default="sincos", description="position embedding of the grid tokens: fixed 2-D sin-cos or learned"
    )
    keypoints: int = Field(default=0, ge=0, le=256, description="extra spatial-softmax keypoint tokens")


def coord_maps(batch: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """``[B, 2, H, W]``: x (left → right) and y (top → bottom) pixel-centre coordinates in [-1, 1]."""
    ys = torch.linspace(-1.0, 1.0, height, dtype=like.dtype, device=like.device)
    xs = torch.linspace(-1.0, 1.0, width, dtype=like.dtype, device=like.device)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y]).expand(batch, 2, height, width)


def sincos_2d(grid: int, dim: int) -> torch.Tensor:
    """``[grid², dim]`` fixed 2-D sin-cos embedding (MAE): half the channels encode y, half x; zero-padded."""
    quarter = dim // 4
    if quarter == 0:
        return torch.zeros(grid * grid, dim)
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float32) / quarter)  # [D/4]
    pos = torch.arange(grid, dtype=torch.float32)
    grid_y, grid_x = torch.meshgrid(pos, pos, indexing="ij")

    def encode(p: torch.Tensor) -> torch.Tensor:  # [g²] → [g², D/2]
        angles = p.reshape(-1, 1) * omega
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    table = torch.cat([encode(grid_y), encode(grid_x)], dim=1)  # [g², 4·(D/4)]
    return F.pad(table, (0, dim - table.shape[1]))


def spatial_softmax(logits: torch.Tensor, temperature: torch.Tensor | float = 1.0) -> torch.Tensor:
    """``[B, K, h, w]`` → ``[B, K, 2]``: expected (x, y) in [-1, 1] under a softmax over each map."""
    h, w = logits.shape[-2:]
    probs = torch.softmax(logits.flatten(2) / temperature, dim=-1)  # [B, K, h·w]
    coords = coord_maps(1, h, w, logits).flatten(2)[0]  # [2, h·w]
    return probs @ coords.T  # [B, K, 2]


def grid_pool(maps: torch.Tensor, grid: int, kind: str) -> torch.Tensor:
    """``[B, D, h, w]`` → ``[B, D, grid, grid]`` adaptive average/max pooling. Where ``grid`` divides the map, the
    fixed-window pool: the same numbers (each cell sums its window in the same order), and its backward skips the
    adaptive kernel's copy of the full-resolution gradient (issue 13)."""
    h, w = maps.shape[-2:]
    if h % grid == 0 and w % grid == 0:
        window = (h // grid, w // grid)
        return F.max_pool2d(maps, window) if kind == "max" else F.avg_pool2d(maps, window)
    return F.adaptive_max_pool2d(maps, grid) if kind == "max" else F.adaptive_avg_pool2d(maps, grid)


def pointwise(conv: nn.Conv2d, maps: torch.Tensor) -> torch.Tensor:
    """A 1×1 ``conv`` on ``[B, C, h, w]`` as one batched matmul ``W [D, C] @ maps [B, C, h·w]`` → ``[B, D, h, w]``.

    The same map up to float32 summation order; on the CPU, oneDNN's 1×1 convolution of a narrow map (16 channels)
    runs well below memory speed, and this is ~12% of the main job's instruct step faster (issue 13)."""
    b, _, h, w = maps.shape
    weight = conv.weight.flatten(1).expand(b, -1, -1)  # [B, D, C], no copy
    bias = conv.bias if conv.bias is not None else maps.new_zeros(conv.out_channels)
    return torch.baddbmm(bias[None, :, None], weight, maps.flatten(2)).view(b, -1, h, w)


def conv_stage(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    """3×3 conv → GroupNorm (batch-independent, so RL rollouts and training agree) → GELU."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1),
        nn.GroupNorm(math.gcd(8, out_ch), out_ch),
        nn.GELU(),
    )


@ENCODERS.register("cnn", CNNSettings)
class CNNEncoder(Encoder):
    """Small CoordConv stem → pooled grid tokens (+ spatial-softmax keypoints); dense map for pointing."""

    modality = "images"
    #: pool with a fixed window where the grid divides the map and hand the pool a contiguous gradient (issue 13);
    #: False: the adaptive pool as before (the same numbers; ``embodied.bench.instruct`` A/B)
    fixed_window_pool: bool = True
    #: the 1×1 projection to the dense map as a batched matmul (``pointwise``; issue 13); False: ``nn.Conv2d``
    matmul_projection: bool = True

    def __init__(self, settings: CNNSettings, ctx: BuildContext) -> None:
        super().__init__()
        self.settings = settings
        self._dim = settings.dim or settings.channels[-1]
        map_size = math.ceil(ctx.image_size / settings.stride)
        if settings.grid > map_size:
            raise ValueError(
                f"cnn grid={settings.grid} is larger than its {map_size}×{map_size} feature map "
                f"(image_size {ctx.image_size} / stride {settings.stride})"
            )
        in_ch = 3 + (2 if settings.coord_channels else 0)
        stages = []
        for i, out_ch in enumerate(settings.channels):
            stages.append(conv_stage(in_ch, out_ch, settings.stride if i == 0 else 1))
            in_ch = out_ch
        self.trunk = nn.Sequential(*stages)
        self.proj = nn.Conv2d(in_ch, self._dim, 1)
        grid_tokens = settings.grid**2
        if settings.pos_embed == "learned":
            self.pos = nn.Parameter(torch.randn(grid_tokens, self._dim) * 0.02)
        else:
            self.register_buffer("pos", self._fixed_positions(), persistent=False)
        if settings.keypoints:
            self.keypoint_logits = nn.Conv2d(in_ch, settings.keypoints, 1)
            self.log_temperature = nn.Parameter(torch.zeros(()))
            self.keypoint_xy = nn.Linear(2, self._dim)
            self.keypoint_id = nn.Parameter(torch.randn(settings.keypoints, self._dim) * 0.02)

    def _fixed_positions(self) -> torch.Tensor | None:
        return sincos_2d(self.settings.grid, self._dim) if self.settings.pos_embed == "sincos" else None

    def reset_buffers(self) -> None:
        """Recompute the fixed position table (``from_pretrained`` builds on the meta device; see MMLLM)."""
        if isinstance(self.pos, torch.Tensor) and not isinstance(self.pos, nn.Parameter):
            self.pos = self._fixed_positions().to(self.pos.device)  # type: ignore[union-attr]

    @property
    def embed_dim(self) -> int:
        return self._dim

    @property
    def num_tokens(self) -> int:
        return self.settings.grid**2 + self.settings.keypoints

    def _trunk(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → ``[B, C, H/s, W/s]``."""
        if self.settings.coord_channels:
            b, _, h, w = images.shape
            images = torch.cat([images, coord_maps(b, h, w, images)], dim=1)
        return self.trunk(images)  # type: ignore[no-any-return]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → ``[B, grid² + keypoints, D]``."""
        return self._encode(inputs, dense=False)[0]

    def dense_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → ``[B, D, H/s, W/s]`` (s = stride ≤ 2): the map the grid tokens pool."""
        return self._project(self._trunk(inputs))

    def _project(self, feats: torch.Tensor) -> torch.Tensor:
        """Trunk features ``[B, C, h, w]`` → the dense map ``[B, D, h, w]`` (the 1×1 ``proj``)."""
        return pointwise(self.proj, feats) if self.matmul_projection else self.proj(feats)  # type: ignore[no-any-return]

    def encode(self, inputs: torch.Tensor, dense: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One trunk pass → (tokens ``[B, grid² + keypoints, D]``, the dense map ``[B, D, H/s, W/s]`` if ``dense``)."""
        return self._encode(inputs, dense)

    def _encode(self, inputs: torch.Tensor, dense: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        # private, so that a wrapper of the public methods (FeatureCache) never re-enters itself through forward
        feats = self._trunk(inputs)
        dense_map = self._project(feats)  # [B, D, H/s, W/s]
        return self._tokens(self._pool(dense_map), feats), (dense_map if dense else None)

    def _pool(self, dense_map: torch.Tensor) -> torch.Tensor:
        """``[B, D, h, w]`` → ``[B, D, g, g]`` (``grid_pool``; the adaptive pool with ``fixed_window_pool`` off)."""
        if not self.fixed_window_pool:
            pool = F.adaptive_max_pool2d if self.settings.pool == "max" else F.adaptive_avg_pool2d
            return pool(dense_map, self.settings.grid)
        pooled = grid_pool(dense_map, self.settings.grid, self.settings.pool)
        if pooled.requires_grad:
            # the [B, g², D] tokens' gradient reaches the pool as a channels-last view, and the pool's backward then
            # computes the full map's gradient channels-last and copies it back (issue 13: ~10% of a step)
            pooled.register_hook(torch.Tensor.contiguous)
        return pooled

    def _tokens(self, pooled: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """Pooled map ``[B, D, g, g]`` (+ trunk features for keypoints) → ``[B, grid² + keypoints, D]``."""
        tokens = pooled.flatten(2).transpose(1, 2)  # [B, g², D]
        if self.pos is not None:
            tokens = tokens + self.pos
        if not self.settings.keypoints:
            return tokens
        xy = spatial_softmax(self.keypoint_logits(feats), self.log_temperature.exp())  # [B, K, 2]
        keypoints = self.keypoint_xy(xy) + self.keypoint_id  # [B, K, D]
        return torch.cat([tokens, keypoints], dim=1)
