"""A modality stream: encoder → projector (→ + learned camera embedding) for one named input of the model.

Each stream owns a placeholder token (``<|image|>`` for stream ``image``) that the processor repeats
``num_tokens`` times in the prompt; the model swaps those positions for the stream's projected tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from embodied.models.context import BuildContext
from embodied.models.encoders.base import ENCODERS, Encoder
from embodied.models.projectors.base import PROJECTORS, Projector


def placeholder_token(stream: str) -> str:
    return f"<|{stream}|>"


@dataclass
class StreamOutputs:
    """What the streams give for one batch: ``tokens`` per stream ``[B, M_total, D_llm]`` (streams whose
    placeholder the prompts hold) and ``dense`` maps ``{"<stream>/<camera>": [B, D, h, w]}`` (when asked for)."""

    tokens: dict[str, torch.Tensor] = field(default_factory=dict)
    dense: dict[str, torch.Tensor] = field(default_factory=dict)


class ModalityStream(nn.Module):
    """Encodes one modality (all cameras for image/depth encoders) into ``[B, M_total, D_llm]`` tokens."""

    def __init__(
        self, name: str, encoder_spec: dict[str, Any], projector_spec: dict[str, Any], ctx: BuildContext
    ) -> None:
        super().__init__()
        self.name = name
        enc_entry, enc_settings = ENCODERS.resolve(encoder_spec)
        self.encoder: Encoder = enc_entry.target.from_config(enc_settings, ctx)
        proj_entry, proj_settings = PROJECTORS.resolve(projector_spec)
        self.projector: Projector = proj_entry.target.from_config(
            proj_settings, self.encoder.embed_dim, ctx.embed_dim, self.encoder.num_tokens
        )
        per_camera = self.encoder.modality in ("images", "depth")
        self.cameras: tuple[str, ...] = tuple(ctx.cameras) if per_camera else ()
        # one learned vector per camera, added to every token of that camera (shared encoder, see issue 2)
        self.camera_embedding = nn.Parameter(torch.zeros(max(len(self.cameras), 1), ctx.embed_dim))

    @property
    def modality(self) -> str:
        return self.encoder.modality

    @property
    def num_tokens(self) -> int:
        """M_total: projected tokens per camera × cameras."""
        return self.projector.num_tokens * max(len(self.cameras), 1)

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        """Read ``batch[modality]`` and return ``[B, M_total, D_llm]``."""
        return self.encode(batch, dense=False)[0]

    def encode(self, batch: dict[str, Any], dense: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Tokens ``[B, M_total, D_llm]`` and, when ``dense``, the per-camera maps of ``dense_features`` — from
        one encoder pass per camera (``Encoder.encode``), so a pointing head's map costs no second trunk pass."""
        inputs = batch.get(self.modality)
        if inputs is None:
            raise ValueError(f"stream {self.name!r} needs batch[{self.modality!r}], which is missing")
        if not self.cameras:
            tokens, _ = self.encoder.encode(inputs, dense=False)
            return self.projector(tokens) + self.camera_embedding[0], {}
        missing = [c for c in self.cameras if c not in inputs]
        if missing:
            raise ValueError(
                f"stream {self.name!r} needs cameras {missing} in batch[{self.modality!r}], got {sorted(inputs)}"
            )
        parts, maps = [], {}
        for i, cam in enumerate(self.cameras):
            tokens, feats = self.encoder.encode(inputs[cam], dense=dense)
            parts.append(self.projector(tokens) + self.camera_embedding[i])
            if feats is not None:
                maps[cam] = feats
        return torch.cat(parts, dim=1), maps

    def dense_features(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Per camera ``[B, D, h, w]`` maps where the encoder has them (pointing heads score these)."""
        if not self.cameras:  # state-like streams have no image plane
            return {}
        inputs = batch.get(self.modality) or {}
        out: dict[str, torch.Tensor] = {}
        for cam in self.cameras:
            feats = self.encoder.dense_features(inputs[cam]) if cam in inputs else None
            if feats is not None:
                out[cam] = feats
        return out
