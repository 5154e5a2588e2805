"""The ``embodied`` console script: thin parsing that builds objects and calls them.

Commands: ``list`` (registered components), ``envs`` (registered simulated worlds), ``config`` (print a
resolved experiment config), ``quickstart`` (the main job on CPU; see the README for what it does today).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from embodied.config import ConfigError


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
    from embodied.envs.catalog import describe_envs

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
    from embodied.quickstart import run_quickstart

    return run_quickstart(args.config, args.overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="registered encoders, projectors, backbones, heads, PEFT methods")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("envs", help="registered simulated worlds")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_envs)
    p = sub.add_parser("config", help="print the resolved experiment config")
    p.add_argument("config", help="experiment YAML file")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.projector.kind=perceiver")
    p.set_defaults(func=_cmd_config)
    p = sub.add_parser("quickstart", help="the main job end to end on CPU")
    p.add_argument("config", nargs="?", default="configs/experiment/quickstart.yaml")
    p.add_argument("overrides", nargs="*", help="dotted overrides")
    p.set_defaults(func=_cmd_quickstart)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as err:
        print(f"embodied: {err}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
