"""Doctor check 3, ``action-normalisation``: are the action statistics there and consistent with env and data?

The model maps env actions to [-1, 1] with ``spec.action_low/high`` (``MMLLMProcessor.normalize_actions``) and back
when acting; without stored bounds both maps are the identity, i.e. the range is [-1, 1]. Wrong bounds make every
predicted action land in the wrong place with no error anywhere. The check compares:

- the processor saved with the checkpoint against the model config (the same bounds on both sides);
- the env's action space (a gymnasium ``Box`` built by the caller — ``embodied.eval`` never imports the envs):
  shape ``(action_dim,)`` and low/high equal to the bounds (to ``ATOL``);
- the dataset: ``meta/stats.json`` must hold the action min/max, agree with the data's actual min/max, and every
  demo action must lie inside the bounds (outside, training clipped it silently).

With neither env nor dataset there is nothing to compare the bounds with: the check is skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from embodied.eval.doctor_result import CheckResult

if TYPE_CHECKING:
    from embodied.data import LeRobotDataset
    from embodied.models import MMLLM, MMLLMProcessor

NAME = "action-normalisation"
#: absolute tolerance when comparing bounds and statistics
ATOL = 1e-5
#: dimensions named in evidence before "..."
SHOWN = 3


def check_action_normalisation(
    model: MMLLM,
    saved: MMLLMProcessor | None = None,
    action_space: Any = None,
    dataset: LeRobotDataset | None = None,
) -> CheckResult:
    """Compare the model's action bounds with the saved processor's, the env's action space and the dataset."""
    spec = model.config.model_spec
    stored = spec.action_low is not None and spec.action_high is not None
    low = np.asarray(spec.action_low if stored else [-1.0] * spec.action_dim, np.float64)
    high = np.asarray(spec.action_high if stored else [1.0] * spec.action_dim, np.float64)
    facts = [
        f"model bounds low {_fmt(low)} high {_fmt(high)}"
        if stored
        else "no action_low/high stored (identity normalisation: range [-1, 1])"
    ]
    problems: list[str] = []
    if saved is not None and (saved.spec.action_low, saved.spec.action_high) != (spec.action_low, spec.action_high):
        problems.append(
            f"saved processor_config.json bounds low {saved.spec.action_low} high {saved.spec.action_high} differ "
            "from the model config's"
        )
    if action_space is not None:
        problems += _env_problems(action_space, low, high, facts)
    if dataset is not None:
        problems += _dataset_problems(dataset, low, high, facts)
    if problems:
        return CheckResult(NAME, False, "; ".join(problems + facts))
    if action_space is None and dataset is None:
        return CheckResult.skip(NAME, "no env or dataset to compare the bounds with: give --env and/or --data")
    return CheckResult(NAME, True, "; ".join(facts))


def _env_problems(space: Any, low: np.ndarray, high: np.ndarray, facts: list[str]) -> list[str]:
    """The env's action space against the bounds; appends what matched to ``facts``."""
    if not (hasattr(space, "low") and hasattr(space, "high") and hasattr(space, "shape")):
        return [f"env action space {space} is not a Box: the model outputs {len(low)} continuous values"]
    if tuple(space.shape) != low.shape:
        return [f"env action shape {tuple(space.shape)} but the model's action_dim is {len(low)}"]
    env_low, env_high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
    wrong = _differing(env_low, low) | _differing(env_high, high)
    if wrong.any():
        dims = np.flatnonzero(wrong)
        shown = ", ".join(
            f"dim {d}: env [{env_low[d]:g}, {env_high[d]:g}] vs [{low[d]:g}, {high[d]:g}]" for d in dims[:SHOWN]
        )
        more = " ..." if len(dims) > SHOWN else ""
        return [f"env action bounds differ from the model's normalisation in {len(dims)} dim(s) ({shown}{more})"]
    facts.append(f"env Box{tuple(space.shape)} bounds match")
    return []


def _dataset_problems(dataset: LeRobotDataset, low: np.ndarray, high: np.ndarray, facts: list[str]) -> list[str]:
    """The dataset's action statistics and actions against the bounds; appends what matched to ``facts``."""
    actions = dataset.column("action").astype(np.float64)
    actions = actions.reshape(len(actions), -1)
    if actions.shape[1] != len(low):
        return [f"dataset actions have {actions.shape[1]} dims but the model's action_dim is {len(low)}"]
    data_min, data_max = actions.min(axis=0), actions.max(axis=0)
    problems = []
    stats = dataset.stats.get("action", {})
    if "min" not in stats or "max" not in stats:
        problems.append(f"{dataset.root}/meta/stats.json has no action min/max")
    else:
        stats_min, stats_max = np.ravel(stats["min"]).astype(np.float64), np.ravel(stats["max"]).astype(np.float64)
        if (
            stats_min.shape != data_min.shape
            or (_differing(stats_min, data_min) | _differing(stats_max, data_max)).any()
        ):
            problems.append(
                f"meta/stats.json action min {_fmt(stats_min)} max {_fmt(stats_max)} disagree with the data's "
                f"min {_fmt(data_min)} max {_fmt(data_max)}"
            )
    margin = ATOL * np.maximum(1.0, high - low)
    outside = (data_min < low - margin) | (data_max > high + margin)
    if outside.any():
        dims = np.flatnonzero(outside)
        shown = ", ".join(
            f"dim {d}: data [{data_min[d]:.3g}, {data_max[d]:.3g}] vs [{low[d]:g}, {high[d]:g}]" for d in dims[:SHOWN]
        )
        more = " ..." if len(dims) > SHOWN else ""
        problems.append(f"dataset actions leave the normalisation range in {len(dims)} dim(s) ({shown}{more})")
    if not problems:
        facts.append(f"{len(actions)} dataset actions within bounds (min {_fmt(data_min)} max {_fmt(data_max)})")
    return problems


def _differing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-dimension mismatch (NaN or inf on one side only counts as a mismatch)."""
    return np.asarray(~np.isclose(a, b, rtol=0.0, atol=ATOL), dtype=bool)


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in np.ravel(values)) + "]"
