"""Instruction augmentation: word dropout and word replacement in the prompts of drawn samples.

A small language model trained from scratch on a handful of instruction templates keys on the templates' exact
wording, and a paraphrase it never saw ("the red cube belongs in the blue bowl; put it there") moves its hidden
states off the training manifold. Perturbing the training prompts word by word (word dropout, Iyyer et al. 2015;
noise on instructions for language-conditioned policies) teaches it to read the content words instead. Each word
of an augmented sample's prompt is, with probability ``p / 3`` each, dropped, replaced by a word drawn from every
prompt of the augmented kinds, or preceded by such a word (insertion); the target is unchanged.

Draw ``k`` of a stage is perturbed with a generator seeded by ``(seed, k)``, so the augmented stream is a
function of the stage's seed alone and a resumed run sees exactly the same prompts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from embodied.data.samples import Sample

__all__ = ["augment_prompts", "perturb_words"]


def perturb_words(words: Sequence[str], p: float, pool: Sequence[str], rng: np.random.Generator) -> list[str]:
    """``words`` with each one dropped, replaced from ``pool`` or preceded by a ``pool`` word (``p / 3`` each)."""
    out: list[str] = []
    for word in words:
        u = rng.random()
        if u < p / 3:
            continue  # dropped
        if u < 2 * p / 3:
            out.append(str(pool[int(rng.integers(len(pool)))]))  # replaced
            continue
        if u < p:
            out.append(str(pool[int(rng.integers(len(pool)))]))  # inserted before the word
        out.append(word)
    return out or list(words)


def augment_prompts(samples: Sequence[Sample], p: float, seed: int, kinds: Iterable[str] = ("action",)) -> list[Sample]:
    """Samples (in order) whose prompts of ``kinds`` are perturbed with word noise of rate ``p`` (see above)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"the prompt noise rate must lie in [0, 1), got {p}")
    wanted = set(kinds)
    if p == 0.0 or not any(s.kind in wanted for s in samples):
        return list(samples)
    pool = sorted({w for s in samples if s.kind in wanted for w in s.prompt.split()})
    out = []
    for k, sample in enumerate(samples):
        if sample.kind not in wanted:
            out.append(sample)
            continue
        rng = np.random.default_rng((seed, k))
        prompt = " ".join(perturb_words(sample.prompt.split(), p, pool, rng))
        out.append(dataclasses.replace(sample, prompt=prompt))
    return out
