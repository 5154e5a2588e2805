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
from embodied.training.stages import run_stages

__all__ = ["eval_options", "run_quickstart"]

T = TypeVar("T")


def eval_options(config: ExperimentConfig, model_dir: Path, out: Path, split: Split, full: bool = True) -> EvalOptions:
    """The ``embodied eval`` options of the experiment's ``evaluation`` section for ``split`` (``full``: every
    block; else the model's rollouts only)."""
    spec = config.evaluation
    return EvalOptions(
        checkpoint=model_dir,
        env_id=spec.env_id or config.data.env_ids[0],
        out=out,
        split=split,
        episodes=spec.episodes,
        num_envs=spec.num_envs,
        seed=default_seed(split),
        baselines=tuple(spec.baselines) if full else (),
        vqa_episodes=spec.vqa_episodes if full else 0,
        plan_episodes=spec.plan_episodes if full else 0,
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


def run_quickstart(config_path: str, overrides: list[str] | None = None, run_dir: str | Path | None = None) -> int:
    """Collect, train, evaluate and report; 0 when every phase ran."""
    from embodied.agents.eval_suite import run_suite

    config = load_config(config_path, overrides)
    root = Path(run_dir) if run_dir is not None else Path("runs") / config.name / time.strftime("%Y%m%d-%H%M%S")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    data = _timed(timings, "collect", lambda: collect_dataset(config, root / "data"))
    models = _timed(timings, "train", lambda: run_stages(config, data, root, env_factory=make_rl_envs))
    run = locate_run(models[-1])
    curves = learning_curves(run) if run is not None else None
    reports: list[tuple[EvalResults, Path]] = []
    for index, split in enumerate(config.evaluation.splits):
        options = eval_options(config, models[-1], root / "eval" / split, split, full=index == 0)
        results = _timed(timings, f"evaluate {split}", functools.partial(run_suite, options))
        write_results(results, options.out / RESULTS_FILE)
        reports.append((results, write_report(results, options.out, curves)))
    timings["total"] = round(time.perf_counter() - start, 1)
    (root / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    print()
    for results, _ in reports:
        print_summary(results)
    print(f"seconds per phase: {json.dumps(timings)}")
    for _, report in reports:
        print(f"report: {report.resolve()}")
    return 0
