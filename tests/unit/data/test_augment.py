"""Instruction augmentation (word dropout / replacement) of drawn samples."""

from __future__ import annotations

import numpy as np
import pytest

from embodied.data import make_samples
from embodied.data.augment import augment_prompts, perturb_words
from tests.unit.data.helpers import make_episodes


def test_zero_rate_is_the_identity() -> None:
    samples = make_samples(make_episodes(), ["action", "vqa"])
    assert augment_prompts(samples, 0.0, seed=0) == samples


def test_only_the_asked_kinds_change_and_targets_stay() -> None:
    samples = make_samples(make_episodes(), ["action", "vqa"]) * 20
    out = augment_prompts(samples, 0.5, seed=3)
    assert [s.kind for s in out] == [s.kind for s in samples]
    changed = [a.prompt != b.prompt for a, b in zip(samples, out, strict=True)]
    assert not any(c for c, s in zip(changed, samples, strict=True) if s.kind == "vqa")
    assert np.mean([c for c, s in zip(changed, samples, strict=True) if s.kind == "action"]) > 0.5
    assert all(a.target == b.target and a.observation is b.observation for a, b in zip(samples, out, strict=True))


def test_same_seed_same_prompts_other_seed_others() -> None:
    samples = make_samples(make_episodes(), ["action"]) * 10
    assert augment_prompts(samples, 0.3, seed=1) == augment_prompts(samples, 0.3, seed=1)
    assert augment_prompts(samples, 0.3, seed=1) != augment_prompts(samples, 0.3, seed=2)


def test_word_noise_rate_matches_p() -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(20)]
    outs = [perturb_words(words, 0.45, ["x"], rng) for _ in range(2000)]
    kept = np.mean([len([w for w in out if w in words]) for out in outs]) / len(words)
    inserted = np.mean([len(out) - len([w for w in out if w in words]) for out in outs]) / len(words)
    assert abs(1 - kept - 0.30) < 0.02  # dropped or replaced: 2p/3
    assert abs(inserted - 0.30) < 0.02  # replacements + insertions: 2p/3


def test_bad_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="noise rate"):
        augment_prompts([], 1.0, seed=0)
