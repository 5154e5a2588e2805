"""Pointing targets through the data path: Episode → LeRobot v3 → samples → batch → the pointer head's loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from embodied.data import Episode, make_samples, read_dataset, to_batch, write_dataset
from embodied.data import layout as L
from embodied.models import MMLLM, MMLLMConfig
from tests.factory import HEAD_SPECS, tiny_spec

T = 3


def _episode(seed: int, points: bool = True) -> Episode:
    rng = np.random.default_rng(seed)
    extra = {"points": rng.uniform(0, 31, (T, 2, 2)).astype(np.float32), "point_camera": "wrist"} if points else {}
    return Episode(
        images={c: rng.integers(0, 256, (T, 32, 32, 3), dtype=np.uint8) for c in ("front", "wrist")},
        state=rng.standard_normal((T, 9)),
        actions=rng.uniform(-1, 1, (T, 7)),
        task="put the red cube in the blue bowl",
        vqa=[("how many cubes are there?", "1", "count")],
        **extra,
    )


def test_points_round_trip_the_dataset(tmp_path: Path) -> None:
    episodes = [_episode(0), _episode(1)]
    root = write_dataset(episodes, tmp_path / "ds", fps=10)
    back = read_dataset(root)
    assert back.info["features"][L.POINTS]["shape"] == [2, 2]
    for original, loaded in zip(episodes, back.episodes(), strict=True):
        assert loaded.point_camera == "wrist"
        assert loaded.points is not None and original.points is not None
        np.testing.assert_array_equal(loaded.points, original.points)


def test_episodes_without_points_write_no_points_feature(tmp_path: Path) -> None:
    back = read_dataset(write_dataset([_episode(0, points=False)], tmp_path / "ds", fps=10))
    assert L.POINTS not in back.info["features"]
    assert back.episodes()[0].points is None and back.episodes()[0].point_camera == ""


def test_bad_points_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="point_camera"):
        Episode(images={}, state=np.zeros((T, 0)), actions=np.zeros((T, 7)), task="x", points=np.zeros((T, 2, 2)))
    with pytest.raises(ValueError, match=r"\[T, K, 2\]"):
        Episode(
            images={}, state=np.zeros((T, 0)), actions=np.zeros((T, 7)), task="x",
            points=np.zeros((T, 2, 3)), point_camera="front",
        )  # fmt: skip


@pytest.fixture(scope="module")
def pointer_model() -> MMLLM:
    torch.manual_seed(0)
    spec = tiny_spec(heads={"text": HEAD_SPECS["text"], "pointer": HEAD_SPECS["pointer"]})
    return MMLLM(MMLLMConfig(spec=spec))


def test_mixed_batch_carries_targets_mask_and_camera(pointer_model: MMLLM) -> None:
    samples = make_samples([_episode(0)], ["action", "vqa"])
    batch = to_batch(pointer_model, samples)
    kinds = [s.kind for s in samples]
    assert batch["point_mask"].tolist() == [1.0 if k == "action" else 0.0 for k in kinds]
    assert batch["point_camera"].tolist() == [1 if k == "action" else 0 for k in kinds]  # wrist = camera 1
    action_rows = [i for i, k in enumerate(kinds) if k == "action"]
    expected = np.stack([s.points for s in samples if s.points is not None])
    np.testing.assert_array_equal(batch["point_targets"][action_rows].numpy(), expected)
    out = pointer_model(**batch)
    assert out.loss is not None and "pointer/loss" in out.metrics and "text/loss" in out.metrics


def test_pointer_loss_ignores_rows_without_targets(pointer_model: MMLLM) -> None:
    """The masked loss of a mixed batch equals the loss of its action rows alone."""
    samples = make_samples([_episode(0)], ["action", "vqa"])
    actions_only = [s for s in samples if s.kind == "action"]
    head = pointer_model.head_map["pointer"]
    pointer_model.eval()
    with torch.no_grad():
        mixed = to_batch(pointer_model, samples)
        alone = to_batch(pointer_model, actions_only)
        rows = [i for i, s in enumerate(samples) if s.kind == "action"]
        hidden_mixed = pointer_model.query_hidden(mixed, "pointer")
        hidden_alone = pointer_model.query_hidden(alone, "pointer")
        loss_mixed, _ = head.loss(hidden_mixed, {**mixed, "dense_features": pointer_model.dense_features(mixed)})
        loss_alone, _ = head.loss(hidden_alone, {**alone, "dense_features": pointer_model.dense_features(alone)})
    assert len(rows) == T
    torch.testing.assert_close(loss_mixed, loss_alone, rtol=1e-4, atol=1e-5)


def test_unknown_point_camera_is_refused(pointer_model: MMLLM) -> None:
    episode = _episode(0)
    episode.point_camera = "top"
    with pytest.raises(ValueError, match="camera"):
        to_batch(pointer_model, make_samples([episode], ["action"]))
