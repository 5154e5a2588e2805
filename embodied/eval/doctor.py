"""``embodied doctor CHECKPOINT``: five checks for the failures that stay silent until a robot does nothing useful.

Each check returns a ``CheckResult`` whose ``evidence`` holds the numbers or ids that decided it:

1. ``image-sensitivity`` (``doctor_sensitivity``): the action changes when only the image changes;
2. ``demo-replay`` (``doctor_replay``): demos replayed through the inference path give what the training path gives;
3. ``action-normalisation`` (``doctor_normalisation``): stored action bounds exist and match the env and the data;
4. ``action-tokens`` (``doctor_tokens``): the tokenizer holds the action-token head's tokens at its ids, in bin order;
5. ``preprocessing-parity`` (``doctor_parity``): the saved processor preprocesses exactly as training did.

A check that needs data it was not given reports ``skipped (...)``: never a silent pass. A check that raises is a
failure whose evidence is the error (a dataset the model cannot read is a finding, not a crash). Exit code
(``exit_code``): 0 when nothing failed, 1 when a check failed (or, with ``strict``, was skipped); bad input
(``DoctorInputError``) is exit code 2 in the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from embodied.eval.doctor_inputs import DoctorInputError, DoctorInputs, load_inputs
from embodied.eval.doctor_result import CheckResult

__all__ = [
    "CheckResult",
    "DoctorInputError",
    "DoctorOptions",
    "DoctorReport",
    "exit_code",
    "format_report",
    "run_doctor",
]


@dataclass(frozen=True)
class DoctorOptions:
    """How much data the checks use and where they draw the line."""

    #: observations compared by the image-sensitivity check
    observations: int = 8
    #: demo action samples replayed by the demo-replay check
    samples: int = 16
    #: episodes read from the dataset (evenly spread over it)
    episodes: int = 8
    #: image-sensitivity fails when this share (or more) of the observations gives one identical action
    identical_share: float = 0.9
    #: demo-replay fails when the two paths agree on fewer than this share of comparable action tokens
    min_agreement: float = 0.9
    #: seed of the random probe images and of any sampling head
    seed: int = 0


@dataclass
class DoctorReport:
    """What ``run_doctor`` found: the checkpoint, where its dataset came from, and one result per check."""

    checkpoint: Path
    dataset_note: str
    results: list[CheckResult] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "checkpoint": str(self.checkpoint),
                "dataset": self.dataset_note,
                "results": [asdict(r) | {"status": r.status} for r in self.results],
            },
            indent=2,
        )


def run_doctor(
    checkpoint: str | Path,
    *,
    data: str | Path | None = None,
    action_space: Any = None,
    options: DoctorOptions | None = None,
) -> DoctorReport:
    """Load ``checkpoint`` (a saved model directory or its stage directory) and run the five checks.

    ``data``: a LeRobot v3 dataset (default: the one the stage's ``lineage.json`` records); ``action_space``: the
    env's action space (a gymnasium ``Box``), built by the caller — this package never imports the envs.
    """
    options = options or DoctorOptions()
    inputs = load_inputs(Path(checkpoint), None if data is None else Path(data), action_space, options.episodes)
    report = DoctorReport(inputs.model_dir, inputs.dataset_note)
    for name, check in _checks(options).items():
        report.results.append(_run_one(name, check, inputs))
    return report


def _checks(options: DoctorOptions) -> dict[str, Callable[[DoctorInputs], CheckResult]]:
    """The five checks, each bound to the inputs it reads (imported here: they pull in torch)."""
    from embodied.eval.doctor_normalisation import NAME as NORM
    from embodied.eval.doctor_normalisation import check_action_normalisation
    from embodied.eval.doctor_parity import NAME as PARITY
    from embodied.eval.doctor_parity import check_preprocessing_parity
    from embodied.eval.doctor_replay import NAME as REPLAY
    from embodied.eval.doctor_replay import check_demo_replay
    from embodied.eval.doctor_sensitivity import NAME as SENSITIVITY
    from embodied.eval.doctor_sensitivity import check_image_sensitivity, probe_observations
    from embodied.eval.doctor_tokens import NAME as TOKENS
    from embodied.eval.doctor_tokens import check_action_tokens

    def sensitivity(i: DoctorInputs) -> CheckResult:
        observations, prompt, source = probe_observations(i.model, i.episodes, options.observations, options.seed)
        return check_image_sensitivity(
            i.model, observations, prompt, source=source, identical_share=options.identical_share, seed=options.seed
        )

    def replay(i: DoctorInputs) -> CheckResult:
        if i.episodes is None:
            return CheckResult.skip(REPLAY, "no dataset: give --data, or train with a run that records lineage.json")
        return check_demo_replay(
            i.model, i.episodes, samples=options.samples, min_agreement=options.min_agreement, seed=options.seed
        )

    return {
        SENSITIVITY: sensitivity,
        REPLAY: replay,
        NORM: lambda i: check_action_normalisation(i.model, i.saved_processor, i.action_space, i.dataset),
        TOKENS: lambda i: check_action_tokens(i.model, i.saved_tokenizer),
        PARITY: lambda i: check_preprocessing_parity(i.model, i.saved_processor, i.episodes, i.processor_error),
    }


def _run_one(name: str, check: Callable[[DoctorInputs], CheckResult], inputs: DoctorInputs) -> CheckResult:
    try:
        return check(inputs)
    except Exception as err:  # a check that cannot run on this checkpoint/data is a finding, not a crash
        return CheckResult(name, False, f"the check raised {type(err).__name__}: {err}")


def format_report(report: DoctorReport) -> str:
    """A pass/fail table: one row per check, its evidence beside it, and a summary line."""
    width = max(len(r.name) for r in report.results) + 2
    lines = [f"checkpoint: {report.checkpoint}", f"dataset:    {report.dataset_note}", ""]
    lines.append(f"{'check':<{width}}{'result':<8}evidence")
    lines += [f"{r.name:<{width}}{r.status:<8}{r.evidence}" for r in report.results]
    counts = {s: sum(r.status == s for r in report.results) for s in ("pass", "FAIL", "skip")}
    lines += ["", f"{counts['pass']} passed, {counts['FAIL']} failed, {counts['skip']} skipped"]
    return "\n".join(lines)


def exit_code(report: DoctorReport, strict: bool = False) -> int:
    """0 when no check failed, else 1; with ``strict`` a skipped check counts as failed."""
    failed = [r for r in report.results if not r.passed and (strict or not r.skipped)]
    return 1 if failed else 0
