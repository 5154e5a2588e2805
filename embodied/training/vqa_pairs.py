"""Preference pairs from VQA samples: the correct answer is chosen, a wrong answer of the same type rejected.

For each VQA sample, the rejected target is an answer that another question of the same ``qtype`` in the
dataset has and this one does not (e.g. "3" vs "4" for count questions), drawn with a seeded generator. Samples
whose type has no other answer in the dataset make no pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embodied.data import Episode, Sample


@dataclass(frozen=True)
class PreferencePair:
    """One VQA sample (its target is the chosen answer) and a wrong answer to reject."""

    sample: Sample
    rejected: str


def vqa_preference_pairs(episodes: Sequence[Episode], samples: Sequence[Sample], seed: int) -> list[PreferencePair]:
    """One pair per VQA sample of ``samples`` (made from ``episodes``) that has a wrong answer of its type."""
    qtype_of: dict[tuple[int, str], str] = {}
    answers: dict[str, set[str]] = {}
    for index, episode in enumerate(episodes):
        for pair in episode.vqa:
            qtype_of[(index, pair.question)] = pair.qtype
            answers.setdefault(pair.qtype, set()).add(pair.answer)
    rng = np.random.default_rng(seed)
    pairs = []
    for sample in samples:
        if sample.kind != "vqa":
            continue
        qtype = qtype_of.get((sample.episode, sample.prompt), "")
        wrong = sorted(answers.get(qtype, set()) - {sample.target})
        if wrong:
            pairs.append(PreferencePair(sample, wrong[int(rng.integers(len(wrong)))]))
    if not pairs:
        raise ValueError(
            "no preference pair: every VQA question type in the dataset has a single answer; collect more "
            "episodes or more question types (data.vqa_qtypes)"
        )
    return pairs
