"""Episode validation: dtypes, shapes and lengths are checked; defaults for rewards/dones; VQA pair coercion."""

from __future__ import annotations

import numpy as np
import pytest

from embodied.data import Episode, VQAPair


def _episode(**overrides: object) -> Episode:
    kwargs: dict[str, object] = {
        "images": {"front": np.zeros((3, 4, 4, 3), np.uint8)},
        "state": np.zeros((3, 2)),
        "actions": np.ones((3, 7)),
        "task": "touch the red cube",
    }
    return Episode(**(kwargs | overrides))  # type: ignore[arg-type]


def test_arrays_are_normalised_and_defaults_filled() -> None:
    ep = _episode()
    assert len(ep) == 3
    assert ep.state.dtype == np.float32 and ep.actions.dtype == np.float32
    assert ep.rewards is not None and ep.rewards.tolist() == [0.0, 0.0, 0.0]
    assert ep.dones is not None and ep.dones.tolist() == [False, False, True]
    assert ep.vqa == [] and ep.captions == [] and ep.plan is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"images": {"front": np.zeros((3, 4, 4, 3), np.float32)}}, "must be uint8"),
        ({"images": {"front": np.zeros((2, 4, 4, 3), np.uint8)}}, "has 2 frames but the episode has 3"),
        ({"images": {"front": np.zeros((3, 4, 4, 4), np.uint8)}}, "3 channels"),
        ({"state": np.zeros(3)}, "state must have 2 dimensions"),
        ({"actions": np.zeros((0, 7))}, "at least one frame"),
        ({"rewards": np.zeros(4)}, "rewards has 4 frames"),
        ({"depth": {"front": np.zeros((3, 4, 4, 1))}}, "depth\\['front'\\] must have 3 dimensions"),
    ],
)
def test_bad_arrays_are_rejected(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _episode(**overrides)


def test_vqa_pairs_are_coerced_from_tuples_and_mappings() -> None:
    ep = _episode(vqa=[("how many cubes?", "2", "count"), {"question": "is it red?", "answer": "yes"}])
    assert ep.vqa == [VQAPair("how many cubes?", "2", "count"), VQAPair("is it red?", "yes", "")]
    with pytest.raises(TypeError, match="cannot read a VQA pair"):
        VQAPair.coerce("just a string")
