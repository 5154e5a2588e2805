"""Benchmark ``grounding`` (issue 12's ablation): how the text path sees small objects, on the same VQA data and budget.

Variants (``embodied.bench.vqa_task.VARIANTS``): the main job's 4×4 average-pooled grid (``grid4-avg``), an 8×8
max-pooled grid (``grid8-max``), a Perceiver resampler over a 16×16 grid (``perceiver-grid16``: 256 encoder tokens
read by 16 latents) and grounded answering (``look``: the model points at the question's referents on the
full-resolution dense map and reads them back before it answers; ``embodied.models.grounding``). Every variant
trains the same steps on the same questions (``embodied/TabletopVQA-v0``, top camera 64×64, held-out seeds for
the test) with one torch thread, so the training costs compare; reports accuracy per question type, the majority
answer's rate per type on the test set, steps/s, training seconds and the learning curve. Nothing runs at import
time.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch

TEST_SEED = 1_000_000  # the evaluation split's first seed: never trained on


def run(quick: bool = False, variants: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Train every variant on the same data and budget; return per-type accuracy, costs and curves."""
    from embodied.bench.vqa_task import VARIANTS, make_data, train

    n_train, n_test, steps = (300, 60, 20) if quick else (8000, 600, 2000)
    train_data, test_data = make_data(range(n_train)), make_data(range(TEST_SEED, TEST_SEED + n_test))
    out: dict[str, Any] = {"train_questions": n_train, "test_questions": n_test, "steps": steps, "batch_size": 32}
    out["majority"] = _majority(test_data.qtypes, test_data.answers)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread per variant: training costs compare, and two variants can run side by side
    try:
        for variant in variants or tuple(VARIANTS):
            result = train(variant, train_data, test_data, steps=steps, eval_every=max(steps // 4, 1))
            out[variant] = {
                "steps_per_second": round(result.steps_per_second, 2),
                "train_seconds": round(steps / result.steps_per_second, 1),
                **result.final,
                "curve": result.curve,
            }
    finally:
        torch.set_num_threads(threads)
    return out


def _majority(qtypes: list[str], answers: list[str]) -> dict[str, float]:
    """Per type, the share of the test questions whose answer is the type's most common one."""
    out = {}
    for qtype in sorted(set(qtypes)):
        counts = Counter(a for t, a in zip(qtypes, answers, strict=True) if t == qtype)
        out[qtype] = round(counts.most_common(1)[0][1] / sum(counts.values()), 3)
    return out
