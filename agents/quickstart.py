"""``embodied quickstart``: the main job end to end on CPU — collect → train the stages → evaluate → report.

The experiment (``configs/experiment/quickstart.yaml`` by default) says everything: ``data`` (expert demos
with their annotations), ``stages`` (align, instruct) and ``evaluation`` (held-out seeds and instruction
templates, baselines, VQA and plan blocks). Outputs go to a fresh run directory (``runs/quickstart/<time>``
unless ``run_dir`` is given): ``data/`` (the LeRobot v3 dataset), one directory per stage (metrics, checkpoints,
``model/``), ``eval/<split>/`` per evaluated split (``results.json``, ``report.html``, ``summary.png``,
``videos/``) and ``timings.json`` (seconds per phase). The first split gets every block (baselines, int8, VQA,
plans); later splits roll out the model alone. The key numbers and the reports' paths are printed at the end.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from embodied.agents.collection import collect_dataset
from embodied.agents.rl_envs import make_rl_envs
from embodied.config import ExperimentConfig, load_config
from embodied.eval.command import RESULTS_FILE, print_summary
from embodied.eval.options import EvalOptions, default_seed
from embodied.eval.report import write_report
from embodied.eval.results import EvalResults, Split, write_results
from embodied.eval.run_dir import learning_curves, locate_run
from embodied.eval.stage_comparison import COMPARISON_FILE, StageComparison, compare_stages, print_comparison
from embodied.training.lineage import LINEAGE_FILE
from embodied.training.stages import run_stages

__all__ = ["eval_options", "run_quickstart"]

T = TypeVar("T")


def eval_options(
    config: ExperimentConfig, model_dir: Path, out: Path, split: Split, full: bool = True, language: bool | None = None
) -> EvalOptions:
    """The ``embodied eval`` options of the experiment's ``evaluation`` section for ``split`` (``full``: every
    block; else the model's rollouts only; ``language``: the VQA and plan blocks, default ``full``)."""
    spec = config.evaluation
    language = full if language is None else language
    return EvalOptions(
        checkpoint=model_dir,
        env_id=spec.env_id or config.data.env_ids[0],
        out=out,
        split=split,
        episodes=spec.episodes,
        num_envs=spec.num_envs,
        seed=default_seed(split),
        baselines=tuple(spec.baselines) if full else (),
        vqa_episodes=spec.vqa_episodes if language else 0,
        plan_episodes=spec.plan_episodes if language else 0,
        plan_grammar=spec.plan_grammar,
        videos=spec.videos,
        int8=spec.int8 and full,
        env_kwargs=dict(config.data.env_kwargs),
        vqa_env_kwargs={"qtypes": list(spec.vqa_qtypes or config.data.vqa_qtypes), "stage_prob": 0.0},
    )


def _timed(timings: dict[str, float], phase: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    print(f"== {phase}", flush=True)
    result = fn()
    timings[phase] = round(time.perf_counter() - start, 1)
    print(f"== {phase}: {timings[phase]:.1f}s", flush=True)
    return result


def stage_seconds(config: ExperimentConfig, root: Path) -> dict[str, float]:
    """``{"train <stage>": seconds}`` from each stage's ``lineage.json`` (stages without a time are left out)."""
    out: dict[str, float] = {}
    for stage in config.stages:
        path = root / stage.name / LINEAGE_FILE
        seconds = json.loads(path.read_text()).get("seconds") if path.is_file() else None
        if seconds is not None:
            out[f"train {stage.name}"] = float(seconds)
    return out


def print_timings(timings: dict[str, float]) -> None:
    """The per-phase table: seconds and share of the total."""
    total = timings.get("total") or sum(v for k, v in timings.items() if not k.startswith("train "))
    print("seconds per phase:")
    for phase, seconds in timings.items():
        indent = "    " if phase.startswith("train ") else "  "
        share = f"{100 * seconds / total:5.1f}%" if total and phase != "total" else ""
        print(f"{indent}{phase:<{40 - len(indent)}} {seconds:7.1f}s {share}")


def _compare_before(
    config: ExperimentConfig, models: list[Path], root: Path, first: EvalResults, timings: dict[str, float]
) -> StageComparison | None:
    """When the last stage is ``rl`` after another stage: that stage's model on the first split's seeds (rollouts,
    VQA, plans), compared with the final model's ``first`` results (``comparison.json`` beside them)."""
    from embodied.agents.eval_suite import run_suite

    stages = config.stages
    if len(stages) < 2 or stages[-1].kind != "rl":
        return None
    split = config.evaluation.splits[0]
    before_stage = stages[-2].name
    out = root / "eval" / f"{split}-{before_stage}"
    options = replace(eval_options(config, models[-2], out, split, full=False, language=True), videos=0)
    before = _timed(timings, f"evaluate {split} ({before_stage} model)", functools.partial(run_suite, options))
    write_results(before, out / RESULTS_FILE)
    comparison = compare_stages(before, first, (before_stage, stages[-1].name))
    comparison.write(root / "eval" / split / COMPARISON_FILE)
    return comparison


def _evaluate(
    config: ExperimentConfig, models: list[Path], root: Path, timings: dict[str, float]
) -> list[tuple[EvalResults, Path]]:
    """Every split of ``config.evaluation`` on the final model (the first with every block), the stage before an
    ``rl`` stage on the first split, and the reports."""
    from embodied.agents.eval_suite import run_suite

    run = locate_run(models[-1])
    curves = learning_curves(run) if run is not None else None
    evaluated: list[tuple[EvalResults, EvalOptions]] = []
    for index, split in enumerate(config.evaluation.splits):
        options = eval_options(config, models[-1], root / "eval" / split, split, full=index == 0)
        results = _timed(timings, f"evaluate {split}", functools.partial(run_suite, options))
        write_results(results, options.out / RESULTS_FILE)
        evaluated.append((results, options))
    comparison = _compare_before(config, models, root, evaluated[0][0], timings)
    reports = []
    for index, (results, options) in enumerate(evaluated):
        extra = comparison if index == 0 else None
        reports.append((results, write_report(results, options.out, curves, comparison=extra)))
    if comparison is not None:
        print_comparison(comparison)
    return reports


def _machine_rate(root: Path) -> dict[str, float]:
    """The fp32 matmul rate of this machine now (``machine.json``): machines of one kind differ by up to 2×, so
    the job's times are quoted with it."""
    import torch

    from embodied.bench.instruct import matmul_gflops

    machine = {"matmul_gflops": round(matmul_gflops(), 1), "threads": float(torch.get_num_threads())}
    root.mkdir(parents=True, exist_ok=True)
    (root / "machine.json").write_text(json.dumps(machine, indent=1) + "\n")
    return machine


def run_quickstart(config_path: str, overrides: list[str] | None = None, run_dir: str | Path | None = None) -> int:
    """Collect, train, evaluate and report; 0 when every phase ran."""
    config = load_config(config_path, overrides)
    root = Path(run_dir) if run_dir is not None else Path("runs") / config.name / time.strftime("%Y%m%d-%H%M%S")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    timings: dict[str, float] = {}
    machine = _machine_rate(root)
    start = time.perf_counter()
    data = _timed(timings, "collect", lambda: collect_dataset(config, root / "data"))
    models = _timed(timings, "train", lambda: run_stages(config, data, root, env_factory=make_rl_envs))
    timings.update(stage_seconds(config, root))
    reports = _evaluate(config, models, root, timings)
    timings["total"] = round(time.perf_counter() - start, 1)
    (root / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    print()
    for results, _ in reports:
        print_summary(results)
    print_timings(timings)
    rate, threads = machine["matmul_gflops"], int(machine["threads"])
    print(f"fp32 matmul rate measured before the job: {rate:.0f} GFLOP/s ({threads} threads)")
    for _, report in reports:
        print(f"report: {report.resolve()}")
    return 0
