"""``embodied doctor``'s arguments and glue: parse, run the checks, print the table, return the exit code.

The env's action space (``--env ID --env-kwargs JSON``) is built by a callable the console script passes in
(``embodied.cli`` imports the envs; this package never does). Exit codes: 0 nothing failed, 1 a check failed (or
was skipped, with ``--strict``), 2 bad input — a ``UserError`` (``DoctorInputError``, an argparse range error,
...) that ``embodied.cli.main`` prints as one line naming the path, option or key.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from embodied.cli_checks import int_at_least
from embodied.eval.doctor_inputs import DoctorInputError

ActionSpaceFactory = Callable[[str, dict[str, Any]], Any]


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``doctor`` sub-command's arguments (cheap: imports nothing heavy)."""
    parser.add_argument("checkpoint", help="saved model directory (RUN/STAGE/model) or its stage directory")
    parser.add_argument(
        "--data", default=None, help="LeRobot v3 dataset (default: the one the stage's lineage.json records)"
    )
    parser.add_argument("--env", default=None, help="env id whose action space the normalisation must match")
    parser.add_argument(
        "--env-kwargs", default="{}", help='JSON keyword arguments of gymnasium.make, e.g. \'{"control": "primitive"}\''
    )
    parser.add_argument(
        "--observations", type=int_at_least(1), default=8, help="observations compared by image-sensitivity"
    )
    parser.add_argument(
        "--samples", type=int_at_least(1), default=16, help="demo action samples replayed by demo-replay"
    )
    parser.add_argument("--episodes", type=int_at_least(1), default=8, help="dataset episodes read (evenly spread)")
    parser.add_argument(
        "--seed", type=int_at_least(0), default=0, help="seed of random probe images and sampling heads"
    )
    parser.add_argument("--strict", action="store_true", help="a skipped check counts as failed (exit code 1)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run_doctor_command(args: argparse.Namespace, make_action_space: ActionSpaceFactory) -> int:
    """Run ``embodied doctor`` for parsed ``args``; ``make_action_space(env_id, kwargs)`` builds the env's space."""
    from transformers.utils import logging as hf_logging

    from embodied.eval.doctor import DoctorOptions, exit_code, format_report, run_doctor

    hf_logging.disable_progress_bar()  # the table is the output; weight-loading bars would only interleave with it
    space = None if args.env is None else _action_space(args.env, args.env_kwargs, make_action_space)
    options = DoctorOptions(
        observations=args.observations, samples=args.samples, episodes=args.episodes, seed=args.seed
    )
    report = run_doctor(args.checkpoint, data=args.data, action_space=space, options=options)
    print(report.to_json() if args.json else format_report(report))
    return exit_code(report, strict=args.strict)


def _action_space(env_id: str, raw_kwargs: str, make_action_space: ActionSpaceFactory) -> Any:
    try:
        kwargs = json.loads(raw_kwargs)
    except json.JSONDecodeError as err:
        raise DoctorInputError(f"--env-kwargs is not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(kwargs, dict):
        raise DoctorInputError(f"--env-kwargs must be a JSON object, got {type(kwargs).__name__}")
    try:
        return make_action_space(env_id, kwargs)
    except Exception as err:  # unknown id, bad keyword: gymnasium raises several types
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DoctorInputError(f"--env {env_id}: cannot make the env ({type(err).__name__}: {message})") from None
