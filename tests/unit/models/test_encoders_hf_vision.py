"""``hf-vision`` encoder: SigLIP/CLIP/ViT/DINOv2 patch tokens, layer choice, prefix tokens, local paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from embodied.models.context import BuildContext
from embodied.models.encoders.hf_vision import HFVisionEncoder, HFVisionSettings
from tests.factory import TINY_VISION

CTX = BuildContext(embed_dim=64, image_size=32, state_dim=9, action_dim=7)
PREFIX = {"siglip": 0, "clip": 1, "vit": 1, "dinov2": 1}  # CLS tokens each family puts before its patches


def make(ctx: BuildContext = CTX, **settings: Any) -> HFVisionEncoder:
    torch.manual_seed(0)
    return HFVisionEncoder(HFVisionSettings(**settings), ctx)


def images(batch: int = 2, size: int = 32) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("family", sorted(TINY_VISION))
def test_patch_tokens_per_family(family: str) -> None:
    encoder = make(config=TINY_VISION[family]).eval()
    assert (encoder.num_tokens, encoder.embed_dim) == (16, 32)  # (32 / 8)² patches of width hidden_size
    x = images()
    with torch.no_grad():
        tokens = encoder(x)  # [B, 16, 32]
        reference = encoder.tower(pixel_values=x).last_hidden_state  # [B, prefix + 16, 32]
        dense = encoder.dense_features(x)
    assert reference.shape[1] == 16 + PREFIX[family]
    assert dense is not None
    torch.testing.assert_close(tokens, reference[:, PREFIX[family] :])
    assert dense.shape == (2, 32, 4, 4)
    torch.testing.assert_close(dense[:, :, 1, 2], tokens[:, 1 * 4 + 2])  # row-major patch grid


@pytest.mark.parametrize("family", ["siglip", "dinov2"])
@pytest.mark.parametrize("layer", [0, 1, -2])
def test_select_layer_takes_that_hidden_state(family: str, layer: int) -> None:
    encoder = make(config=TINY_VISION[family], select_layer=layer).eval()
    x = images()
    with torch.no_grad():
        states = encoder.tower(pixel_values=x, output_hidden_states=True).hidden_states
        tokens = encoder(x)
    torch.testing.assert_close(tokens, states[layer][:, PREFIX[family] :])
    assert not torch.allclose(tokens, states[-1][:, PREFIX[family] :])  # not just the last block


def test_select_layer_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"select_layer=5 is out of range: .* has 3 hidden states"):
        make(config=TINY_VISION["vit"], select_layer=5)


def test_prefix_tokens_kept_or_required() -> None:
    assert make(config=TINY_VISION["clip"], drop_cls=False).num_tokens == 17
    assert make(config=TINY_VISION["clip"], drop_cls=True).num_tokens == 16
    assert make(config=TINY_VISION["siglip"], drop_cls=False).num_tokens == 16
    with pytest.raises(ValueError, match="drop_cls=True but SiglipVisionModel has no prefix token"):
        make(config=TINY_VISION["siglip"], drop_cls=True)


def test_image_size_follows_the_model() -> None:
    encoder = make(BuildContext(embed_dim=64, image_size=48), config=TINY_VISION["vit"])
    assert encoder.tower.config.image_size == 48
    assert encoder(images(size=48)).shape == (2, 36, 32)


def test_composite_config_builds_only_the_vision_tower() -> None:
    vision = {k: v for k, v in TINY_VISION["siglip"].items() if k != "model_type"}
    encoder = make(config={"model_type": "siglip", "vision_config": vision})
    assert type(encoder.tower).__name__ == "SiglipVisionModel"
    assert encoder(images()).shape == (2, 16, 32)


def test_convolutional_tower_gives_its_flattened_map() -> None:
    resnet = {
        "model_type": "resnet",
        "embedding_size": 8,
        "hidden_sizes": [8, 16],
        "depths": [1, 1],
        "layer_type": "basic",
    }
    encoder = make(config=resnet)
    x = images()
    dense = encoder.dense_features(x)  # [B, 16, 4, 4]: stem /4, second stage /2
    assert dense is not None
    assert dense.shape == (2, 16, 4, 4)
    assert encoder.num_tokens == 16 and encoder.embed_dim == 16
    torch.testing.assert_close(encoder(x), dense.flatten(2).transpose(1, 2))


def test_local_path_round_trip(tmp_path: Path) -> None:
    built = make(config=TINY_VISION["siglip"]).eval()
    built.tower.save_pretrained(tmp_path / "siglip")
    loaded = make(path=str(tmp_path / "siglip")).eval()
    x = images()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), built(x))
    assert all(p.dtype == torch.float32 for p in loaded.parameters())


def test_local_path_of_a_full_clip_loads_its_vision_weights(tmp_path: Path) -> None:
    from transformers import CLIPConfig, CLIPModel

    vision = {k: v for k, v in TINY_VISION["clip"].items() if k not in ("model_type", "projection_dim")}
    text = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "vocab_size": 99,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "pad_token_id": 1,
    }
    torch.manual_seed(1)
    full = CLIPModel(CLIPConfig(vision_config={**vision, "image_size": 32}, text_config=text, projection_dim=32)).eval()
    full.save_pretrained(tmp_path / "clip")
    encoder = make(path=str(tmp_path / "clip")).eval()
    assert type(encoder.tower).__name__ == "CLIPVisionModel"
    x = images()
    with torch.no_grad():
        expected = full.vision_model(pixel_values=x).last_hidden_state[:, 1:]
        torch.testing.assert_close(encoder(x), expected)


def test_local_path_at_another_resolution_interpolates_positions(tmp_path: Path) -> None:
    make(config=TINY_VISION["siglip"]).tower.save_pretrained(tmp_path / "siglip")
    encoder = make(BuildContext(embed_dim=64, image_size=48), path=str(tmp_path / "siglip"))
    assert encoder.num_tokens == 36
    assert encoder(images(size=48)).shape == (2, 36, 32)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a local directory"):
        make(path=str(tmp_path / "nowhere"))


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"config": TINY_VISION["vit"], "path": "/tmp"},
        {"config": {"hidden_size": 32}},
        {"config": TINY_VISION["vit"], "select_layer": "last"},
        {"config": TINY_VISION["vit"], "trust_remote_code": True},
    ],
)
def test_settings_reject_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HFVisionSettings(**bad)
