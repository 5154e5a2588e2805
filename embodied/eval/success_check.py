"""The "silent zero" check: every episode counted as failed while the env paid positive returns.

That pattern almost always means the success signal is not being read (the issue this guards against: an expert
that solves a MiniGrid task every time scored 0.000, because MiniGrid reports success only as a positive
reward). ``silent_failure_warning`` returns the warning to print (``None`` when nothing looks wrong);
``dataset_success_warning`` applies it to a written LeRobot dataset (``next.reward`` per frame, the
``success`` extra per episode). ``embodied eval`` records the warnings in ``results.json``; ``embodied collect``
prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["FIX_HINT", "dataset_success_warning", "silent_failure_warning"]

FIX_HINT = (
    "set the adapter's success rule: success='reward>0' (success in the reward), success='info:KEY' (an info "
    "flag) or a callable (see embodied.envs.wrappers.success)"
)


def silent_failure_warning(
    successes: Sequence[bool], returns: Sequence[float], rule: str | None, where: str
) -> str | None:
    """The warning when all ``successes`` are False while some of ``returns`` are positive, else ``None``."""
    if not successes or any(successes) or len(returns) != len(successes):
        return None
    positive = [r for r in returns if r > 0]
    if not positive:
        return None
    mean = sum(returns) / len(returns)
    used = f"success rule {rule!r}" if rule else "the env's info['success']"
    return (
        f"{where}: every one of the {len(successes)} episodes counted as failed under {used}, yet "
        f"{len(positive)} had a positive return (mean return {mean:.3g}); {FIX_HINT}"
    )


def dataset_success_warning(root: str | Path) -> str | None:
    """``silent_failure_warning`` over the episodes of the dataset at ``root`` (``None`` when it cannot tell)."""
    import pyarrow.parquet as pq

    from embodied.data.layout import EXTRAS_PATH, REWARD

    root = Path(root)
    extras, files = root / EXTRAS_PATH, sorted((root / "data").glob("chunk-*/file-*.parquet"))
    if not extras.is_file() or not files:
        return None
    table = pq.read_table(extras, columns=["episode_index", "success"]).to_pydict()
    success = dict(zip(table["episode_index"], table["success"], strict=True))
    returns: dict[int, float] = {}
    for path in files:
        frames = pq.read_table(path, columns=["episode_index", REWARD]).to_pydict()
        for episode, reward in zip(frames["episode_index"], frames[REWARD], strict=True):
            value = reward[0] if isinstance(reward, list) else reward  # a [1] feature may be a list cell
            returns[int(episode)] = returns.get(int(episode), 0.0) + float(value or 0.0)
    order = sorted(success)
    return silent_failure_warning(
        [bool(success[e]) for e in order], [returns.get(e, 0.0) for e in order], None, f"collected dataset {root}"
    )
