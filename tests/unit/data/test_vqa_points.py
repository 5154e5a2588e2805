"""VQA pairs carry their referents' pixels through a dataset round trip into a grounding model's look targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from embodied.data import Episode, make_samples, read_dataset, write_dataset
from embodied.data.episode import VQAPair
from embodied.data.samples import to_batch
from embodied.models import MMLLM, MMLLMConfig
from tests.factory import HEAD_SPECS, tiny_spec


def episode(camera: str = "front") -> Episode:
    rng = np.random.default_rng(0)
    return Episode(
        images={c: rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8) for c in ("front", "wrist")},
        state=np.zeros((3, 9), np.float32),
        actions=np.zeros((3, 7), np.float32),
        task="put the red cube in the bowl",
        vqa=[
            ("what colour is the cube?", "red", "colour", [[3.0, 4.0]]),
            ("how many cubes are there?", "2", "count", [[3.0, 4.0], [20.5, 7.0]]),
            ("is there a green sphere?", "no", "existence", []),
            ("what shape is the red object?", "cube", "shape"),  # recorded without points
        ],
        point_camera=camera,
    )


def test_vqa_points_survive_the_dataset_round_trip(tmp_path: Path) -> None:
    root = write_dataset([episode()], tmp_path / "d", fps=10)
    pairs = next(iter(read_dataset(root).episodes())).vqa
    assert [p.points for p in pairs] == [((3.0, 4.0),), ((3.0, 4.0), (20.5, 7.0)), (), None]
    assert VQAPair.coerce({"question": "q", "answer": "a"}).points is None  # datasets from before points
    with pytest.raises(ValueError, match=r"\(u, v\) pairs"):
        VQAPair.coerce(("q", "a", "colour", [[1.0, 2.0, 3.0]]))


def grounding_model() -> MMLLM:
    spec = tiny_spec(heads={"text": HEAD_SPECS["text"], "pointer": HEAD_SPECS["pointer"]})
    spec["encoders"] = {"image": {"kind": "cnn", "stride": 1, "channels": [8]}}
    spec["grounding"] = {"hidden_dim": 16, "key_dim": 8}
    return MMLLM(MMLLMConfig(spec=spec))


def test_look_targets_of_a_batch() -> None:
    model = grounding_model()
    samples = make_samples([episode()], kinds=["vqa", "caption"])
    batch = to_batch(model, samples)
    assert batch["look_targets"].shape == (4, 2, 2)
    assert batch["look_count"].tolist() == [1, 2, 0, 0]
    assert batch["look_mask"].tolist() == [1.0, 1.0, 1.0, 0.0]
    torch.testing.assert_close(batch["look_targets"][1], torch.tensor([[3.0, 4.0], [20.5, 7.0]]))
    assert model(**batch).metrics["look/loss"] > 0


def test_action_samples_look_at_their_pick_and_place_points() -> None:
    ep = episode()
    ep.points = np.array([[[1.0, 2.0], [9.0, 9.0]]] * 3, np.float32)
    samples = make_samples([ep], kinds=["action"], normalize=lambda a: np.clip(a, -1, 1))
    batch = to_batch(grounding_model(), samples)
    assert batch["look_count"].tolist() == [2, 2, 2] and batch["look_mask"].tolist() == [1.0, 1.0, 1.0]
    torch.testing.assert_close(batch["look_targets"][0], torch.tensor([[1.0, 2.0], [9.0, 9.0]]))


def test_look_targets_in_another_camera_are_refused() -> None:
    samples = make_samples([episode(camera="wrist")], kinds=["vqa"])
    with pytest.raises(ValueError, match=r"camera\(s\) \['wrist'\] but the model looks at camera 'front'"):
        to_batch(grounding_model(), samples)
