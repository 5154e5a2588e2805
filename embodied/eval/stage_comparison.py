"""Before and after a training stage, on the same seeds: what the stage added and what it kept.

The main job evaluates its instruct model and its RL model on the same held-out seeds (the same scenes, the same
instructions, the same VQA questions and plan episodes). Per metric this module reports both values and the paired
difference ``after − before`` with a 95% interval from a seeded **paired bootstrap**: each replicate draws one set
of episode (or question) indices and uses it for both models, so the scene-to-scene variation the two share
cancels out of the difference (Efron & Tibshirani 1993, ch. 16; the same scheme as the continual-learning
metrics). Metrics: action success, VQA accuracy (overall and per question type), plan validity and plan success.

Pairing is checked, not assumed: the seeds (VQA: the questions) of the two evaluations must agree item by item;
otherwise a ``ValueError`` names the block and the first mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from embodied.eval.results import EvalResults

__all__ = ["COMPARISON_FILE", "Delta", "StageComparison", "compare_stages", "paired_difference", "print_comparison"]

COMPARISON_FILE = "comparison.json"


class Delta(BaseModel):
    """One metric before and after the stage, with the paired difference and its bootstrap 95% interval."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    n: int = Field(ge=0)
    before: float
    after: float
    difference: float
    ci95: tuple[float, float]


class StageComparison(BaseModel):
    """``comparison.json``: the two models, the split and one ``Delta`` per metric."""

    model_config = ConfigDict(extra="forbid")

    before: str = Field(description="the earlier model (path)")
    after: str = Field(description="the later model (path)")
    before_stage: str
    after_stage: str
    split: str
    bootstrap_samples: int = Field(ge=1)
    deltas: list[Delta]

    def delta(self, metric: str) -> Delta:
        """The row of ``metric`` (KeyError naming the metrics present otherwise)."""
        for row in self.deltas:
            if row.metric == metric:
                return row
        raise KeyError(f"no metric {metric!r}; metrics: {[d.metric for d in self.deltas]}")

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1) + "\n", encoding="utf-8")
        return path


def paired_difference(
    before: Sequence[float], after: Sequence[float], samples: int = 2000, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """``mean(after) − mean(before)`` and the 2.5/97.5 percentiles of its paired bootstrap (one index draw per
    replicate for both sequences). Two empty sequences give ``(0.0, (0.0, 0.0))``."""
    if len(before) != len(after):
        raise ValueError(f"paired values need equal lengths, got {len(before)} and {len(after)}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if len(before) == 0:
        return 0.0, (0.0, 0.0)
    gap = np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(gap), size=(samples, len(gap)))
    replicates = gap[index].mean(axis=1)
    low, high = np.percentile(replicates, [2.5, 97.5])
    return float(gap.mean()), (float(low), float(high))


def _delta(metric: str, before: Sequence[float], after: Sequence[float], samples: int, seed: int) -> Delta:
    difference, ci = paired_difference(before, after, samples, seed)
    mean = lambda xs: float(np.mean(xs)) if len(xs) else 0.0  # noqa: E731
    return Delta(metric=metric, n=len(before), before=mean(before), after=mean(after), difference=difference, ci95=ci)


def _check_paired(block: str, first: Sequence[object], second: Sequence[object]) -> None:
    if len(first) != len(second):
        raise ValueError(f"{block}: the two evaluations have {len(first)} and {len(second)} items; need the same seeds")
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        if a != b:
            raise ValueError(f"{block}: item {i} differs ({a!r} vs {b!r}); the evaluations must share their seeds")


def _success_rows(before: EvalResults, after: EvalResults, agent: str, samples: int, seed: int) -> list[Delta]:
    a, b = before.agent(agent), after.agent(agent)
    _check_paired("success", a.seeds, b.seeds)
    return [
        _delta("success", [float(x) for x in a.episode_success], [float(x) for x in b.episode_success], samples, seed)
    ]


def _vqa_rows(before: EvalResults, after: EvalResults, samples: int, seed: int) -> list[Delta]:
    if before.vqa is None or after.vqa is None:
        return []
    a, b = before.vqa.records, after.vqa.records
    _check_paired("vqa", [(r.seed, r.question) for r in a], [(r.seed, r.question) for r in b])
    rows = [_delta("vqa", [float(r.correct) for r in a], [float(r.correct) for r in b], samples, seed)]
    for qtype in sorted({r.qtype for r in a}):
        pairs = [(x, y) for x, y in zip(a, b, strict=True) if x.qtype == qtype]
        rows.append(
            _delta(
                f"vqa/{qtype}",
                [float(x.correct) for x, _ in pairs],
                [float(y.correct) for _, y in pairs],
                samples,
                seed,
            )
        )
    return rows


def _plan_rows(before: EvalResults, after: EvalResults, samples: int, seed: int) -> list[Delta]:
    if before.plans is None or after.plans is None:
        return []
    a, b = before.plans.records, after.plans.records
    _check_paired("plans", [r.seed for r in a], [r.seed for r in b])
    return [
        _delta("plan validity", [float(r.valid) for r in a], [float(r.valid) for r in b], samples, seed),
        _delta("plan success", [float(r.success) for r in a], [float(r.success) for r in b], samples, seed),
    ]


def compare_stages(
    before: EvalResults,
    after: EvalResults,
    stages: tuple[str, str],
    agent: str = "mmllm",
    samples: int = 2000,
    seed: int = 0,
) -> StageComparison:
    """The ``StageComparison`` of two evaluations of the same split and seeds (``stages``: their stage names)."""
    if before.split != after.split or before.env_id != after.env_id:
        raise ValueError(
            f"compare evaluations of one env and split, got {before.env_id} ({before.split}) and "
            f"{after.env_id} ({after.split})"
        )
    deltas = (
        _success_rows(before, after, agent, samples, seed)
        + _vqa_rows(before, after, samples, seed)
        + _plan_rows(before, after, samples, seed)
    )
    return StageComparison(
        before=before.checkpoint,
        after=after.checkpoint,
        before_stage=stages[0],
        after_stage=stages[1],
        split=after.split,
        bootstrap_samples=samples,
        deltas=deltas,
    )


def print_comparison(comparison: StageComparison) -> None:
    """One line per metric: before → after, the difference and its interval."""
    c = comparison
    print(f"{c.before_stage} → {c.after_stage} on the same {c.split} seeds (paired bootstrap 95% CI):")
    for d in c.deltas:
        ci = f"[{d.ci95[0]:+.3f}, {d.ci95[1]:+.3f}]"
        print(f"  {d.metric:<16} {d.before:.3f} → {d.after:.3f}  {d.difference:+.3f} {ci}  n={d.n}")
