"""``python -m embodied.bench [--quick] [--only NAME ...] [--out runs/bench/bench.json]``: run the benchmarks.

Each benchmark module exposes ``run(quick: bool) -> dict`` and measures its ratios within one run; the results
are written together with the machine and package versions they were measured on.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from embodied.eval.manifest import package_versions

#: benchmark name → module (each exposes ``run(quick: bool) -> dict``)
BENCHMARKS = {
    "continual": "embodied.bench.continual",
    "dataset": "embodied.bench.dataset",
    "decode": "embodied.bench.decode",
    "envs": "embodied.bench.envs",
    "grounding": "embodied.bench.grounding",
    "instruct": "embodied.bench.instruct",
    "pointer": "embodied.bench.pointer",
    "rl": "embodied.bench.rl",
    "trainer": "embodied.bench.trainer",
}


def environment() -> dict[str, Any]:
    """Where the numbers were measured: machine, Python and package versions (those of evaluation manifests)."""
    versions = package_versions()
    return {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": _cpu_count(),
        "packages": versions,
    }


def _cpu_count() -> int | None:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embodied.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (for smoke tests)")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--out", default="runs/bench/bench.json", help="where to write the JSON results")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"environment": environment(), "quick": args.quick}
    for name in args.only or sorted(BENCHMARKS):
        start = time.perf_counter()
        print(f"bench {name} ...", flush=True)
        module = importlib.import_module(BENCHMARKS[name])
        results[name] = module.run(quick=args.quick)
        results[name]["wall_s"] = round(time.perf_counter() - start, 2)
        print(json.dumps(results[name], indent=2), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
