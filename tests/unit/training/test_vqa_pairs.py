"""Preference pairs from VQA samples: a wrong answer of the same question type, reproducible from the seed."""

from __future__ import annotations

import numpy as np
import pytest

from embodied.data import Episode, VQAPair, make_samples
from embodied.training.vqa_pairs import vqa_preference_pairs


def episode(vqa: list[VQAPair]) -> Episode:
    images = {"front": np.zeros((1, 8, 8, 3), np.uint8)}
    return Episode(images, np.zeros((1, 2), np.float32), np.zeros((1, 7), np.float32), "task", vqa=vqa)


def test_rejected_answer_is_wrong_and_of_the_same_type() -> None:
    episodes = [
        episode([VQAPair("how many cubes?", "2", "count"), VQAPair("what colour is the bowl?", "red", "colour")]),
        episode([VQAPair("how many cubes?", "3", "count"), VQAPair("what colour is the bowl?", "red", "colour")]),
        episode([VQAPair("how many spheres?", "1", "count")]),
    ]
    samples = make_samples(episodes, ["vqa"])
    pairs = vqa_preference_pairs(episodes, samples, seed=0)
    assert len(pairs) == 3  # colour questions all answer "red": no wrong answer, no pair
    counts = {"1", "2", "3"}
    for pair in pairs:
        assert pair.sample.kind == "vqa" and pair.rejected != pair.sample.target and pair.rejected in counts
    again = vqa_preference_pairs(episodes, samples, seed=0)
    assert [p.rejected for p in again] == [p.rejected for p in pairs]


def test_no_pair_is_an_error() -> None:
    episodes = [episode([VQAPair("what colour is the bowl?", "red", "colour")])]
    with pytest.raises(ValueError, match="no preference pair"):
        vqa_preference_pairs(episodes, make_samples(episodes, ["vqa"]), seed=0)
