"""``pointer`` head: primitive arguments (pick, place, ...) as a categorical over image locations.

Following Zeng et al., "Transporter Networks: Rearranging the Visual World for Robotic Manipulation" (2020) and
Shridhar et al., "CLIPort: What and Where Pathways for Robotic Manipulation" (2021): instead of regressing or
binning coordinates, every location of a dense feature map is scored and a cross-entropy pulls the target
pixel up. Here the "what" pathway is the LLM: one learned query token per argument is appended after the prompt,
its hidden state ``[D]`` becomes a query vector (MLP), and the logits are ``query · key / sqrt(d_k)`` with keys a
1×1 projection of the encoder's dense map ``[B, D_map, h, w]`` (optionally upsampled to the image resolution).
With several cameras (or streams) the maps are concatenated, so one distribution covers every location of all
of them. With ``rotation_bins = R > 0`` each query gives R vectors and the distribution covers (location,
rotation) pairs, as Transporter's place module scores rotated crops.

Encodings:

- location ``l`` indexes the concatenation of the maps in the order of ``dense_features`` (the model's stream
  order, then its camera order), row-major inside a map; the action index of an argument is ``l * R + r``
  (``R = max(rotation_bins, 1)``). ``log_prob(actions [B, K], hidden, dense_features=...)`` takes these indices
  (``PointerOutput.index``) and is exact: the categorical's log-probability of that location (and rotation).
- pixels ``(u, v)`` are column and row of the camera image (integers at pixel centres, as in
  ``envs/tabletop/camera.py``); a location predicts its cell centre, a target pixel selects the nearest cell.

Targets: ``batch["point_targets"] [B, K, 2]`` pixels, ``batch["point_camera"] [B]`` or ``[B, K]`` (index of
the map, default 0), optionally ``batch["point_mask"] [B]`` (1 = the row has targets; rows of other sample kinds
in a mixed batch have 0) and, with rotations, ``batch["point_rotation"] [B, K]`` bins. ``target_sigma > 0`` spreads
the target over neighbouring cells with a Gaussian of that many pixels (label smoothing in image space).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from embodied.models.context import BuildContext
from embodied.models.heads.base import HEADS, Batch, Head, HeadDistribution
from embodied.models.heads.chunks import check_queries, learned_queries
from embodied.registry import ComponentSettings


class PointerSettings(ComponentSettings):
    """Settings of the ``pointer`` head."""

    arguments: list[str] = Field(
        default=["pick", "place"], min_length=1, max_length=16, description="primitive arguments, one query each"
    )
    rotation_bins: int = Field(default=0, ge=0, le=64, description="R rotation bins scored per location; 0 = none")
    hidden_dim: int = Field(default=128, ge=1, le=16384, description="width of the MLP from a query's state")
    key_dim: int = Field(default=32, ge=1, le=4096, description="d_k, width of the query and key vectors")
    upsample: bool = Field(default=True, description="upsample the key maps bilinearly to the image resolution")
    target_sigma: float = Field(
        default=0.0, ge=0.0, le=16.0, description="std in pixels of the Gaussian target; 0 = one-hot nearest cell"
    )
    accuracy_radius: float = Field(
        default=2.0, gt=0.0, le=64.0, description="a prediction within this many pixels counts as correct"
    )

    @field_validator("arguments")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"arguments must be unique, got {value}")
        return value


@dataclass
class PointerOutput:
    """What ``predict`` returns, per sample and argument: ``pixels [B, K, 2]`` (u, v), ``camera [B, K]`` (index
    into ``cameras``), ``rotation [B, K]`` (bin), ``yaw [B, K]`` (radians, bin centre in [-π/2, π/2]) and
    ``index [B, K]`` (the action ``log_prob`` scores)."""

    pixels: torch.Tensor
    camera: torch.Tensor
    rotation: torch.Tensor
    yaw: torch.Tensor
    index: torch.Tensor
    cameras: tuple[str, ...]


@dataclass
class Locations:
    """Every scored location, in ``dense_features`` order: per map its ``features [B, C_i, L_i]`` and the 1×1 key
    projection still to apply (``projections[i]``: ``C_i → d_k``; ``None`` where the features are keys already), cell
    centres ``pixels [L, 2]`` and map index ``camera [L]``. ``keys`` builds the keys ``[B, d_k, L]``."""

    features: list[torch.Tensor]
    projections: list[nn.Conv2d | None]
    pixels: torch.Tensor
    camera: torch.Tensor
    cameras: tuple[str, ...]

    @property
    def keys(self) -> torch.Tensor:
        """``[B, d_k, L]``: every location's key vector."""
        keys = [
            f if proj is None else torch.einsum("dc,bcl->bdl", proj.weight.flatten(1), f) + _bias(proj)[:, None]
            for f, proj in zip(self.features, self.projections, strict=True)
        ]
        return torch.cat(keys, dim=2)


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    """The key projection's bias ``[d_k]`` (zeros for a conv built without one)."""
    return conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)


def cell_centres(h: int, w: int, image_hw: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
    """``[h·w, 2]`` (u, v) image-pixel centres of the cells of an ``h×w`` map covering an ``H×W`` image."""
    height, width = image_hw
    us = (torch.arange(w, dtype=torch.float32, device=like.device) + 0.5) * (width / w) - 0.5
    vs = (torch.arange(h, dtype=torch.float32, device=like.device) + 0.5) * (height / h) - 0.5
    grid_v, grid_u = torch.meshgrid(vs, us, indexing="ij")
    return torch.stack([grid_u.flatten(), grid_v.flatten()], dim=1)


@HEADS.register("pointer", PointerSettings)
class PointerHead(Head):
    """One learned query per primitive argument → a categorical over the locations of the dense maps."""

    has_log_prob = True
    uses_dense_features = True
    #: score ``(query W) · features`` instead of building the keys ``W · features`` (issue 13); False: the keys
    #: first, as before (the same logits up to float32 summation order; ``embodied.bench.instruct`` A/B)
    fold_key_projection: bool = True

    def __init__(self, settings: PointerSettings, ctx: BuildContext) -> None:
        super().__init__()
        if ctx.embed_dim < 1:
            raise ValueError(f"the pointer head needs embed_dim >= 1, got {ctx.embed_dim}")
        self.settings = settings
        self.embed_dim = ctx.embed_dim
        self.image_hw = (ctx.image_size, ctx.image_size)
        self.rotations = max(settings.rotation_bins, 1)
        self.queries = learned_queries(len(settings.arguments), ctx.embed_dim)  # [K, D]
        self.query_mlp = nn.Sequential(
            nn.LayerNorm(ctx.embed_dim),
            nn.Linear(ctx.embed_dim, settings.hidden_dim),
            nn.GELU(),
            nn.Linear(settings.hidden_dim, self.rotations * settings.key_dim),
        )
        # one 1×1 key projection per stream with a dense map: {stream: D_map}, set by MMLLM from its encoders
        dims: dict[str, int] = dict(ctx.extras.get("dense_dims") or {})
        self.key_proj = nn.ModuleDict({name: nn.Conv2d(dim, settings.key_dim, 1) for name, dim in dims.items()})

    @property
    def chunk_length(self) -> int:
        return 1  # one primitive action (all its arguments) per prediction

    @property
    def num_queries(self) -> int:
        return len(self.settings.arguments)

    def query_embeddings(self) -> torch.Tensor:
        return self.queries

    def has_targets(self, batch: Batch) -> bool:
        return batch.get("point_targets") is not None

    # ----------------------------------------------------------------------------------------- scoring
    def locations(self, dense_features: dict[str, torch.Tensor] | None) -> Locations:
        """Every location of every map, concatenated in ``dense_features`` order (see ``Locations``)."""
        usable = {k: v for k, v in (dense_features or {}).items() if k.split("/")[0] in self.key_proj}
        if not usable:
            raise ValueError(
                "the pointer head scores image locations but got no dense features "
                f"(maps: {sorted(dense_features or {})}, key projections for streams: {sorted(self.key_proj)}); "
                "give the model an image or depth encoder with a spatial map (e.g. cnn)"
            )
        features: list[torch.Tensor] = []
        projections: list[nn.Conv2d | None] = []
        pixels, camera = [], []
        for i, (name, feats) in enumerate(usable.items()):
            proj = cast(nn.Conv2d, self.key_proj[name.split("/")[0]])
            feats = feats.float()  # [B, C, h, w]
            resize = self.settings.upsample and tuple(feats.shape[-2:]) != self.image_hw
            if self.fold_key_projection and not (resize and feats.shape[1] > self.settings.key_dim):
                key_proj: nn.Conv2d | None = proj  # applied inside ``logits``, folded into the queries
            else:  # keys first: upsampling the narrower tensor (a wide map, e.g. a ViT's, stays small)
                feats, key_proj = proj(feats), None  # [B, d_k, h, w]
            if resize:  # bilinear resizing and the 1×1 projection commute (weights sum to 1)
                feats = F.interpolate(feats, size=self.image_hw, mode="bilinear", align_corners=False)
            h, w = feats.shape[-2:]
            features.append(feats.flatten(2))  # [B, C, h·w]
            projections.append(key_proj)
            pixels.append(cell_centres(h, w, self.image_hw, feats))
            camera.append(torch.full((h * w,), i, dtype=torch.long, device=feats.device))
        return Locations(features, projections, torch.cat(pixels), torch.cat(camera), tuple(usable))

    def logits(self, hidden: torch.Tensor, locations: Locations) -> torch.Tensor:
        """Query states ``[B, K, D]`` → logits ``[B, K, L·R]`` (index ``l·R + r``).

        ``query · (W f + b) = (query W) · f + query · b``: with the key projection folded into the queries the keys
        ``[B, d_k, L]`` are never built (issue 13: the 1×1 key conv over every pixel was half the instruct step).
        """
        check_queries("pointer", hidden, self.num_queries, self.embed_dim)
        b, k = hidden.shape[:2]
        query = self.query_mlp(hidden.float()).reshape(b, k, self.rotations, -1)  # [B, K, R, d_k]
        scores = []
        for feats, proj in zip(locations.features, locations.projections, strict=True):
            if proj is None:  # feats are keys [B, d_k, L_i]
                scores.append(torch.einsum("bkrd,bdl->bklr", query, feats))
                continue
            folded = (query @ proj.weight.flatten(1)).reshape(b, k * self.rotations, -1)  # [B, K·R, C_i]
            bias = (query @ _bias(proj)).reshape(b, k * self.rotations, 1)  # [B, K·R, 1]
            # one batched matmul whose feature gradient [B, C_i, L_i] comes out contiguous (no layout copy)
            per_map = torch.baddbmm(bias, folded, feats)  # [B, K·R, L_i]
            scores.append(per_map.reshape(b, k, self.rotations, -1).transpose(2, 3))  # [B, K, L_i, R]
        return (torch.cat(scores, dim=2) / math.sqrt(self.settings.key_dim)).reshape(b, k, -1)

    # ----------------------------------------------------------------------------------------- training
    def target_distribution(self, batch: Batch, locations: Locations) -> torch.Tensor:
        """``[B, K, L·R]`` target probabilities: the nearest cell (or a Gaussian) of the target camera's map."""
        targets = batch["point_targets"].float().to(locations.pixels.device)
        b, k = targets.shape[:2]
        if targets.dim() != 3 or k != self.num_queries or targets.shape[2] != 2:
            raise ValueError(
                f"expected point_targets [B, {self.num_queries}, 2] pixels (u, v), got {tuple(targets.shape)}"
            )
        dist2 = ((locations.pixels[None, None] - targets[:, :, None]) ** 2).sum(-1)  # [B, K, L]
        on_camera = locations.camera[None, None] == self._target_camera(batch, b, k, locations)[..., None]
        dist2 = dist2.masked_fill(~on_camera, float("inf"))
        sigma = self.settings.target_sigma
        if sigma > 0:
            spatial = torch.softmax(-dist2 / (2 * sigma**2), dim=-1)  # [B, K, L], Gaussian normalised
        else:
            spatial = F.one_hot(dist2.argmin(dim=-1), dist2.shape[-1]).float()
        rotation = F.one_hot(self._target_rotation(batch, b, k, targets.device), self.rotations).float()  # [B, K, R]
        return (spatial[..., None] * rotation[:, :, None]).reshape(b, k, -1)

    def _target_camera(self, batch: Batch, b: int, k: int, locations: Locations) -> torch.Tensor:
        camera = batch.get("point_camera")
        if camera is None:
            return torch.zeros(b, k, dtype=torch.long, device=locations.camera.device)
        camera = torch.as_tensor(camera, device=locations.camera.device).long()
        camera = camera[:, None].expand(b, k) if camera.dim() == 1 else camera
        if int(camera.max()) >= len(locations.cameras):
            raise ValueError(f"point_camera {int(camera.max())} is out of range for maps {locations.cameras}")
        return camera

    def _target_rotation(self, batch: Batch, b: int, k: int, device: torch.device) -> torch.Tensor:
        if self.settings.rotation_bins == 0:
            return torch.zeros(b, k, dtype=torch.long, device=device)
        if batch.get("point_rotation") is None:
            raise ValueError(f"rotation_bins={self.settings.rotation_bins} needs batch['point_rotation'] [B, K] bins")
        return torch.as_tensor(batch["point_rotation"], device=device).long().reshape(b, k)

    def loss(self, hidden: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy between the location distribution and the target pixel (mean over samples, arguments)."""
        locations = self.locations(batch.get("dense_features"))
        logits = self.logits(hidden, locations)  # [B, K, L·R]
        target = self.target_distribution(batch, locations)
        mask = batch.get("point_mask")
        weight = torch.ones(logits.shape[0], device=logits.device) if mask is None else mask.float().to(logits.device)
        per_row = -(target * torch.log_softmax(logits, dim=-1)).sum(-1).mean(-1)  # [B]
        loss = (per_row * weight).sum() / weight.sum().clamp(min=1.0)
        metrics = {"loss": float(loss.detach())}
        with torch.no_grad():
            best = logits.argmax(dim=-1) // self.rotations  # [B, K] location
            chosen = target.reshape(*target.shape[:2], -1, self.rotations).sum(-1).argmax(dim=-1)
            near = (locations.pixels[best] - batch["point_targets"].float().to(best.device)).norm(dim=-1)
            hit = (near <= self.settings.accuracy_radius) & (locations.camera[best] == locations.camera[chosen])
            rows = weight > 0
            for i, name in enumerate(self.settings.arguments):
                metrics[f"{name}_acc"] = float(hit[rows, i].float().mean()) if bool(rows.any()) else 0.0
        return loss, metrics

    def distribution_params(self, hidden: torch.Tensor, batch: Batch) -> HeadDistribution | None:
        """Location (× rotation) logits ``[B·K, L·R]`` of every argument, on the rows with pointing targets."""
        logits = self.logits(hidden, self.locations(batch.get("dense_features")))  # [B, K, L·R]
        mask = batch.get("point_mask")
        if mask is not None:
            logits = logits[mask.to(logits.device) > 0]
        return HeadDistribution("categorical", logits.reshape(-1, logits.shape[-1]))

    # ----------------------------------------------------------------------------------------- acting
    def log_prob(
        self, actions: torch.Tensor, hidden: torch.Tensor, dense_features: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Sum over arguments of ``log p(index)`` for action indices ``[B, K]`` (``PointerOutput.index``) → ``[B]``."""
        logits = self.logits(hidden, self.locations(dense_features))
        if actions.shape != logits.shape[:2]:
            raise ValueError(f"expected action indices [B, {self.num_queries}], got {tuple(actions.shape)}")
        log_p = torch.log_softmax(logits, dim=-1).gather(-1, actions.long()[..., None])[..., 0]  # [B, K]
        return log_p.sum(dim=1)

    def predict(
        self,
        hidden: torch.Tensor,
        dense_features: dict[str, torch.Tensor] | None = None,
        sample: bool = False,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        **kwargs: Any,
    ) -> PointerOutput:
        """The most likely location (and rotation) of every argument, or a sample drawn with ``generator`` from the
        softmax of ``logits / temperature``."""
        locations = self.locations(dense_features)
        logits = self.logits(hidden, locations)  # [B, K, L·R]
        if sample:
            probs = torch.softmax(logits / temperature, dim=-1).flatten(0, 1)  # [B·K, L·R]
            index = torch.multinomial(probs, 1, generator=generator).reshape(logits.shape[:2])
        else:
            index = logits.argmax(dim=-1)
        loc, rot = index // self.rotations, index % self.rotations
        yaw = (rot.float() + 0.5) * (math.pi / self.rotations) - math.pi / 2
        if self.settings.rotation_bins == 0:
            yaw = torch.zeros_like(yaw)
        return PointerOutput(locations.pixels[loc], locations.camera[loc], rot, yaw, index, locations.cameras)
