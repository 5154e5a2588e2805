"""Grounded answering ("look, then answer"): the model points at what a prompt refers to and reads it back.

Issue 12: answers and plans read from a pooled 4×4 grid lose 2–4-pixel objects, while the pointer head, which
scores the encoder's full-resolution dense map, finds them. With ``grounding`` in the model spec every prompt ends
with one ``<|look|>`` slot, and the model runs the backbone twice:

1. **look.** The slot holds a learned query embedding; its hidden state ``[D]`` becomes a query vector (MLP) that
   scores every location ``l`` of the dense map ``F [B, C, h, w]`` with ``logit_l = q · (W F_l + b) / sqrt(d_k)``
   (the pointer head's scoring; Transporter / CLIPort). ``p_l = sigmoid(logit_l)`` is a heatmap of the prompt's
   referents' centres — trained, where a sample names them (``look_targets``), with CenterNet's penalty-reduced
   focal loss (Zhou et al., 2019, "Objects as Points", eq. 1: ``alpha = 2``, ``beta = 4``, normalised by the number
   of referents; no referent, as in "is there a yellow sphere?" when there is none, means an all-negative map).
2. **read.** From the look: the ``patch × patch`` cells of ``F`` around the ``top_cells`` strongest cells (weighted
   by the softmax of their logits; the patch keeps an object's outline, which an average over it loses), where they
   are
   (expected (x, y) in [-1, 1]), how strongly something matched (``max_l p_l``) and how many things matched — the
   soft count ``sum_l p_l · [l is a 3×3 local maximum]`` (CenterNet's peak extraction), given to the MLP as
   radial features around 0 … ``max_count``. An MLP maps them to one token ``[D]``.
3. **answer.** The slot holds that token and the backbone runs again; every head reads this second pass.

The heatmap is an image location a user can inspect (``look`` in ``MMLLM.predict``'s grounding output). Without
targets (action prompts, say) the look is trained only through what the heads' losses pass back through the read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from embodied.config.model import GroundingSettings
from embodied.models.heads.pointer import cell_centres
from embodied.models.processor import LOOK_TOKEN  # the placeholder every prompt ends with

__all__ = ["LOOK_TOKEN", "Grounding", "GroundingSettings", "Look"]


@dataclass
class Look:
    """One look: ``logits [R, h·w]`` over ``pixels [h·w, 2]`` (cell centres, image pixels (u, v)) of map ``h×w``,
    for the batch rows ``rows [R]`` whose prompts looked."""

    logits: torch.Tensor
    pixels: torch.Tensor
    shape: tuple[int, int]
    rows: torch.Tensor | None = None

    @property
    def heatmap(self) -> torch.Tensor:
        """``[B, h, w]`` sigmoid probabilities that a referent's centre is in each cell."""
        return torch.sigmoid(self.logits).reshape(-1, *self.shape)

    def peaks(self) -> torch.Tensor:
        """``[B, h·w]``: the heatmap where it is a 3×3 local maximum (CenterNet's peak extraction), else 0."""
        heat = self.heatmap[:, None]  # [B, 1, h, w]
        is_peak = F.max_pool2d(heat, 3, stride=1, padding=1) == heat
        return (heat * is_peak).flatten(1)

    def count(self) -> torch.Tensor:
        """``[B]`` soft count of referents: the sum of the peaks' probabilities."""
        return self.peaks().sum(dim=1)

    def points(self, threshold: float = 0.5) -> list[torch.Tensor]:
        """Per row, the pixels ``[N_b, 2]`` of the peaks above ``threshold``: where the model looked."""
        peaks = self.peaks()
        return [self.pixels[row > threshold] for row in peaks]


class Grounding(nn.Module):
    """The look query, the location scorer and the read MLP (see the module docstring)."""

    def __init__(self, settings: GroundingSettings, embed_dim: int, map_dim: int, image_size: int) -> None:
        super().__init__()
        self.settings = settings
        self.image_hw = (image_size, image_size)
        self.query = nn.Parameter(torch.randn(embed_dim) * 0.02)  # the slot's embedding in the look pass
        self.query_mlp = nn.Sequential(
            nn.LayerNorm(embed_dim),
            nn.Linear(embed_dim, settings.hidden_dim),
            nn.GELU(),
            nn.Linear(settings.hidden_dim, settings.key_dim),
        )
        self.key_proj = nn.Conv2d(map_dim, settings.key_dim, 1)
        # CenterNet starts its heatmaps at a small prior probability (there: 0.1) so the many empty cells do not
        # swamp the first steps; referents cover a handful of a map's thousands of cells, hence 0.01
        self.bias = nn.Parameter(torch.tensor(math.log(0.01 / 0.99)))
        patch_dim = map_dim * settings.patch**2
        self.feature_norm = nn.LayerNorm(patch_dim)
        read_in = patch_dim + 2 + 1 + settings.max_count + 1  # patch, (x, y), max p, radial count features
        self.read_mlp = nn.Sequential(
            nn.Linear(read_in, settings.hidden_dim), nn.GELU(), nn.Linear(settings.hidden_dim, embed_dim)
        )

    def look(self, hidden: torch.Tensor, dense: torch.Tensor, rows: torch.Tensor | None = None) -> Look:
        """The slot's look-pass state ``[R, D]`` and dense map ``[R, C, h, w]`` of batch rows ``rows`` → the look."""
        query = self.query_mlp(hidden.float())  # [B, d_k]
        # q · (W F_l + b) = (q W) · F_l + q · b: the keys [B, d_k, h·w] are never built (as the pointer head)
        folded = query @ self.key_proj.weight.flatten(1)  # [B, C]
        offset = query @ self.key_proj.bias  # type: ignore[operator]  # [B]
        scores = torch.einsum("bc,bcl->bl", folded, dense.float().flatten(2)) + offset[:, None]
        logits = scores / math.sqrt(self.settings.key_dim) + self.bias
        h, w = dense.shape[-2:]
        return Look(logits, cell_centres(h, w, self.image_hw, dense), (h, w), rows)

    def read(self, look: Look, dense: torch.Tensor) -> torch.Tensor:
        """The look and the dense map ``[B, C, h, w]`` → the answer pass's slot token ``[B, D]``."""
        attention = torch.softmax(look.logits, dim=1)  # [B, h·w]
        features = self._patch(look.logits, dense.float())  # [B, C·k²]
        xy = attention @ (look.pixels / (self.image_hw[0] - 1) * 2.0 - 1.0)  # [B, 2]
        strongest = torch.sigmoid(look.logits).amax(dim=1, keepdim=True)  # [B, 1]
        levels = torch.arange(self.settings.max_count + 1, device=dense.device, dtype=torch.float32)
        count = torch.exp(-((look.count()[:, None] - levels) ** 2) / 0.5)  # [B, max_count + 1]
        read = torch.cat([self.feature_norm(features), xy, strongest, count], dim=1)
        return self.read_mlp(read)  # type: ignore[no-any-return]

    def _patch(self, logits: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """The ``k × k`` cells of the map around the ``top_cells`` strongest look cells, weighted by the softmax of
        their logits: ``[B, C·k²]`` (cells outside the map are zero). Gathered, not computed for every cell: the
        look is sharp, and a map-wide weighted patch costs k² passes over ``[B, C, h·w]`` and their gradients."""
        b, c, h, w = dense.shape
        k = self.settings.patch
        top = logits.topk(min(self.settings.top_cells, h * w), dim=1)  # [B, T] logits and cell indices
        weights = torch.softmax(top.values, dim=1)  # [B, T]
        offsets = torch.arange(k, device=dense.device)
        rows = (top.indices // w)[:, :, None, None] + offsets[:, None]  # [B, T, k, 1] rows of the padded map
        cols = (top.indices % w)[:, :, None, None] + offsets[None, :]  # [B, T, 1, k]
        padded = F.pad(dense, (k // 2,) * 4).permute(0, 2, 3, 1)  # [B, h + k - 1, w + k - 1, C]
        batch = torch.arange(b, device=dense.device)[:, None, None, None]
        patches = padded[batch, rows, cols]  # [B, T, k, k, C]
        mixed = (weights[:, :, None, None, None] * patches).sum(dim=1)  # [B, k, k, C]
        return mixed.permute(0, 3, 1, 2).reshape(b, c * k * k)  # [B, C, k, k] → [B, C·k²]

    def target(self, look: Look, targets: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """``[B, h·w]`` Gaussian heatmap (peak 1) around each row's first ``counts[b]`` of ``targets [B, K, 2]``."""
        dist2 = ((look.pixels[None, None] - targets.float()[:, :, None]) ** 2).sum(-1)  # [B, K, L]
        valid = torch.arange(targets.shape[1], device=targets.device)[None] < counts[:, None]  # [B, K]
        dist2 = dist2.masked_fill(~valid[..., None], float("inf"))
        heat = torch.exp(-dist2 / (2 * self.settings.target_sigma**2)).amax(dim=1)  # [B, L]
        nearest = dist2.argmin(dim=-1)  # [B, K]: each referent's own cell is exactly 1
        rows = torch.arange(targets.shape[0], device=targets.device)[:, None].expand_as(nearest)
        heat[rows[valid], nearest[valid]] = 1.0
        return heat

    def loss(self, look: Look, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """CenterNet's focal loss of the look on the rows with ``look_mask`` 1 (targets ``look_targets [B, K, 2]``,
        ``look_count [B]`` of them real; only the rows that looked, ``look.rows``, count)."""
        device = look.logits.device
        rows = look.rows if look.rows is not None else torch.arange(look.logits.shape[0], device=device)
        mask = batch["look_mask"].float().to(device)[rows]
        counts = batch["look_count"].long().to(device)[rows]
        target = self.target(look, batch["look_targets"].to(device)[rows], counts)
        alpha, beta = self.settings.focal_alpha, self.settings.focal_beta
        log_p, log_not_p = F.logsigmoid(look.logits), F.logsigmoid(-look.logits)
        p = torch.sigmoid(look.logits)
        positive = target == 1.0
        per_cell = torch.where(
            positive, (1 - p) ** alpha * log_p, (1 - target) ** beta * p**alpha * log_not_p
        )  # [B, L]
        per_row = -per_cell.sum(dim=1) / counts.clamp(min=1).float()
        loss = (per_row * mask).sum() / mask.sum().clamp(min=1.0)
        with torch.no_grad():
            rows = mask > 0
            error = (look.count() - counts.float()).abs()
            metrics = {
                "loss": float(loss.detach()),
                "count_acc": float((error[rows] < 0.5).float().mean()) if bool(rows.any()) else 0.0,
            }
        return loss * self.settings.loss_weight, metrics
