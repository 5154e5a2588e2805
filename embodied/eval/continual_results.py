"""The ``results.json`` schema of a continual-learning run (pydantic), its constructor, atomic writer and reader.

One ``ContinualResults`` per comparison; ``runs`` holds one ``ContinualRun`` per method on the same task sequence
and seeds (``sequential``, ``replay``, ``ewc``, ``lwf``, ``adapters``, ``multitask``, ...), each with its
``ContinualMetrics`` — task list, success matrix (rates, k/n, Wilson 95% intervals), per-task curves, FWT / NBT / AUC
with bootstrap intervals (LIBERO, Liu et al. 2023; definitions in ``embodied.eval.continual_metrics``), the language
probe after each task and its retention — and the evaluation ``Manifest`` of ``embodied.eval.results`` (package
versions, seeds, episode counts). Successes and episodes are stored per cell and curve point, which is all the
bootstrap draws from, so the intervals can be recomputed from the file alone.

The validators of the metrics keep the numbers consistent (rate = k/n, intervals contain their values, a K×K
matrix), so a hand-edited or truncated file fails ``read_continual_results`` with an error naming the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from embodied.eval.continual_metrics import ContinualMetrics, ContinualRecord, NbtOver, continual_metrics
from embodied.eval.results import Manifest

__all__ = [
    "CONTINUAL_SCHEMA_VERSION",
    "ContinualResults",
    "ContinualResultsError",
    "ContinualRun",
    "continual_run",
    "read_continual_results",
    "write_continual_results",
]

CONTINUAL_SCHEMA_VERSION: Literal[1] = 1


class ContinualResultsError(ValueError):
    """A continual ``results.json`` that cannot be read: the message names the file and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContinualRun(_Strict):
    """One method trained through the task sequence."""

    name: str
    description: str = ""
    metrics: ContinualMetrics
    manifest: Manifest


class ContinualResults(_Strict):
    """Every method compared on one task sequence (see the module docstring)."""

    schema_version: Literal[1] = CONTINUAL_SCHEMA_VERSION
    kind: Literal["continual"] = "continual"
    runs: list[ContinualRun]

    @model_validator(mode="after")
    def _unique_names(self) -> ContinualResults:
        names = [r.name for r in self.runs]
        if len(set(names)) != len(names):
            raise ValueError(f"run names repeat: {names}")
        return self

    def run(self, name: str) -> ContinualRun:
        """The run called ``name`` (KeyError naming the runs present otherwise)."""
        for run in self.runs:
            if run.name == name:
                return run
        raise KeyError(f"no run {name!r} in the results; runs: {[r.name for r in self.runs]}")


def continual_run(
    name: str,
    record: ContinualRecord,
    manifest: Manifest,
    *,
    description: str = "",
    nbt_over: NbtOver = "K",
    bootstrap_samples: int = 2000,
    seed: int = 0,
) -> ContinualRun:
    """A ``ContinualRun`` from what the runner measured (metrics: ``continual_metrics``)."""
    metrics = continual_metrics(record, nbt_over=nbt_over, bootstrap_samples=bootstrap_samples, seed=seed)
    return ContinualRun(name=name, description=description, metrics=metrics, manifest=manifest)


def write_continual_results(path: str | Path, results: ContinualResults | Sequence[ContinualRun]) -> Path:
    """Write ``results`` (or a list of runs) as indented JSON to ``path`` — a temporary file renamed over it, so the
    file is never half-written."""
    if not isinstance(results, ContinualResults):
        results = ContinualResults(runs=list(results))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(results.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def read_continual_results(path: str | Path) -> ContinualResults:
    """Load and validate a continual ``results.json``; ``ContinualResultsError`` names the file and the first
    problem (``FileNotFoundError`` when it does not exist)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ContinualResultsError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    try:
        return ContinualResults.model_validate(raw)
    except ValidationError as error:
        raise ContinualResultsError(f"{path}: not a continual results file: {_first_error(error)}") from error
