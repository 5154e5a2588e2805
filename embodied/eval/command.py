"""``embodied eval CHECKPOINT --env ID --out DIR``: rollouts, VQA and plans → results.json, report.html, summary.png.

The command is thin: parse (``add_eval_arguments``: counts are range-checked by argparse), check the input
(``options_from_args``: the checkpoint, ``--out`` writable, ``--device`` present; every mistake is a
``UserError`` that the console script prints as one line with exit code 2), run the suite
(``embodied.agents.eval_suite.run_suite``, imported lazily: the core never imports the agents package at module
level), then write ``DIR/results.json`` (``embodied.eval.results``),
``DIR/report.html`` and ``DIR/summary.png`` (``embodied.eval.report``); GIFs of the first ``--videos`` episodes of
each agent land in ``DIR/videos/``. It prints the key numbers and the report's path.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from embodied.cli_checks import int_at_least, resolve_device, writable_dir
from embodied.eval.options import (
    BASELINES,
    SPLITS,
    EvalInputError,
    EvalOptions,
    default_seed,
    parse_baselines,
    parse_env_kwargs,
)
from embodied.eval.run_dir import CheckpointError, resolve_checkpoint

if TYPE_CHECKING:  # the schema imports pydantic and numpy: keep ``embodied --help`` fast
    from embodied.eval.results import EvalResults

__all__ = ["RESULTS_FILE", "add_eval_arguments", "options_from_args", "print_summary", "run_eval_command"]

RESULTS_FILE = "results.json"


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``eval`` sub-command's arguments."""
    parser.add_argument("checkpoint", help="saved model directory (RUN/STAGE/model) or a training run directory")
    parser.add_argument("--env", required=True, help="env id, e.g. embodied/PickPlace-v0")
    parser.add_argument("--out", required=True, help="output directory (results.json, report.html, summary.png)")
    parser.add_argument(
        "--episodes",
        type=int_at_least(0),
        default=20,
        help="episodes per agent (default 20; 0 skips rollouts when --vqa-episodes or --plan-episodes is set)",
    )
    parser.add_argument(
        "--split", choices=SPLITS, default="train", help="train, heldout (seeds + instructions) or heldout-seeds"
    )
    parser.add_argument(
        "--num-envs", type=int_at_least(1), default=4, help="sub-envs of the sync vector env (default 4)"
    )
    parser.add_argument(
        "--seed", type=int_at_least(0), default=None, help="first episode seed (default: 0, heldout 1000000)"
    )
    parser.add_argument(
        "--baselines", default="", help=f"comma-separated baselines to run as well: {','.join(BASELINES)}"
    )
    parser.add_argument("--vqa-episodes", type=int_at_least(0), default=0, help="questions on embodied/TabletopVQA-v0")
    parser.add_argument("--plan-episodes", type=int_at_least(0), default=0, help="episodes of the text-head planner")
    parser.add_argument(
        "--plan-grammar",
        action="store_true",
        help="decode plans constrained to the plan grammar (verb(<colour> <shape>))",
    )
    parser.add_argument(
        "--videos", type=int_at_least(0), default=2, help="GIFs of the first K episodes per agent (default 2)"
    )
    parser.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE", help="env option (repeatable)")
    parser.add_argument("--int8", action="store_true", help="also roll out the int8-quantised model (CPU)")
    parser.add_argument("--head", default=None, help="action head to act with (default: the model's first)")
    parser.add_argument(
        "--task-adapter",
        default=None,
        help="per-task adapter to act with on a model trained with the adapters hook (e.g. task-1; 'base': the "
        "first task's shared base; default: the model's newest adapter)",
    )
    parser.add_argument("--device", default="auto", help="torch device for the model (default: cuda if available)")
    parser.add_argument(
        "--max-steps", type=int_at_least(1), default=None, help="cap on steps per episode (counted as failure)"
    )
    parser.add_argument(
        "--sample", action="store_true", help="sample the model's actions (seeded by --seed) instead of greedy"
    )
    parser.add_argument(
        "--temperature", type=float, default=None, help="sampling temperature T > 0 (implies --sample; default 1)"
    )


def options_from_args(args: argparse.Namespace) -> EvalOptions:
    """Checked options (a ``UserError`` on bad input); the checkpoint is resolved to a model directory."""
    try:
        model_dir = resolve_checkpoint(args.checkpoint)
    except CheckpointError as err:
        raise EvalInputError(str(err)) from None
    return EvalOptions(
        checkpoint=model_dir,
        env_id=args.env,
        out=writable_dir("--out", args.out),
        split=args.split,
        episodes=args.episodes,
        num_envs=args.num_envs,
        seed=default_seed(args.split) if args.seed is None else args.seed,
        baselines=parse_baselines(args.baselines),
        vqa_episodes=args.vqa_episodes,
        plan_episodes=args.plan_episodes,
        plan_grammar=args.plan_grammar,
        videos=args.videos,
        env_kwargs=parse_env_kwargs(args.env_kwarg),
        int8=args.int8,
        head=args.head,
        task_adapter=args.task_adapter,
        device=resolve_device(args.device),
        max_steps=args.max_steps,
        sample=args.sample,
        temperature=args.temperature,
    )


def print_summary(results: EvalResults) -> None:
    """The key numbers, one line per agent and block."""
    print(f"{results.env_id} ({results.split} split), model {results.checkpoint}")
    header = ("agent", "success", "Wilson 95% CI", "episodes", "mean len", "mean ms", "p50 ms", "p90 ms")
    print("  {:<10} {:>7}  {:<16} {:>8} {:>8} {:>8} {:>8} {:>8}".format(*header))
    for a in results.agents:
        ci = f"[{a.ci95[0]:.3f}, {a.ci95[1]:.3f}]"
        ms = f"{a.latency.mean_ms:>8.1f} {a.latency.p50_ms:>8.1f} {a.latency.p90_ms:>8.1f}"
        print(f"  {a.agent:<10} {a.success_rate:>7.3f}  {ci:<16} {a.episodes:>8} {a.mean_length:>8.2f} {ms}")
    rules = sorted({a.success_rule for a in results.agents})
    if rules:
        print(f"  success rule: {' / '.join(rules)}")
    if results.vqa is not None:
        v = results.vqa
        types = ", ".join(f"{t} {s.accuracy:.2f} (maj {s.majority:.2f})" for t, s in v.per_type.items())
        print(f"  VQA {v.agent}: accuracy {v.accuracy:.3f} [{v.ci95[0]:.3f}, {v.ci95[1]:.3f}] n={v.episodes}: {types}")
        if v.pope is not None:
            print(f"  POPE: accuracy {v.pope.accuracy:.3f}, F1 {v.pope.f1:.3f}, yes-ratio {v.pope.yes_ratio:.3f}")
        print(f"  answers naming an absent colour or shape: {v.absent_rate:.3f}")
    if results.plans is not None:
        p = results.plans
        print(
            f"  plans {p.agent}: validity {p.validity_rate:.3f}, success {p.success_rate:.3f}, "
            f"naming absent objects {p.absent_rate:.3f} (n={p.episodes})"
        )


def run_eval_command(args: argparse.Namespace) -> int:
    """Run ``embodied eval``; exit code 0. Bad input raises a ``UserError`` (``EvalInputError``,
    ``ModelIntegrityError``, ...) that ``embodied.cli.main`` prints as one line with exit code 2."""
    from embodied.eval.report import write_report
    from embodied.eval.results import write_results
    from embodied.eval.run_dir import learning_curves, locate_run

    options = options_from_args(args)
    from embodied.agents.eval_suite import run_suite  # lazy: the agents package is composition

    results = run_suite(options)
    write_results(results, options.out / RESULTS_FILE)
    run = locate_run(options.checkpoint)
    report = write_report(results, options.out, learning_curves(run) if run is not None else None)
    print_summary(results)
    for baseline, reason in results.skipped.items():
        print(f"embodied: eval: skipped baseline {baseline!r}: {reason}", file=sys.stderr)
    for warning in results.warnings:  # loud on purpose: a silent 0.000 success rate is the failure it guards
        print(f"embodied: WARNING: {warning}", file=sys.stderr)
    print(f"wrote {options.out / RESULTS_FILE}")
    print(f"report: {report}")
    return 0
