"""``embodied continual``: train a task sequence in order, evaluate every task after each, compare methods.

For the experiment's ``tasks:`` (each: data, optionally its own stages) and ``continual:`` settings, in RUN_DIR:

- ``data/<task>/``: each task's expert demonstrations (``collect_dataset`` on the task's data section);
- ``first-task/0-<task>/``: the first task, trained once for every method whose hooks cannot change a first
  task's training (``Hook.first_task_inert``: every built-in — nothing to replay, no Fisher, no teacher, no
  adapter yet), with its ``continual_eval.json``; each such method's hooks then run ``on_task_start`` /
  ``on_task_end`` on its models (``seal_task_hooks``: EWC's first Fisher), written to ``<method>/0-<task>/``;
- per method (``continual.methods``: name → hooks put on the ``hook_stages``; none given: one run named
  ``configured`` with the stages' own hooks), ``<method>/<k>-<task>/<stage>/``: the stages of task ``k`` run by
  ``run_stages``, starting from task ``k−1``'s final model with the hooks' state carried over (``TaskInfo``), and
  ``<method>/<k>-<task>/continual_eval.json``: success on every task's held-out seeds (row ``k`` of the matrix),
  the task's curve over its last stage's checkpoints, the language probe;
- ``multitask/`` (``continual.multitask``): the first task's stages on every task's data at once, the last one
  as long as the sequence's last stages together (in samples), evaluated on every task (the upper bound; its one
  row stands for every row of its matrix, so its NBT is 0 by construction);
- ``results.json`` (``embodied.eval.continual_results``: the matrix with Wilson intervals, FWT / NBT / AUC with
  bootstrap intervals, language retention, per method) and ``report.html``.

``continual.json`` records the task list and the methods; ``--resume auto`` refuses a run whose list changed,
skips finished tasks (their evaluation is read back) and resumes the first unfinished stage from its newest
checkpoint. Every task's actions must have the model's size (checked before anything trains).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

import embodied.envs  # noqa: F401  (registers the embodied/ env ids)
from embodied.agents.collection import collect_dataset
from embodied.agents.continual_eval import checkpoint_curve, language_probe, task_outcomes
from embodied.agents.rl_envs import make_rl_envs
from embodied.config import ExperimentConfig, load_config
from embodied.config.data import DataSpec
from embodied.config.stages import StageSpec
from embodied.config.task_sequence import method_stages, task_data
from embodied.data import read_dataset, write_dataset
from embodied.errors import UserError
from embodied.eval.continual_metrics import ContinualRecord
from embodied.eval.continual_report import write_continual_report
from embodied.eval.continual_results import ContinualRun, continual_run, write_continual_results
from embodied.eval.manifest import build_manifest
from embodied.models import MMLLM
from embodied.training.continual import HOOKS
from embodied.training.stages import MODEL_DIR, TaskInfo, run_stages, seal_task_hooks, task_samples

__all__ = ["ContinualError", "run_continual"]

logger = logging.getLogger("embodied")

SEQUENCE_FILE = "continual.json"
EVAL_FILE = "continual_eval.json"
CONFIGURED = "configured"
FIRST_TASK = "first-task"
MULTITASK = "multitask"


class ContinualError(RuntimeError, UserError):
    """A task sequence that cannot run as asked (no tasks, mismatched action sizes, a changed task list)."""


def run_continual(config_path: str, overrides: list[str] | None, run_dir: str | Path, resume: str | None = None) -> int:
    """Collect, train the sequence per method, evaluate, write ``results.json`` and ``report.html``."""
    config = load_config(config_path, overrides)
    if not config.tasks:
        raise ContinualError(f"{config_path} has no 'tasks:' section: embodied continual trains a task sequence")
    root = Path(run_dir)
    _check_sequence(root, config, resume is not None)
    datas = [task_data(config.data, task.data) for task in config.tasks]
    _check_action_sizes(config, datas)
    start = time.perf_counter()
    datasets = [
        _collect(config, data, root / "data" / task.name) for task, data in zip(config.tasks, datas, strict=True)
    ]
    runs: list[ContinualRun] = []
    methods: dict[str, list[dict[str, Any]] | None] = dict(config.continual.methods) or {CONFIGURED: None}
    for method, hooks in methods.items():
        phase = time.perf_counter()
        record = _run_method(config, hooks, datas, datasets, root / method, resume is not None)
        runs.append(_result(method, record, config, datas))
        print(f"== {method}: {time.perf_counter() - phase:.1f}s", flush=True)
    if config.continual.multitask:
        record = _run_multitask(config, datas, datasets, root / MULTITASK, resume is not None)
        runs.append(_result(MULTITASK, record, config, datas))
    write_continual_results(root / "results.json", runs)
    report = write_continual_report(_read(root / "results.json"), root)
    _print_summary(runs, time.perf_counter() - start)
    print(f"report: {report.resolve()}")
    return 0


def _read(path: Path) -> Any:
    from embodied.eval.continual_results import read_continual_results

    return read_continual_results(path)


def _check_sequence(root: Path, config: ExperimentConfig, resume: bool) -> None:
    """A new run needs an empty run directory; a resumed one the same tasks and methods it was started with."""
    record = {
        "tasks": [task.name for task in config.tasks],
        "methods": list(config.continual.methods) or [CONFIGURED],
        "multitask": config.continual.multitask,
    }
    path = root / SEQUENCE_FILE
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        if not resume:
            raise ContinualError(f"{root} already holds a continual run; resume it with --resume auto")
        if saved != record:
            raise ContinualError(
                f"{path}: the run was started with tasks {saved['tasks']} and methods {saved['methods']}, the "
                f"config now has tasks {record['tasks']} and methods {record['methods']}; use a new --run-dir"
            )
        return
    if root.is_dir() and any(root.iterdir()) and not resume:
        raise ContinualError(f"{root} is not empty; pick a new --run-dir (or --resume auto to continue a run)")
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def _check_action_sizes(config: ExperimentConfig, datas: Sequence[DataSpec]) -> None:
    """Every task's env takes actions of the model's size (one line naming the task that differs)."""
    for task, data in zip(config.tasks, datas, strict=True):
        for env_id in data.env_ids:
            env = gym.make(env_id, **data.env_kwargs)
            shape = getattr(env.action_space, "shape", None)
            env.close()
            size = int(shape[-1]) if shape else 1
            if size != config.model.action_dim:
                raise ContinualError(
                    f"task {task.name!r} ({env_id}, {data.env_kwargs}) takes actions of size {size}, but the model "
                    f"and the other tasks use model.action_dim={config.model.action_dim}: the tasks of a sequence "
                    "must agree on the action size"
                )


def _collect(config: ExperimentConfig, data: DataSpec, out: Path) -> Path:
    """The task's dataset (collected once: written aside, then renamed, so a kill never leaves half of one)."""
    if (out / "meta" / "info.json").is_file():
        return out
    tmp = out.with_name(f".{out.name}-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    phase = time.perf_counter()
    collect_dataset(config.model_copy(update={"data": data}), tmp, progress=False)
    tmp.rename(out)
    print(f"== collect {out.name}: {data.episodes * len(data.env_ids)} episodes, {time.perf_counter() - phase:.1f}s")
    return out


def _stages(config: ExperimentConfig, index: int, hooks: list[dict[str, Any]] | None) -> list[StageSpec]:
    stages = config.tasks[index].stages or config.stages
    return stages if hooks is None else method_stages(stages, hooks, config.continual.hook_stages)


def _run_method(
    config: ExperimentConfig,
    hooks: list[dict[str, Any]] | None,
    datas: Sequence[DataSpec],
    datasets: Sequence[Path],
    root: Path,
    resume: bool,
) -> ContinualRecord:
    """Train the tasks in order with one method's hooks; the matrix, curves and probes of the run."""
    names = [task.name for task in config.tasks]
    rows: list[dict[str, Any]] = []
    previous: list[Any] = []
    previous_tasks: list[int] = []
    previous_run: Path | None = None
    start: Path | None = None
    for k, task in enumerate(config.tasks):
        task_dir = root / f"{k}-{task.name}"
        stages = _stages(config, k, hooks)
        cfg = config.model_copy(update={"stages": stages, "data": datas[k]})
        info = TaskInfo(k, task.name, previous, previous_tasks, previous_run, start, is_last=k == len(names) - 1)
        if k == 0 and _shares_first_task(cfg):
            models, stage_dir = _first_task(config, cfg, datasets[0], root.parent, resume), None
            seal_task_hooks(cfg, datasets[0], task_dir, models, info)
        else:
            models = run_stages(
                cfg, datasets[k], task_dir, resume="auto" if resume else None, env_factory=make_rl_envs, task=info
            )
            stage_dir = task_dir / stages[-1].name
        rows.append(_evaluate_task(config, k, models[-1], stage_dir or models[-1].parent, datas))
        model_samples = task_samples(MMLLM.from_pretrained(models[-1]), read_dataset(datasets[k]).episodes())
        previous, previous_tasks = previous + model_samples, previous_tasks + [k] * len(model_samples)
        previous_run, start = task_dir, models[-1]
    return ContinualRecord(
        tasks=names,
        outcomes=[row["outcomes"] for row in rows],
        curves=[[(p[0], p[1]) for p in row["curve"]] for row in rows],
        language=[row["language"] for row in rows],
    )


def _shares_first_task(config: ExperimentConfig) -> bool:
    """Whether every hook of the method leaves the first task's training as it is (then it is trained once)."""
    return all(HOOKS.get(h["kind"]).target.first_task_inert for stage in config.stages for h in stage.hooks)


def _first_task(
    config: ExperimentConfig, method: ExperimentConfig, dataset: Path, root: Path, resume: bool
) -> list[Path]:
    """The first task trained once, without hooks, in ``RUN/first-task/0-<task>/`` (every method starts here)."""
    cfg = method.model_copy(update={"stages": method_stages(method.stages, [], None)})
    task_dir = root / FIRST_TASK / f"0-{config.tasks[0].name}"
    info = TaskInfo(0, config.tasks[0].name, is_last=len(config.tasks) == 1)
    done = [task_dir / stage.name / MODEL_DIR for stage in cfg.stages]
    if all(path.is_dir() for path in done):
        return done
    return run_stages(cfg, dataset, task_dir, resume="auto" if resume else None, env_factory=make_rl_envs, task=info)


def _evaluate_task(
    config: ExperimentConfig, k: int, model_dir: Path, stage_dir: Path, datas: Sequence[DataSpec], curve: bool = True
) -> dict[str, Any]:
    """Row ``k``: every task's outcomes after task ``k``, task ``k``'s curve, the probe (cached on disk)."""
    path = model_dir.parent.parent / EVAL_FILE
    if path.is_file():
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cached
    spec = config.continual
    phase = time.perf_counter()
    model = MMLLM.from_pretrained(model_dir)
    points = checkpoint_curve(model, stage_dir, k, datas[k], spec) if spec.curve and curve else []
    outcomes = [task_outcomes(model, j, datas[j], spec) for j in range(len(datas))]
    points.append((_steps(stage_dir), outcomes[k]))
    row = {"outcomes": outcomes, "curve": points, "language": language_probe(model, k, datas[0], spec)}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    rates = " ".join(f"{sum(o) / len(o):.2f}" for o in outcomes)
    print(f"== task {k} ({config.tasks[k].name}): success per task {rates}, {time.perf_counter() - phase:.1f}s")
    return row


def _steps(stage_dir: Path) -> int:
    """The step the stage ended at (its newest checkpoint's)."""
    from embodied.training.checkpoint import latest_checkpoint, load_checkpoint

    newest = latest_checkpoint(stage_dir)
    return 0 if newest is None else load_checkpoint(newest).step


def _run_multitask(
    config: ExperimentConfig, datas: Sequence[DataSpec], datasets: Sequence[Path], root: Path, resume: bool
) -> ContinualRecord:
    """The stages once on every task's data (the upper bound); its one evaluation fills every row."""
    joint = root / "data"
    if not (joint / "meta" / "info.json").is_file():
        episodes = [e for path in datasets for e in read_dataset(path).episodes()]
        fps = int(json.loads((datasets[0] / "meta" / "info.json").read_text())["fps"])
        tmp = root / ".data-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        write_dataset(episodes, tmp, fps=fps)
        tmp.rename(joint)
    stages = _multitask_stages(config)
    cfg = config.model_copy(update={"stages": stages})
    models = run_stages(cfg, joint, root, resume="auto" if resume else None, env_factory=make_rl_envs)
    row = _evaluate_task(config, len(datas) - 1, models[-1], root / stages[-1].name, datas, curve=False)
    model_dir = root / stages[-1].name / MODEL_DIR
    assert model_dir == models[-1]
    k = len(datas)
    return ContinualRecord(
        tasks=[task.name for task in config.tasks],
        outcomes=[row["outcomes"]] * k,
        curves=[[(_steps(root / stages[-1].name), row["outcomes"][j])] for j in range(k)],
        language=[row["language"]] * k,
    )


def _multitask_stages(config: ExperimentConfig) -> list[StageSpec]:
    """The first task's stages without hooks, its last stage as long as the sequence's last stages together (the
    same number of samples the sequence trains on there, over every task's data at once)."""
    stages = method_stages(config.tasks[0].stages or config.stages, [], None)
    last = stages[-1]
    samples = sum(s.max_steps * s.batch_size for k in range(len(config.tasks)) for s in _stages(config, k, None)[-1:])
    total = max(1, round(samples / last.batch_size))
    every = last.checkpoint_every and max(last.checkpoint_every, total // 2)
    return [*stages[:-1], last.model_copy(update={"max_steps": total, "checkpoint_every": every})]


def _result(name: str, record: ContinualRecord, config: ExperimentConfig, datas: Sequence[DataSpec]) -> ContinualRun:
    spec = config.continual
    counts = {"episodes": spec.episodes, "vqa": spec.vqa_episodes, "plans": spec.plan_episodes}
    manifest = build_manifest(
        seeds={block: (spec.seed, n) for block, n in counts.items()},
        episode_counts=counts,
        env_kwargs={task.name: data.env_kwargs for task, data in zip(config.tasks, datas, strict=True)},
        renderer=None,
        device="cpu",
        model_dir=None,
    )
    hooks = spec.methods.get(name)
    description = "joint training on every task" if name == MULTITASK else f"hooks: {hooks or 'none'}"
    return continual_run(name, record, manifest, description=description, seed=spec.bootstrap_seed)


def _print_summary(runs: Sequence[ContinualRun], seconds: float) -> None:
    print()
    for run in runs:
        m = run.metrics
        nbt = "n/a" if m.nbt is None else f"{m.nbt.value:.3f} [{m.nbt.ci95[0]:.3f}, {m.nbt.ci95[1]:.3f}]"
        retention = "n/a" if m.retention.score is None else f"{m.retention.score:.2f}"
        print(
            f"{run.name:>12}: FWT {m.fwt.value:.3f}  NBT {nbt}  AUC {m.auc.value:.3f}  language retention {retention}"
        )
    print(f"total: {seconds:.1f}s")
