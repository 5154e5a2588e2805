"""Family ``hf-vision``: any ``transformers`` vision tower (SigLIP, CLIP, ViT, DINOv2, ...) as image encoder.

The tower is built from a config dict (``AutoConfig.for_model(**config)`` + ``AutoModel.from_config``, with
``image_size`` set to the model's) or loaded from a local directory (``AutoModel.from_pretrained``, never
with remote code). A composite config (full ``siglip``/``clip`` with a text tower) gives only its vision part.

Tokens are the patch tokens of one layer (``select_layer``, Prismatic/LLaVA style), prefix tokens (CLS,
registers) dropped by default: ``[B, 3, H, W]`` → ``[B, N, D]`` with N = (H / patch)². Convolutional towers
whose hidden states are maps ``[B, C, h, w]`` (ResNet, ConvNeXt) give their flattened map as tokens.
"""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING, Any

import torch
from pydantic import Field, model_validator

from embodied.models.context import BuildContext
from embodied.models.encoders.base import ENCODERS, Encoder
from embodied.registry import ComponentSettings, SettingsIssue

if TYPE_CHECKING:
    from transformers import PreTrainedModel


class HFVisionSettings(ComponentSettings):
    """Which vision tower to build and which of its features to hand on."""

    config: dict[str, Any] | None = Field(
        default=None,
        description="transformers config as a dict with 'model_type' (e.g. 'siglip_vision_model', "
        "'clip_vision_model', 'vit', 'dinov2'); randomly initialised. Exactly one of config/path.",
    )
    path: str | None = Field(
        default=None,
        description="local directory written by save_pretrained (never downloaded, no remote code)",
    )
    select_layer: int = Field(
        default=-1,
        description="hidden state to take: -1 = the model's output (after its final norm where it has one), "
        "other values index hidden_states (0 = patch embeddings, -2 = the second to last block)",
    )
    drop_cls: bool | None = Field(
        default=None,
        description="drop prefix tokens (CLS, registers); null = drop whatever precedes the patches",
    )

    @model_validator(mode="after")
    def _one_source(self) -> HFVisionSettings:
        if (self.config is None) == (self.path is None):
            raise ValueError("hf-vision needs exactly one of 'config' (a dict) or 'path' (a local directory)")
        if self.config is not None and not isinstance(self.config.get("model_type"), str):
            raise ValueError("hf-vision 'config' needs a 'model_type' string, e.g. 'siglip_vision_model'")
        return self

    def nested_issues(self) -> list[SettingsIssue]:
        """``config`` built and checked by transformers, then its sizes (``embodied.models.hf_config_check``)."""
        from embodied.models.hf_config_check import VISION_SIZES, hf_config_issues

        return [] if self.config is None else hf_config_issues(self.config, VISION_SIZES, "vision")


def build_vision_tower(settings: HFVisionSettings, image_size: int) -> PreTrainedModel:
    """The vision model named by ``settings``, in fp32; composite configs give their vision sub-model."""
    from transformers import AutoConfig, AutoModel

    if settings.config is not None:
        config = AutoConfig.for_model(**settings.config)
        config = getattr(config, "vision_config", None) or config
        if hasattr(config, "image_size"):
            config.image_size = image_size
        return AutoModel.from_config(config).float()  # type: ignore[no-any-return]
    path = str(settings.path)
    if not os.path.isdir(path):
        raise ValueError(f"hf-vision path {path!r} is not a local directory (models are never downloaded)")
    config = AutoConfig.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    vision = getattr(config, "vision_config", None)
    kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False, "dtype": torch.float32}
    if vision is not None:  # a full CLIP/SigLIP checkpoint: load only its vision tower's weights
        kwargs["config"] = vision
    return AutoModel.from_pretrained(path, **kwargs).float()  # type: ignore[no-any-return]


@ENCODERS.register("hf-vision", HFVisionSettings)
class HFVisionEncoder(Encoder):
    """Any transformers vision tower (SigLIP, CLIP, ViT, DINOv2) → its patch tokens."""

    modality = "images"

    def __init__(self, settings: HFVisionSettings, ctx: BuildContext) -> None:
        super().__init__()
        self.settings = settings
        self.image_size = ctx.image_size
        self.tower: PreTrainedModel = build_vision_tower(settings, ctx.image_size)
        config = self.tower.config
        params = inspect.signature(self.tower.forward).parameters
        tower_size = getattr(config, "image_size", ctx.image_size)
        # a checkpoint trained at another resolution: resample its position embeddings (ViT/CLIP/SigLIP)
        self._interpolate = tower_size != ctx.image_size and "interpolate_pos_encoding" in params
        patch = getattr(config, "patch_size", None)
        self._grid = ctx.image_size // patch if isinstance(patch, int) and patch > 0 else None
        self._prefix, self._dim, self._num_tokens, self._map = self._probe()

    def _probe(self) -> tuple[int, int, int, bool]:
        """One blank image → (prefix tokens, D, N, features are maps); also checks ``select_layer``."""
        with torch.no_grad():
            feats = self._select(torch.zeros(1, 3, self.image_size, self.image_size))
        if feats.dim() == 4:  # [1, C, h, w]: convolutional tower, no prefix tokens
            return 0, feats.shape[1], feats.shape[2] * feats.shape[3], True
        length, dim = feats.shape[1], feats.shape[2]
        if self._grid is not None and length < self._grid**2:
            self._grid = None  # not a square patch grid: tokens only, no dense map
        prefix = length - self._grid**2 if self._grid is not None else 0
        if self.settings.drop_cls and prefix == 0:
            raise ValueError(
                f"hf-vision drop_cls=True but {type(self.tower).__name__} has no prefix token before its "
                f"{length} patch tokens; set drop_cls to null or false"
            )
        keep_prefix = self.settings.drop_cls is False
        return prefix, dim, length if keep_prefix else length - prefix, False

    def _select(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → the selected hidden state ``[B, L, D]`` (``[B, C, h, w]`` for conv towers)."""
        kwargs: dict[str, Any] = {"output_hidden_states": self.settings.select_layer != -1}
        if self._interpolate:
            kwargs["interpolate_pos_encoding"] = True
        out = self.tower(pixel_values=images, **kwargs)
        if self.settings.select_layer == -1:
            return out.last_hidden_state  # type: ignore[no-any-return]
        states = out.hidden_states
        if not -len(states) <= self.settings.select_layer < len(states):
            raise ValueError(
                f"hf-vision select_layer={self.settings.select_layer} is out of range: "
                f"{type(self.tower).__name__} has {len(states)} hidden states (embeddings + blocks)"
            )
        return states[self.settings.select_layer]  # type: ignore[no-any-return]

    @property
    def embed_dim(self) -> int:
        return self._dim

    @property
    def num_tokens(self) -> int:
        return self._num_tokens

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → ``[B, N, D]``."""
        feats = self._select(inputs)
        if self._map:
            return feats.flatten(2).transpose(1, 2)  # [B, C, h, w] → [B, h·w, C]
        return feats if self.settings.drop_cls is False else feats[:, self._prefix :]

    def dense_features(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """``[B, 3, H, W]`` → patch grid ``[B, D, H / patch, W / patch]`` (prefix tokens always left out)."""
        feats = self._select(inputs)
        if self._map:
            return feats
        if self._grid is None:
            return None
        patches = feats[:, self._prefix :]  # [B, g·g, D]
        return patches.transpose(1, 2).reshape(patches.shape[0], self._dim, self._grid, self._grid)
