"""Lifelong-learning metrics of a task sequence: the success matrix, FWT, NBT, AUC and language retention.

Definitions follow LIBERO (Liu et al. 2023, "LIBERO: Benchmarking Knowledge Transfer for Lifelong Robot Learning",
§5 "Evaluation metrics", and its code ``libero/lifelong/algos/base.py::learn_one_task`` and ``main.py``). Tasks
``k = 1..K`` are trained in order; ``c[τ][k]`` is the success rate on task ``k`` after training task ``τ``, and
``c[k][k][e]`` the rate on task ``k`` at the ``e``-th evaluation while training task ``k`` (``curves[k]``)::

    FWT_k = mean_e c[k][k][e]                                   FWT = (1/K) Σ_k FWT_k
    NBT_k = 1/(K−k) Σ_{τ=k+1..K} (c[k][k] − c[τ][k])            NBT = (1/K) Σ_k NBT_k   (NBT_K := 0, see below)
    AUC_k = 1/(K−k+1) (FWT_k + Σ_{τ=k+1..K} c[τ][k])            AUC = (1/K) Σ_k AUC_k

Choices, and why:

- ``c[k][k]`` is the success of the checkpoint *carried forward* to task ``k+1`` — ``outcomes[k][k]``, the
  diagonal of the matrix. In LIBERO that checkpoint is the best one evaluated while training task ``k`` (the paper
  writes ``c_{k,k} = max_e c_{k,k,e}``; the code saves the earliest best, reloads it before the next task, and the
  re-evaluated model fills the matrix diagonal), so the two readings agree there. Taking the diagonal keeps the
  matrix and the metrics one set of numbers and avoids the winner's-curse bias of a maximum over noisy evaluations.
- ``carried_forward="best"`` is LIBERO's protocol: FWT_k's curve is held at its peak from the earliest best
  evaluation on ("pretend the agent stops learning at its peak", ``successes[idx_at_best_succ:] = ...`` in the
  code). ``carried_forward="final"`` (the model at the end of task ``k`` goes on, as in plain sequential training)
  averages the curve as measured; clamping there would credit performance the carried model does not have.
- FWT_k averages *every* evaluation point of ``curves[k]`` (LIBERO: 11 points, epochs 0, 5, ..., 50, the first
  being the zero-shot rate before any update on task ``k``); pass a step-0 point to match it. A curve of only the
  end point makes FWT_k = the rate at the end of task ``k``.
- NBT: the paper sums NBT_k over all ``k ∈ [K]`` and divides by ``K``, although NBT_K (no later task) is an empty
  average; we read it as 0 — nothing of task K has been overwritten yet — which is also how later continual-VLA
  papers report it ("assigning zero to the final task"). ``nbt_over="K-1"`` averages over the ``K−1`` tasks that
  have a later task instead (the GEM-style mean; ``K/(K−1)`` times larger). With ``K = 1`` NBT is undefined under
  either reading: it is ``None`` with a note, while FWT and AUC are still reported.
- Intervals: a seeded bootstrap over episodes, the metrics recomputed per replicate (in ``"best"`` mode the peak
  is re-chosen) and the 2.5 / 97.5 percentiles kept; a fixed seed gives identical numbers. When every evaluation
  of a task has the same number of episodes — ``embodied continual`` evaluates each task on the same seeds after
  every task — the bootstrap is *paired*: per replicate, task j's episode indices are drawn once and used for
  every row and curve point of task j, so differences such as c[k][k] − c[τ][k] keep their pairing (an
  unchanged model gets a zero-width NBT interval). Otherwise each cell and curve point is resampled on its own
  (drawn as ``Binomial(n, k/n) / n``, the same distribution as resampling its ``n`` booleans). Cells use the
  Wilson 95% interval (``stats.wilson_interval``).
- Language retention (``language_retention``): the mean over probe keys of ``score after the last task ÷
  reference score``, the reference being ``language_before`` (the probe before any continual training) when given,
  else the probe after the first task. 1.0 = fully kept, < 1 forgotten, > 1 improved; keys missing on either side
  or with a reference score ≤ 0 are skipped and listed. It is a point value: probes arrive as scores, not episodes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from embodied.eval.stats import wilson_interval

__all__ = [
    "Bootstrap",
    "CarriedForward",
    "ContinualMetrics",
    "ContinualRecord",
    "Estimate",
    "LanguageRetention",
    "NbtOver",
    "RateCell",
    "TransferScores",
    "continual_metrics",
    "language_retention",
    "transfer_scores",
]

CarriedForward = Literal["final", "best"]
NbtOver = Literal["K", "K-1"]
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ContinualRecord:
    """What a task-sequence run measured (``K = len(tasks)``; indices are 0-based task positions).

    ``outcomes[i][j]``: per-episode successes on task ``j``'s held-out seeds after training task ``i`` (cells with
    ``j > i`` may be empty: tasks not yet trained); ``curves[k]``: ``(step, successes)`` evaluations of task ``k``
    while training it, in step order (at least the end); ``language[i]``: probe scores after task ``i`` (all rows
    or none; a row may be empty); ``carried_forward``: which checkpoint of task ``k`` went on to task ``k+1``.
    """

    tasks: list[str]
    outcomes: list[list[list[bool]]]
    curves: list[list[tuple[int, list[bool]]]]
    language: list[dict[str, float]] = field(default_factory=list)
    language_before: dict[str, float] | None = None
    carried_forward: CarriedForward = "final"

    def __post_init__(self) -> None:
        k = len(self.tasks)
        if k == 0:
            raise ValueError("ContinualRecord: tasks is empty; a task sequence needs at least one task")
        if len(set(self.tasks)) != k:
            raise ValueError(f"ContinualRecord: task names repeat: {self.tasks}")
        if self.carried_forward not in ("final", "best"):
            raise ValueError(
                f"ContinualRecord: carried_forward must be 'final' or 'best', got {self.carried_forward!r}"
            )
        self._check_outcomes(k)
        self._check_curves(k)
        self._check_language(k)

    def _check_outcomes(self, k: int) -> None:
        if len(self.outcomes) != k:
            raise ValueError(f"ContinualRecord: outcomes is not square: {len(self.outcomes)} rows for {k} tasks")
        for i, row in enumerate(self.outcomes):
            if len(row) != k:
                raise ValueError(f"ContinualRecord: outcomes is not square: row {i} has {len(row)} cells, need {k}")
            for j in range(i + 1):
                if len(row[j]) == 0:
                    raise ValueError(
                        f"ContinualRecord: outcomes[{i}][{j}] (task {self.tasks[j]!r} after training "
                        f"{self.tasks[i]!r}) has no episodes"
                    )

    def _check_curves(self, k: int) -> None:
        if len(self.curves) != k:
            raise ValueError(f"ContinualRecord: curves has {len(self.curves)} entries for {k} tasks")
        for t, curve in enumerate(self.curves):
            if len(curve) == 0:
                raise ValueError(
                    f"ContinualRecord: curves[{t}] (task {self.tasks[t]!r}) is empty; give at least the end"
                )
            steps = [step for step, _ in curve]
            if any(b <= a for a, b in itertools.pairwise(steps)):
                raise ValueError(f"ContinualRecord: curves[{t}] steps must increase, got {steps}")
            for step, successes in curve:
                if len(successes) == 0:
                    raise ValueError(f"ContinualRecord: curves[{t}] at step {step} has no episodes")

    def _check_language(self, k: int) -> None:
        if self.language and len(self.language) != k:
            raise ValueError(f"ContinualRecord: language has {len(self.language)} rows for {k} tasks (need {k} or 0)")
        rows = [*self.language, *([self.language_before] if self.language_before is not None else [])]
        for row in rows:
            for key, value in row.items():
                if not math.isfinite(value):
                    raise ValueError(f"ContinualRecord: language score {key!r} is not finite: {value}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_ci(value: float, ci: tuple[float, float], what: str) -> None:
    if not ci[0] - _TOLERANCE <= value <= ci[1] + _TOLERANCE:
        raise ValueError(f"{what}: interval {ci} does not contain {value}")


class RateCell(_Strict):
    """A success rate over ``episodes`` episodes with its Wilson 95% interval (``rate`` None when not evaluated)."""

    successes: int = Field(ge=0)
    episodes: int = Field(ge=0)
    rate: float | None = Field(ge=0.0, le=1.0)
    ci95: tuple[float, float]

    @model_validator(mode="after")
    def _consistent(self) -> RateCell:
        if self.successes > self.episodes:
            raise ValueError(f"{self.successes} successes out of {self.episodes} episodes is impossible")
        if (self.rate is None) != (self.episodes == 0):
            raise ValueError(f"rate must be None exactly when there are no episodes (rate={self.rate})")
        if self.rate is not None:
            if abs(self.rate - self.successes / self.episodes) > _TOLERANCE:
                raise ValueError(f"rate {self.rate} != {self.successes}/{self.episodes}")
            _check_ci(self.rate, self.ci95, "cell")
        return self

    @classmethod
    def of(cls, successes: Sequence[bool]) -> RateCell:
        n, hits = len(successes), int(sum(bool(s) for s in successes))
        return cls(successes=hits, episodes=n, rate=hits / n if n else None, ci95=wilson_interval(hits, n))


class CurvePoint(RateCell):
    """One evaluation of a task while it is being trained."""

    step: int = Field(ge=0)


class Estimate(_Strict):
    """A point estimate with its bootstrap 95% interval."""

    value: float
    ci95: tuple[float, float]


class Bootstrap(_Strict):
    """How the intervals of FWT / NBT / AUC were drawn."""

    samples: int = Field(ge=1)
    seed: int
    method: Literal[
        "percentile, episodes resampled per cell", "percentile, paired: each task's episodes resampled across rows"
    ] = "percentile, episodes resampled per cell"


class LanguageRetention(_Strict):
    """Mean over probe keys of (score after the last task) / (reference score); see the module docstring."""

    score: float | None
    reference: Literal["before", "after-first-task"] | None
    per_key: dict[str, float]
    skipped: list[str]
    note: str | None = None


class ContinualMetrics(_Strict):
    """Everything measured of one task sequence (``matrix[i][j]``: task ``j`` after training task ``i``)."""

    tasks: list[str]
    carried_forward: CarriedForward
    nbt_over: NbtOver
    matrix: list[list[RateCell]]
    curves: list[list[CurvePoint]]
    fwt: Estimate
    nbt: Estimate | None
    nbt_note: str | None = None
    auc: Estimate
    fwt_per_task: list[float]
    nbt_per_task: list[float | None]
    auc_per_task: list[float]
    language: list[dict[str, float]]
    language_before: dict[str, float] | None
    retention: LanguageRetention
    bootstrap: Bootstrap

    @model_validator(mode="after")
    def _consistent(self) -> ContinualMetrics:
        k = len(self.tasks)
        if len(self.matrix) != k or any(len(row) != k for row in self.matrix):
            raise ValueError(f"matrix must be {k}×{k} for tasks {self.tasks}")
        per_task: dict[str, Sequence[object]] = {
            "curves": self.curves,
            "fwt_per_task": self.fwt_per_task,
            "nbt_per_task": self.nbt_per_task,
            "auc_per_task": self.auc_per_task,
        }
        for name, values in per_task.items():
            if len(values) != k:
                raise ValueError(f"{name} has {len(values)} entries for {k} tasks")
        if (self.nbt is None) != (k == 1):
            raise ValueError(f"nbt must be None exactly when there is one task (K={k})")
        for name, est in (("fwt", self.fwt), ("nbt", self.nbt), ("auc", self.auc)):
            if est is not None:
                _check_ci(est.value, est.ci95, name)
        return self


@dataclass(frozen=True)
class TransferScores:
    """FWT / NBT / AUC per replicate ``[B]`` and per task ``[B, K]`` (``nbt`` None when ``K = 1``)."""

    fwt: np.ndarray
    nbt: np.ndarray | None
    auc: np.ndarray
    fwt_k: np.ndarray
    nbt_k: np.ndarray
    auc_k: np.ndarray


def transfer_scores(
    c: np.ndarray, curves: Sequence[np.ndarray], *, carried_forward: CarriedForward = "final", nbt_over: NbtOver = "K"
) -> TransferScores:
    """LIBERO's FWT / NBT / AUC from rates: ``c`` ``[B, K, K]`` (``c[:, τ, k]``: task k after task τ; entries above
    the diagonal are ignored) and ``curves[k]`` ``[B, E_k]`` (task k's evaluations while training it)."""
    b, k = c.shape[0], c.shape[1]
    fwt_k = np.empty((b, k))
    for t, curve in enumerate(curves):
        if carried_forward == "best":
            peak = np.argmax(curve, axis=1)  # the earliest best evaluation, as LIBERO's strict `<` keeps it
            after_peak = np.arange(curve.shape[1])[None, :] >= peak[:, None]
            curve = np.where(after_peak, curve.max(axis=1, keepdims=True), curve)
        fwt_k[:, t] = curve.mean(axis=1)
    nbt_k = np.zeros((b, k))  # NBT_K: empty average, read as 0 (module docstring)
    auc_k = np.empty((b, k))
    for t in range(k):
        later = c[:, t + 1 :, t]  # [B, K−t−1]: task t after each later task
        if later.shape[1]:
            nbt_k[:, t] = (c[:, t, t][:, None] - later).mean(axis=1)
        auc_k[:, t] = (fwt_k[:, t] + later.sum(axis=1)) / (k - t)
    nbt = None if k == 1 else nbt_k.sum(axis=1) / (k if nbt_over == "K" else k - 1)
    return TransferScores(fwt_k.mean(axis=1), nbt, auc_k.mean(axis=1), fwt_k, nbt_k, auc_k)


def _rates(cells: Sequence[RateCell]) -> np.ndarray:
    return np.array([np.nan if cell.rate is None else cell.rate for cell in cells], dtype=np.float64)


def _draw(cell: RateCell, rng: np.random.Generator, samples: int) -> np.ndarray:
    """Rates of ``samples`` resamples of the cell's episodes (Binomial(n, k/n) / n ≡ resampling the booleans)."""
    return rng.binomial(cell.episodes, cell.successes / cell.episodes, size=samples) / cell.episodes


def _bootstrap(
    matrix: list[list[RateCell]], curves: list[list[CurvePoint]], rng: np.random.Generator, samples: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Resampled ``c`` ``[samples, K, K]`` and curves; the draw order (cells row-major, then curves) is fixed."""
    k = len(matrix)
    c = np.full((samples, k, k), np.nan)
    for i in range(k):
        for j in range(i + 1):
            c[:, i, j] = _draw(matrix[i][j], rng, samples)
    drawn = [np.stack([_draw(p, rng, samples) for p in curve], axis=1) for curve in curves]
    return c, drawn


def _paired(record: ContinualRecord) -> bool:
    """Whether every evaluation of a task (each matrix row, each curve point) has the same number of episodes —
    in ``embodied continual`` the same seeds — so they can be resampled together."""
    k = len(record.tasks)
    sizes = [
        {len(record.outcomes[i][j]) for i in range(j, k)} | {len(o) for _, o in record.curves[j]} for j in range(k)
    ]
    return all(len(size) == 1 for size in sizes)


def _paired_bootstrap(
    record: ContinualRecord, rng: np.random.Generator, samples: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Resampled ``c`` and curves where task j's episodes (seeds) are drawn once per replicate and reused for every
    evaluation of task j: the rows share their scenes, so c[k][k] − c[τ][k] keeps its pairing (an unchanged
    model has exactly zero forgetting in every replicate)."""
    k = len(record.tasks)
    c = np.full((samples, k, k), np.nan)
    drawn = []
    for j in range(k):
        n = len(record.outcomes[j][j])
        index = rng.integers(0, n, size=(samples, n))  # [samples, n] episode indices of task j
        for i in range(j, k):
            c[:, i, j] = np.asarray(record.outcomes[i][j], dtype=np.float64)[index].mean(axis=1)
        points = [np.asarray(o, dtype=np.float64)[index].mean(axis=1) for _, o in record.curves[j]]
        drawn.append(np.stack(points, axis=1))
    return c, drawn


def _estimate(point: float, replicates: np.ndarray) -> Estimate:
    low, high = np.percentile(replicates, [2.5, 97.5])
    return Estimate(value=point, ci95=(float(low), float(high)))


def continual_metrics(
    record: ContinualRecord, *, nbt_over: NbtOver = "K", bootstrap_samples: int = 2000, seed: int = 0
) -> ContinualMetrics:
    """The success matrix with Wilson intervals, FWT / NBT / AUC with seeded bootstrap intervals, and the language
    retention of ``record`` (definitions and choices: the module docstring)."""
    if nbt_over not in ("K", "K-1"):
        raise ValueError(f"nbt_over must be 'K' or 'K-1', got {nbt_over!r}")
    if bootstrap_samples < 1:
        raise ValueError(f"bootstrap_samples must be >= 1, got {bootstrap_samples}")
    k = len(record.tasks)
    matrix = [[RateCell.of(cell) for cell in row] for row in record.outcomes]
    curves = [[CurvePoint(step=s, **RateCell.of(o).model_dump()) for s, o in curve] for curve in record.curves]
    mode = record.carried_forward
    point = transfer_scores(
        np.stack([_rates(row) for row in matrix])[None],
        [_rates(curve)[None] for curve in curves],
        carried_forward=mode,
        nbt_over=nbt_over,
    )
    paired = _paired(record)
    rng = np.random.default_rng(seed)
    c, drawn = (
        _paired_bootstrap(record, rng, bootstrap_samples)
        if paired
        else _bootstrap(matrix, curves, rng, bootstrap_samples)
    )
    boot = transfer_scores(c, drawn, carried_forward=mode, nbt_over=nbt_over)
    nbt = None
    if point.nbt is not None and boot.nbt is not None:
        nbt = _estimate(float(point.nbt[0]), boot.nbt)
    return ContinualMetrics(
        tasks=list(record.tasks),
        carried_forward=mode,
        nbt_over=nbt_over,
        matrix=matrix,
        curves=curves,
        fwt=_estimate(float(point.fwt[0]), boot.fwt),
        nbt=nbt,
        nbt_note="NBT is undefined for K=1: no task is followed by another" if k == 1 else None,
        auc=_estimate(float(point.auc[0]), boot.auc),
        fwt_per_task=[float(v) for v in point.fwt_k[0]],
        nbt_per_task=[float(v) if t < k - 1 else None for t, v in enumerate(point.nbt_k[0])],
        auc_per_task=[float(v) for v in point.auc_k[0]],
        language=[dict(row) for row in record.language],
        language_before=None if record.language_before is None else dict(record.language_before),
        retention=language_retention(record.language, record.language_before),
        bootstrap=Bootstrap(
            samples=bootstrap_samples,
            seed=seed,
            method="percentile, paired: each task's episodes resampled across rows"
            if paired
            else "percentile, episodes resampled per cell",
        ),
    )


def language_retention(
    language: Sequence[Mapping[str, float]], before: Mapping[str, float] | None = None
) -> LanguageRetention:
    """Mean over probe keys of ``language[-1][key] / reference[key]``; the reference is ``before`` when given, else
    ``language[0]``. Keys absent on either side or with a reference ≤ 0 are skipped (listed in ``skipped``)."""
    if not language or not language[-1]:
        return LanguageRetention(score=None, reference=None, per_key={}, skipped=[], note="no language probe")
    if before is None and len(language) == 1:
        alone = "one task and no probe before training: nothing to compare the last probe with"
        return LanguageRetention(score=None, reference=None, per_key={}, skipped=sorted(language[0]), note=alone)
    reference, name = (before, "before") if before is not None else (language[0], "after-first-task")
    last = language[-1]
    per_key = {key: last[key] / reference[key] for key in sorted(last) if key in reference and reference[key] > 0}
    skipped = sorted((set(last) | set(reference)) - set(per_key))
    score = float(np.mean(list(per_key.values()))) if per_key else None
    note = None if per_key else "no probe key has a positive reference score"
    return LanguageRetention(score=score, reference=name, per_key=per_key, skipped=skipped, note=note)
