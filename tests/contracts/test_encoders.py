"""The encoder contract, checked for every registered name (new families are covered automatically)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import embodied.models.encoders  # noqa: F401  (registers every family)
from embodied.models.context import BuildContext
from embodied.models.encoders.base import ENCODERS, Encoder
from embodied.registry import ComponentSettings
from tests.factory import TINY_VISION

CTX = BuildContext(embed_dim=32, image_size=32, cameras=("front",), state_dim=9, action_dim=7)
BATCH = 2

#: settings for families whose defaults cannot build a model by themselves (everything else: defaults)
TINY_SETTINGS: dict[str, dict[str, Any]] = {
    "hf-vision": {"config": TINY_VISION["siglip"]},
}


def modality_input(modality: str, generator: torch.Generator) -> torch.Tensor:
    """The documented input of each modality (see ``Encoder``) at the contract's sizes."""
    size = CTX.image_size
    if modality == "images":  # [B, 3, H, W], normalised
        return torch.randn(BATCH, 3, size, size, generator=generator)
    if modality == "depth":  # [B, 1, H, W], metres
        return 0.3 + 1.2 * torch.rand(BATCH, 1, size, size, generator=generator)
    if modality == "state":  # [B, S]
        return torch.randn(BATCH, CTX.state_dim, generator=generator)
    pytest.fail(f"encoder modality {modality!r} has no documented input in this contract test")


def build(name: str) -> Encoder:
    entry, settings = ENCODERS.resolve({"kind": name, **TINY_SETTINGS.get(name, {})})
    encoder = entry.target.from_config(settings, CTX)
    assert isinstance(encoder, Encoder)
    return encoder


@pytest.mark.parametrize("name", ENCODERS.names())
def test_registration(name: str) -> None:
    entry = ENCODERS.get(name)
    assert issubclass(entry.target, Encoder)
    assert issubclass(entry.settings, ComponentSettings)
    assert entry.description, f"encoder {name!r} needs a class docstring (its one-line description)"
    undocumented = [f for f, info in entry.settings.model_fields.items() if not info.description]
    assert not undocumented, f"encoder {name!r} settings without a description: {undocumented}"


@pytest.mark.parametrize("name", ENCODERS.names())
def test_forward_shape_finite_and_backward(name: str) -> None:
    torch.manual_seed(0)
    encoder = build(name)
    assert encoder.modality in ("images", "depth", "state")
    assert isinstance(encoder.embed_dim, int) and encoder.embed_dim > 0
    assert isinstance(encoder.num_tokens, int) and encoder.num_tokens > 0
    inputs = modality_input(encoder.modality, torch.Generator().manual_seed(0))

    tokens = encoder(inputs)
    assert tokens.shape == (BATCH, encoder.num_tokens, encoder.embed_dim)  # [B, N, D]
    assert tokens.dtype == torch.float32
    assert torch.isfinite(tokens).all()

    tokens.square().mean().backward()
    grads = [p.grad for p in encoder.parameters() if p.grad is not None]
    assert any(g.abs().sum() > 0 for g in grads), f"encoder {name!r}: no parameter received a gradient"


@pytest.mark.parametrize("name", ENCODERS.names())
def test_dense_features(name: str) -> None:
    torch.manual_seed(0)
    encoder = build(name)
    inputs = modality_input(encoder.modality, torch.Generator().manual_seed(1))
    dense = encoder.dense_features(inputs)
    if dense is None:
        return
    assert dense.dim() == 4, f"dense_features must be [B, D, h, w], got {tuple(dense.shape)}"
    assert dense.shape[:2] == (BATCH, encoder.embed_dim)
    assert torch.isfinite(dense).all()
