"""The continual-learning benchmark: ``configs/experiment/continual.yaml`` end to end (``embodied continual``).

Reports, per method, FWT / NBT / AUC with their 95% intervals and the language retention, the whole run's wall
time and the fp32 matmul rate measured in the same run (machines of this kind differ by up to 2× in speed).
``--quick`` runs the tiny sequence (``continual-tiny.yaml``) instead: a smoke test of the same path.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path
from typing import Any

from embodied.bench.decode import matmul_flops

ROOT = Path(__file__).resolve().parents[2]
FULL = ROOT / "configs/experiment/continual.yaml"
QUICK = ROOT / "configs/experiment/continual-tiny.yaml"


def run(quick: bool) -> dict[str, Any]:
    from embodied.agents.continual import run_continual
    from embodied.eval.continual_results import read_continual_results

    config = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="bench-continual-") as tmp:
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            run_continual(str(config), [], Path(tmp) / "run")
        seconds = time.perf_counter() - start
        results = read_continual_results(Path(tmp) / "run" / "results.json")
    methods = {}
    for entry in results.runs:
        m = entry.metrics
        methods[entry.name] = {
            "fwt": round(m.fwt.value, 4),
            "nbt": None if m.nbt is None else round(m.nbt.value, 4),
            "nbt_ci95": None if m.nbt is None else [round(v, 4) for v in m.nbt.ci95],
            "auc": round(m.auc.value, 4),
            "language_retention": m.retention.score,
        }
    return {
        "config": str(config.relative_to(ROOT)),
        "run_s": round(seconds, 1),
        "matmul_gflop_s": round(matmul_flops(quick) / 1e9, 2),
        "methods": methods,
    }
