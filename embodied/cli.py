"""The ``embodied`` console script: thin parsing that builds objects and calls them.

Commands: ``list`` (registered components), ``envs`` (registered simulated worlds), ``config`` (print a
resolved experiment config), ``continual`` (a task sequence, every task evaluated after each; see
``embodied.agents.continual``), ``quickstart`` (the main job on CPU: collect → train → evaluate → report),
``collect`` (expert demonstrations of the config's ``data:`` → a LeRobot v3 dataset), ``train`` (the config's
stages on a dataset, collected into ``RUN_DIR/data`` first when ``--data`` is not given) and ``eval`` (a saved
model's rollouts, baselines, VQA and plans → ``results.json``, ``report.html``; see ``embodied.eval.command``).
``doctor`` checks a saved model for silent train/inference mismatches (see ``embodied.eval.doctor``).
``dataset info|validate DIR`` prints what a LeRobot v3 dataset holds or checks it against the layout rules
(``embodied.data.validate``; ``validate`` exits 1 when it finds problems).

Errors follow one contract (``embodied.errors``): a mistake in the input — a bad argument or override, a path
that does not exist or cannot be written, a corrupted file, an unavailable device — is one line
``embodied: ...`` on stderr naming it, with exit code 2; only a bug in embodied prints a traceback (exit code 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from embodied.cli_checks import existing_dir, new_dir, writable_dir
from embodied.errors import USER_ERROR, UsageError, report


def _cmd_list(args: argparse.Namespace) -> int:
    from embodied.models.catalog import REGISTRIES

    catalog = {kind: registry.describe() for kind, registry in REGISTRIES.items()}
    if args.json:
        print(json.dumps(catalog, indent=2))
        return 0
    width = max(len(name) for entries in catalog.values() for name in entries) + 2
    for kind, entries in catalog.items():
        print(f"{kind}:")
        for name, description in entries.items():
            print(f"  {name:<{width}}{description}")
    return 0


def _cmd_envs(args: argparse.Namespace) -> int:
    # the CLI is the composition point: the core library itself never imports the envs package
    import importlib

    from embodied.envs.catalog import describe_envs

    for module in args.imports:  # modules that register third-party ids (embodied.envs.register_adapted)
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise UsageError(f"--import {module}: cannot import it ({err})") from None
    rows = describe_envs()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        modes = ",".join(row.get("control_modes", []))
        print(f"{row['id']:<32} {row.get('task', ''):<16} {modes:<20} {row.get('instruction_example', '')}")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    import yaml

    from embodied.config import load_config

    cfg = load_config(args.config, args.overrides)
    print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), end="")
    return 0


def _cmd_quickstart(args: argparse.Namespace) -> int:
    if args.run_dir is not None and any(writable_dir("--run-dir", args.run_dir).glob("*")):
        raise UsageError(f"--run-dir {args.run_dir}: already holds files (expected a new or empty directory)")
    from embodied.agents.quickstart import run_quickstart  # composition: envs + training + evaluation

    return run_quickstart(args.config, args.overrides, run_dir=args.run_dir)


def _cmd_collect(args: argparse.Namespace) -> int:
    from embodied.agents.collection import collect_dataset
    from embodied.config import load_config

    new_dir("--out", args.out)
    overrides = list(args.overrides)
    if args.policy is not None:  # checked here so that a bad name is a line naming --policy, then data.policy
        from embodied.agents.user_policy import load_policy_factory

        load_policy_factory(args.policy, "--policy")
        overrides.append(f"data.policy={args.policy}")
    cfg = load_config(args.config, overrides)
    root = collect_dataset(cfg, args.out, progress=not args.quiet)
    _warn_silent_failures(root)
    print(f"wrote {root}")
    return 0


def _warn_silent_failures(root: Any) -> None:
    """Loud stderr line when every collected episode failed while returns were positive (a success rule unread)."""
    from embodied.eval.success_check import dataset_success_warning

    warning = dataset_success_warning(root)
    if warning is not None:
        print(f"embodied: WARNING: {warning}", file=sys.stderr)


def _cmd_train(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from embodied.config import load_config
    from embodied.training.distributed import is_main_process, wait_for_everyone
    from embodied.training.stages import run_stages

    _check_train_paths(args)
    cfg = load_config(args.config, args.overrides)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_dir = Path(args.run_dir)
    data: Path | None = Path(args.data) if args.data else run_dir / "data"
    # rl stages learn from envs, not a dataset; their continual-learning hooks replay / distil on one
    needs_data = any(stage.kind != "rl" or stage.hooks for stage in cfg.stages)
    missing = needs_data and not args.data and not (run_dir / "data" / "meta" / "info.json").exists()
    wait_for_everyone()  # under accelerate launch: every process looks before the main one collects
    if missing and is_main_process():
        # the CLI is the composition point: collection needs the envs, training (core) only the dataset
        from embodied.agents.collection import collect_dataset

        collect_dataset(cfg, run_dir / "data", progress=not args.quiet)
    wait_for_everyone()
    from embodied.agents.rl_envs import make_rl_envs  # composition: the core receives the envs of rl stages

    # TrainingError, CheckpointError, DatasetError are UserErrors: main() prints them as one line, exit code 2
    models = run_stages(cfg, data if needs_data else None, run_dir, resume=args.resume, env_factory=make_rl_envs)
    if is_main_process():
        for model in models:
            print(f"saved {model}")
    return 0


def _check_train_paths(args: argparse.Namespace) -> None:
    """``--run-dir`` writable, ``--data`` a LeRobot dataset, ``--resume`` ``auto`` or an existing checkpoint."""
    writable_dir("--run-dir", args.run_dir)
    if args.data:
        info = existing_dir("--data", args.data) / "meta" / "info.json"
        if not info.is_file():
            raise UsageError(f"--data {args.data}: not a LeRobot v3 dataset (no {info}); run embodied collect first")
    if args.resume not in (None, "auto"):
        existing_dir("--resume", args.resume)


def _cmd_continual(args: argparse.Namespace) -> int:
    import logging

    writable_dir("--run-dir", args.run_dir)
    if args.resume not in (None, "auto"):
        raise UsageError(f"--resume {args.resume}: expected 'auto' (a task sequence resumes where it stopped)")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from embodied.agents.continual import run_continual  # composition: envs + training + evaluation

    return run_continual(args.config, args.overrides, args.run_dir, resume=args.resume)


def _cmd_eval(args: argparse.Namespace) -> int:
    from embodied.eval.command import run_eval_command

    return run_eval_command(args)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from embodied.eval.doctor_command import run_doctor_command

    return run_doctor_command(args, _env_action_space)


def _cmd_dataset(args: argparse.Namespace) -> int:
    from embodied.data.validate import describe_dataset, validate_dataset

    root = existing_dir(f"dataset {args.action}", args.dir)
    if args.action == "info":
        summary = describe_dataset(root)
        print(json.dumps(summary, indent=2) if args.json else _dataset_text(summary))
        return 0
    problems = validate_dataset(root)
    if args.json:
        print(json.dumps([vars(p) for p in problems], indent=2))
    for problem in problems if not args.json else ():
        print(f"problem: {problem}")
    if not args.json:
        print(f"{len(problems)} problem(s) in {root}" if problems else f"ok: {root} follows the LeRobot v3.0 layout")
    return 1 if problems else 0


def _dataset_text(summary: dict[str, Any]) -> str:
    """``embodied dataset info`` as text: totals, tasks, one line per feature."""
    head = f"{summary['root']}: LeRobot {summary['codebase_version']}, {summary['fps']} fps"
    lines = [
        f"{head}, robot {summary['robot_type']}",
        f"episodes {summary['episodes']}, frames {summary['frames']}, tasks {len(summary['tasks'])}",
        *(f"  task {i}: {task}" for i, task in enumerate(summary["tasks"][:10])),
        "features:",
        *(f"  {k:<36} {f['dtype']:<8} {f['shape']!s:<14} {f['storage']}" for k, f in summary["features"].items()),
        f"quantile stats (q01..q99): {'yes' if summary['quantile_stats'] else 'no'}; "
        f"embodied extras: {'yes' if summary['embodied_extras'] else 'no'}",
    ]
    return "\n".join(lines)


def _env_action_space(env_id: str, kwargs: dict[str, Any]) -> Any:
    """``gymnasium.make(env_id, **kwargs).action_space``: the CLI composes, the core never imports the envs."""
    import gymnasium

    import embodied.envs  # noqa: F401  (registers the embodied/ ids)

    env = gymnasium.make(env_id, **kwargs)
    try:
        return env.action_space
    finally:
        env.close()


def _config_arguments(parser: argparse.ArgumentParser, example: str, default: str | None = None) -> None:
    """The experiment file and its dotted overrides, shared by every command that reads a config."""
    if default is None:
        parser.add_argument("config", help="experiment YAML file")
    else:
        parser.add_argument("config", nargs="?", default=default, help=f"experiment YAML file (default {default})")
    parser.add_argument("overrides", nargs="*", default=[], help=f"dotted overrides anywhere, e.g. {example}")
    parser.set_defaults(config_default=default)  # main() sorts overrides out of the config slot (cli_overrides)


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line on stderr, exit code 2 (the contract of ``embodied.errors``)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("embodied").strip()
        where = f"{command}: " if command else ""
        self.exit(USER_ERROR, f"embodied: {where}{message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="embodied", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="registered encoders, projectors, backbones, heads, PEFT methods")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("envs", help="registered simulated worlds")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, to list the ids it registers (repeatable)",
    )
    p.set_defaults(func=_cmd_envs)
    p = sub.add_parser("config", help="print the resolved experiment config")
    _config_arguments(p, "model.projector.kind=perceiver")
    p.set_defaults(func=_cmd_config)
    p = sub.add_parser("quickstart", help="the main job end to end on CPU")
    _config_arguments(p, "seed=1", default="configs/experiment/quickstart.yaml")
    p.add_argument("--run-dir", default=None, help="run directory (default: runs/<name>/<date-time>)")
    p.set_defaults(func=_cmd_quickstart)
    p = sub.add_parser("collect", help="expert demonstrations of the config's data section -> LeRobot v3 dataset")
    _config_arguments(p, "data.episodes=8")
    p.add_argument("--out", required=True, help="dataset directory to write")
    p.add_argument(
        "--policy",
        default=None,
        metavar="MODULE:CALLABLE",
        help="policy factory acting instead of the scripted expert: reset(seed), act(obs, info) in the env's own "
        "action space (sets data.policy)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_collect)
    p = sub.add_parser("continual", help="train the config's task sequence, evaluate every task after each")
    _config_arguments(p, "continual.episodes=20")
    p.add_argument("--run-dir", required=True, help="run directory (data/, one directory per method, results)")
    p.add_argument("--resume", default=None, help="'auto': continue the run in --run-dir where it stopped")
    p.set_defaults(func=_cmd_continual)
    p = sub.add_parser("train", help="run the config's training stages")
    _config_arguments(p, "stages.1.max_steps=100")
    p.add_argument("--run-dir", required=True, help="run directory (config.yaml, one sub-directory per stage)")
    p.add_argument(
        "--resume", default=None, help="'auto' (skip finished stages, resume the current one) or a checkpoint"
    )
    p.add_argument("--data", default=None, help="dataset directory (default: collect into RUN_DIR/data first)")
    p.add_argument("--quiet", action="store_true", help="no collection progress bar")
    p.set_defaults(func=_cmd_train)
    from embodied.eval.command import add_eval_arguments  # cheap: no torch, envs or agents at import

    p = sub.add_parser("eval", help="evaluate a saved model: rollouts, baselines, VQA, plans -> results.json, report")
    add_eval_arguments(p)
    p.set_defaults(func=_cmd_eval)
    from embodied.eval.doctor_command import add_doctor_arguments  # cheap: no torch at import

    p = sub.add_parser("doctor", help="check a saved model for silent train/inference mismatches (pass/fail table)")
    add_doctor_arguments(p)
    p.set_defaults(func=_cmd_doctor)
    p = sub.add_parser("dataset", help="inspect a LeRobot v3 dataset: info (what it holds) or validate (layout rules)")
    p.add_argument("action", choices=["info", "validate"], help="info: totals, tasks, features; validate: check it")
    p.add_argument("dir", metavar="DIR", help="dataset directory (holds meta/info.json)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_dataset)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code: 0 done, 1 a check failed (doctor) or a bug, 2 a mistake in the input."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if hasattr(args, "overrides"):  # dotted overrides anywhere: ``... --out D seed=1`` (cli_overrides)
            from embodied.cli_overrides import sort_config_tokens

            try:
                config, overrides = sort_config_tokens(args.config, args.overrides, extra, args.config_default)
                args.config, args.overrides = config, overrides
            except UsageError as err:
                parser.error(str(err))
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as done:  # --help, or an argument error already printed as one line
        return done.code if isinstance(done.code, int) else USER_ERROR
    try:
        code: int = args.func(args)
    except Exception as err:  # the contract: user mistakes are one line (exit 2), anything else is a bug (exit 1)
        return report(err, sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
