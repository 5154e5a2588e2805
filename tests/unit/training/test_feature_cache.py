"""Frozen-encoder feature caching: each distinct observation is encoded once over several epochs, the losses and
gradients match an uncached run, and trainable or stochastic encoders are never cached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from embodied.models.config import MMLLMConfig
from embodied.models.mmllm import MMLLM
from embodied.training.feature_cache import FeatureCache, frozen_feature_cache, is_cacheable
from embodied.training.metrics import read_metrics
from embodied.training.trainer import Trainer, TrainerSettings
from tests.factory import ENCODER_SPECS, HEAD_SPECS, observation, tiny_spec

OBSERVATIONS = 3
CAPTIONS = 2
CAMERAS = 2
FROZEN_ENCODERS = {"encoders": "frozen", "projector": "full", "backbone": "frozen", "heads": "frozen"}


def tiny_model(trainable: dict[str, Any], heads: dict[str, Any] | None = None) -> MMLLM:
    torch.manual_seed(0)
    encoders = {"image": ENCODER_SPECS["cnn"], "state": ENCODER_SPECS["proprio"]}
    return MMLLM(MMLLMConfig(spec=tiny_spec(encoders=encoders, heads=heads, trainable=trainable)))


def caption_samples() -> list[tuple[int, str]]:
    """(observation seed, caption): every observation has two captions, so it repeats within an epoch too."""
    return [(obs, f"caption {obs} {c}") for obs in range(OBSERVATIONS) for c in range(CAPTIONS)]


def collate_for(model: MMLLM):
    def collate(items: list[tuple[int, str]]) -> dict[str, Any]:
        return model.processor(
            [observation(obs) for obs, _ in items], ["describe."] * len(items), [t for _, t in items]
        )

    return collate


def rows_counter(module: object) -> list[int]:
    """Counts the input rows that really run through ``module`` (a forward hook sees every call)."""
    assert isinstance(module, nn.Module)
    rows: list[int] = []
    module.register_forward_hook(lambda _m, args, _out: rows.append(args[0].shape[0]))
    return rows


def train(run_dir: Path, cached: bool, epochs: int = 4) -> tuple[MMLLM, FeatureCache]:
    model = tiny_model(FROZEN_ENCODERS)
    per_epoch = -(-len(caption_samples()) // 2)
    settings = TrainerSettings(stage="align", max_steps=epochs * per_epoch, lr=1e-2, batch_size=2, progress_bar=False)
    trainer = Trainer(model, settings, caption_samples(), run_dir, collate=collate_for(model))
    with frozen_feature_cache(model, enabled=cached) as cache:
        trainer.train()
    return model, cache


def test_each_observation_is_encoded_once_over_four_epochs(tmp_path: Path) -> None:
    model = tiny_model(FROZEN_ENCODERS)
    image, state = model.stream_map["image"].encoder, model.stream_map["state"].encoder
    image_rows, state_rows = rows_counter(image.trunk), rows_counter(state.mlp)
    settings = TrainerSettings(stage="align", max_steps=12, lr=1e-2, batch_size=2, progress_bar=False)
    trainer = Trainer(model, settings, caption_samples(), tmp_path, collate=collate_for(model))
    with frozen_feature_cache(model) as cache:
        assert sorted(cache.encoders) == ["image", "state"]
        trainer.train()
    assert trainer.state.epoch == 4  # 6 samples / 2 per batch = 3 steps per epoch
    # 3 distinct observations: 3 × 2 cameras image rows and 3 state rows, out of 12 steps × 2 samples
    assert sum(image_rows) == OBSERVATIONS * CAMERAS and sum(state_rows) == OBSERVATIONS
    assert cache.stats.misses == OBSERVATIONS * (CAMERAS + 1)
    assert cache.stats.hits + cache.stats.misses == 12 * 2 * (CAMERAS + 1)
    assert "forward" not in vars(image)  # leaving the context restores the encoder


def test_trainer_losses_match_an_uncached_run(tmp_path: Path) -> None:
    cached_model, cache = train(tmp_path / "cached", cached=True)
    plain_model, plain = train(tmp_path / "plain", cached=False)
    assert cache.stats.hits > 0 and plain.stats.hits == plain.stats.misses == 0
    cached_losses = [r["loss"] for r in read_metrics(tmp_path / "cached")]
    plain_losses = [r["loss"] for r in read_metrics(tmp_path / "plain")]
    assert len(cached_losses) == 12 and cached_losses == pytest.approx(plain_losses, rel=1e-6, abs=1e-6)
    # features differ from batched ones in the last bits (misses are encoded row by row); 12 AdamW steps at lr 1e-2
    # carry that to ~2e-6 in the weights
    for (name, a), (_, b) in zip(cached_model.named_parameters(), plain_model.named_parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5), name


def test_gradients_match_and_second_pass_hits(tmp_path: Path) -> None:
    model = tiny_model(FROZEN_ENCODERS)
    batches = [collate_for(model)(caption_samples()[i : i + 3]) for i in (0, 3)]

    def loss_and_grads(batch: dict[str, Any]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.zero_grad(set_to_none=True)
        loss = model(**batch).loss
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    expected = [loss_and_grads(b) for b in batches]
    with frozen_feature_cache(model) as cache:
        for _ in range(2):  # first pass fills the cache, second is served from it
            for batch, (loss, grads) in zip(batches, expected, strict=True):
                got_loss, got_grads = loss_and_grads(batch)
                assert torch.allclose(got_loss, loss, atol=1e-6)
                assert len(got_grads) == len(grads) > 0
                assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(got_grads, grads, strict=True))
    assert cache.stats.misses == OBSERVATIONS * (CAMERAS + 1) and cache.stats.hits == 3 * OBSERVATIONS * (CAMERAS + 1)


def test_dense_maps_for_pointing_heads_hit_the_cache() -> None:
    model = tiny_model(FROZEN_ENCODERS, heads={"text": HEAD_SPECS["text"], "pointer": HEAD_SPECS["pointer"]})
    encoder = model.stream_map["image"].encoder
    proj_rows = rows_counter(encoder.trunk)  # the trunk runs once per dense map (the 1×1 proj is a matmul)
    batch = collate_for(model)(caption_samples())
    expected = model.dense_features(batch)
    calls_uncached = sum(proj_rows)
    with frozen_feature_cache(model):
        first, second = model.dense_features(batch), model.dense_features(batch)
    assert calls_uncached == len(caption_samples()) * CAMERAS
    assert sum(proj_rows) - calls_uncached == OBSERVATIONS * CAMERAS  # the second call ran no row
    for key, value in expected.items():
        assert torch.allclose(first[key], value, atol=1e-6) and torch.equal(first[key], second[key])


def test_trainable_encoders_are_not_cached() -> None:
    model = tiny_model({"encoders": "full"})
    image = model.stream_map["image"].encoder
    rows = rows_counter(image.trunk)
    batch = collate_for(model)(caption_samples())
    with frozen_feature_cache(model) as cache:
        assert cache.encoders == {}
        model(**batch)
    with FeatureCache({"image": image}) as forced:  # even when asked to, a trainable encoder passes through
        model(**batch)
    assert sum(rows) == 2 * len(caption_samples()) * CAMERAS
    assert forced.stats.hits == forced.stats.misses == 0


def test_cache_can_be_switched_off() -> None:
    model = tiny_model(FROZEN_ENCODERS)
    with frozen_feature_cache(model, enabled=False) as cache:
        assert cache.encoders == {}


class _Attention(nn.Module):
    """Applies dropout functionally from a float attribute, as transformers' attention modules do."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.dropout = dropout
        self.linear = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.dropout(self.linear(x), self.dropout, self.training)


@pytest.mark.parametrize(
    ("module", "cacheable_in_train"),
    [
        (nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.Dropout(0.0)), True),
        (nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1)), False),
        (nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)), False),
        (_Attention(0.1), False),
        (_Attention(0.0), True),
    ],
)
def test_only_deterministic_frozen_encoders_are_cacheable(module: nn.Module, cacheable_in_train: bool) -> None:
    module.requires_grad_(False)
    assert is_cacheable(module.train()) is cacheable_in_train
    assert is_cacheable(module.eval())  # eval mode: no dropout, fixed norm statistics
    assert not is_cacheable(module.requires_grad_(True))


def test_stochastic_encoder_passes_through_in_train_mode() -> None:
    encoder = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).requires_grad_(False)
    x = torch.ones(3, 4)
    with FeatureCache({"enc": encoder}) as cache:
        torch.manual_seed(0)
        train_out = encoder(x)
        encoder.eval()
        eval_a, eval_b = encoder(x), encoder(x)
    torch.manual_seed(0)
    assert torch.equal(train_out, encoder.train()(x))  # the same random draw: nothing was cached in train mode
    assert torch.equal(eval_a, eval_b) and cache.stats.misses == 1 and cache.stats.hits == 5
