"""Run an experiment's training stages in order on one model: ``run_stages(config, dataset_root, run_dir)``.

Core only: the stages read a LeRobot v3 dataset from disk (``embodied collect`` writes one), never an env. Per
stage ``S`` (``config.stages``), in ``run_dir/S/``:

- the model is the previous stage's saved model (the first stage builds one from ``config.model``), with the
  stage's ``trainable`` policy applied over ``model.trainable`` (the component table is logged);
- ``align`` / ``instruct``: ``make_samples`` → ``Mixture(stage.mixture)`` draws ``max_steps × batch_size ×
  grad_accum × processes`` samples → the ONE ``Trainer`` (batches by ``to_batch``); ``preference``: pairs of a
  correct and a wrong VQA answer of the same question type → ``PreferenceModel`` (DPO, ``stage.beta``) in the
  same ``Trainer``;
- held-out evaluation: the dataset's last ``data.heldout_episodes`` episodes never train; ``align`` /
  ``instruct`` stages evaluate on all their samples, one set per kind of the stage's mixture, every
  ``eval_every`` steps and at the end (``split: "eval"`` records: loss and the heads' accuracies per kind, e.g.
  ``vqa/text/accuracy``, ``action/pointer/pick_acc``);
- outputs: ``metrics.jsonl``, ``checkpoints/``, ``model/`` (``save_pretrained``) and ``lineage.json``.

Frozen encoders' features are computed once per distinct input and reused (``feature_cache``, on unless a stage
sets ``feature_cache: false``). Under ``accelerate launch`` only the main process writes files; the others wait
for it (``embodied.training.distributed``).

``run_dir/config.yaml`` holds the resolved config. A stage is finished when its ``model/`` exists (written under a
temporary name, then renamed). With ``resume="auto"`` finished stages are skipped and the first unfinished one
continues from its newest checkpoint (a checkpoint path resumes that stage from the path instead); without
``resume`` the run directory must hold no stage output yet.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from embodied.config import ExperimentConfig, save_config
from embodied.config.stages import StageSpec
from embodied.data import KINDS, Episode, Mixture, Sample, make_samples, read_dataset, to_batch
from embodied.data.augment import augment_prompts
from embodied.models import MMLLM, MMLLMConfig
from embodied.models.freezing import apply_policy, trainable_table
from embodied.training.continual.base import HookSet, TaskContext
from embodied.training.continual.state_files import HOOKS_DIR, build_hooks, load_hook_state, save_hook_state
from embodied.training.distributed import is_main_process, process_state, wait_for_everyone
from embodied.training.errors import TrainingError
from embodied.training.feature_cache import frozen_feature_cache
from embodied.training.lineage import write_lineage
from embodied.training.preference import DPOSettings, PreferenceModel, preference_batch
from embodied.training.rl.stage import EnvFactory, build_rl_trainer, save_value_head
from embodied.training.rl.trainer import RLTrainer
from embodied.training.settings import LoopSettings
from embodied.training.trainer import Trainer, TrainerSettings
from embodied.training.vqa_pairs import PreferencePair, vqa_preference_pairs

__all__ = ["CONFIG_FILE", "MODEL_DIR", "TaskInfo", "run_stages", "seal_task_hooks", "task_samples"]

logger = logging.getLogger("embodied")

CONFIG_FILE = "config.yaml"
MODEL_DIR = "model"
_MODEL_TMP = ".model-tmp"


@dataclass
class TaskInfo:
    """Where a ``run_stages`` call stands in a task sequence (``embodied continual``); the default is a plain run.

    ``previous`` / ``previous_tasks``: the earlier tasks' training samples and the task index of each (what the
    hooks replay or distil on); ``previous_run``: the earlier task's run directory, whose stages' ``hooks/``
    state the same stages load; ``start_model``: the model the first stage starts from (the earlier task's
    final model; ``None``: a new one from ``config.model``); ``is_last``: no task follows (EWC then skips its
    Fisher).
    """

    index: int = 0
    name: str = "task"
    previous: Sequence[Sample] = ()
    previous_tasks: Sequence[int] = ()
    previous_run: Path | None = None
    start_model: Path | None = None
    is_last: bool = True


def run_stages(
    config: ExperimentConfig,
    dataset_root: str | Path | None,
    run_dir: str | Path,
    resume: str | Path | None = None,
    env_factory: EnvFactory | None = None,
    task: TaskInfo | None = None,
) -> list[Path]:
    """Train every stage of ``config`` on the dataset at ``dataset_root``; the saved model directory per stage.

    ``rl`` stages roll out in envs made by ``env_factory`` (``embodied.agents.rl_envs.make_rl_envs``); a config
    whose stages are all ``rl`` needs no dataset (``dataset_root`` may be ``None``). ``task``: where this run
    stands in a task sequence (``embodied continual``); a plain run is the one task 0.
    """
    task = task or TaskInfo()
    run_dir = Path(run_dir)
    dataset = None if dataset_root is None else Path(dataset_root)
    if not config.stages:
        raise TrainingError("the config has no stages to run")
    if resume is None:
        started = [s.name for s in config.stages if (run_dir / s.name).exists()]
        wait_for_everyone()  # every process looks before any creates a stage directory
        if started:
            raise TrainingError(
                f"{run_dir} already has output of stage(s) {started}; resume with --resume auto (resume='auto')"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    if is_main_process():
        save_config(config, run_dir / CONFIG_FILE)
    episodes: list[Episode] = []
    heldout: list[Episode] = []
    if dataset is None and any(stage.kind != "rl" for stage in config.stages):
        raise TrainingError("the config's align/instruct/preference stages need a dataset (dataset_root)")
    if dataset is not None:  # rl stages read it only for their hooks (replayed, distilled on)
        episodes = read_dataset(dataset).episodes()
        _check_dataset(config, episodes, dataset)
        episodes, heldout = _split_heldout(episodes, config.data.heldout_episodes)
    parent: Path | None = task.start_model
    models = []
    for stage in config.stages:
        stage_dir = run_dir / stage.name
        if (stage_dir / MODEL_DIR).is_dir():
            logger.info("stage %r is finished (%s exists): skipped", stage.name, stage_dir / MODEL_DIR)
        else:
            began = time.perf_counter()
            model = _load_model(config, parent)
            _apply_stage_policy(config, stage, model)
            hooks, ctx = _start_hooks(stage, model, episodes, task)
            trainer = _stage_trainer(stage, model, (episodes, heldout), stage_dir, (env_factory, parent), hooks)
            resumed = _run_trainer(trainer, model, stage, resume)
            resume = "auto" if resume is not None else None  # an explicit checkpoint belongs to the first stage run
            if hooks and ctx is not None:
                hooks.on_task_end(ctx)
            if is_main_process():
                if hooks:
                    save_hook_state(stage_dir / HOOKS_DIR, hooks)
                _save_model(model, stage_dir, trainer)
                write_lineage(
                    stage_dir,
                    stage=stage.name,
                    kind=stage.kind,
                    parent=parent,
                    resumed_from=resumed,
                    dataset=dataset,
                    config=config,
                    seconds=time.perf_counter() - began,
                )
            wait_for_everyone()  # the next stage loads this model on every process
        parent = stage_dir / MODEL_DIR
        models.append(parent)
    return models


def seal_task_hooks(
    config: ExperimentConfig, dataset_root: Path, run_dir: Path, models: Sequence[Path], task: TaskInfo
) -> None:
    """The hooks' state at the end of a task that was trained without them: for each stage of ``config`` with
    hooks, ``on_task_start`` and ``on_task_end`` on the stage's finished model (``models``, one per stage), the
    state written to ``run_dir/<stage>/hooks`` as if the stage had trained with them.

    Exact only when the hooks cannot change a first task's training — true of the built-ins on task 0 of a
    sequence (nothing to replay, no Fisher, no teacher, no adapter) — which lets ``embodied continual`` train
    the first task once for every method.
    """
    episodes, _ = _split_heldout(read_dataset(dataset_root).episodes(), config.data.heldout_episodes)
    for stage, model_dir in zip(config.stages, models, strict=True):
        if not stage.hooks or (run_dir / stage.name / HOOKS_DIR).is_dir():
            continue
        model = MMLLM.from_pretrained(model_dir)
        _apply_stage_policy(config, stage, model)
        hooks, ctx = _start_hooks(stage, model, episodes, task)
        if ctx is not None:
            hooks.on_task_end(ctx)
        if is_main_process():
            save_hook_state(run_dir / stage.name / HOOKS_DIR, hooks)


def _check_dataset(config: ExperimentConfig, episodes: Sequence[Episode], root: Path) -> None:
    """The dataset's state and action sizes must match the model's (a clear error instead of a shape error)."""
    if not episodes:
        raise TrainingError(f"{root} holds no episodes")
    state_dim, action_dim = episodes[0].state.shape[-1], episodes[0].actions.shape[-1]
    if (state_dim, action_dim) != (config.model.state_dim, config.model.action_dim):
        raise TrainingError(
            f"{root} has state size {state_dim} and action size {action_dim} but the model expects "
            f"model.state_dim={config.model.state_dim} and model.action_dim={config.model.action_dim}"
        )
    space, n = episodes[0].action_space, config.model.discrete_actions
    if (space.n if space is not None else None) != n:  # indices read as floats in [-1, 1] would train silently
        held = f"Discrete({space.n}) action indices" if space is not None else "continuous actions"
        wanted = (
            f"model.discrete_actions: {space.n} and bins: {space.n}" if space is not None else "no discrete_actions"
        )
        raise TrainingError(f"{root} holds {held} but model.discrete_actions is {n}; set {wanted}")


def _load_model(config: ExperimentConfig, parent: Path | None) -> MMLLM:
    """The previous stage's saved model, or a new one from ``config.model`` seeded with ``config.seed``."""
    if parent is not None:
        return MMLLM.from_pretrained(parent)
    torch.manual_seed(config.seed)
    return MMLLM(MMLLMConfig(spec=config.model.model_dump(mode="json")))


def _split_heldout(episodes: list[Episode], count: int) -> tuple[list[Episode], list[Episode]]:
    """(training episodes, the last ``count`` episodes held out); at least one episode must remain to train."""
    if count >= len(episodes):
        raise TrainingError(f"data.heldout_episodes is {count} but the dataset has only {len(episodes)} episodes")
    return (episodes[: len(episodes) - count], episodes[len(episodes) - count :]) if count else (episodes, [])


def _apply_stage_policy(config: ExperimentConfig, stage: StageSpec, model: MMLLM) -> None:
    """The stage's trainable policy over ``model.trainable``, logged as the component table."""
    policy = {**config.model.trainable, **stage.trainable}
    apply_policy(model.component_groups(), policy, model.backbone)
    logger.info("stage %r (%s)\n%s", stage.name, stage.kind, trainable_table(model.component_groups(), policy))


def _start_hooks(
    stage: StageSpec, model: MMLLM, episodes: Sequence[Episode], task: TaskInfo
) -> tuple[HookSet, TaskContext | None]:
    """The stage's hooks with the previous task's state loaded, after ``on_task_start`` (before the optimizer
    is built, so a hook may add parameters)."""
    hooks = HookSet(build_hooks(stage.hooks), model=model, model_batches=stage.kind in ("align", "instruct"))
    if not hooks:
        return hooks, None
    if task.previous_run is not None:
        load_hook_state(task.previous_run / stage.name / HOOKS_DIR, hooks)
    own = task_samples(model, episodes)
    # a plain run's preference / rl stage guards what the supervised stages taught: the dataset counts as earlier
    plain_later = task.index == 0 and task.is_last and stage.kind in ("preference", "rl")
    ctx = TaskContext(
        task=task.index,
        task_name=task.name,
        stage=stage.name,
        stage_kind=stage.kind,
        model=model,
        current=own,
        previous=own if plain_later else list(task.previous),
        previous_tasks=[0] * len(own) if plain_later else list(task.previous_tasks),
        collate=lambda items: to_batch(model, items),
        seed=stage.seed,
        batch_size=stage.batch_size,
        is_last_task=task.is_last,
    )
    hooks.on_task_start(ctx)
    return hooks, ctx


def task_samples(model: MMLLM, episodes: Sequence[Episode]) -> list[Sample]:
    """Every training sample (all kinds) of a task's episodes, as the stages make them for ``model``."""
    if not episodes:
        return []
    chunk = max([head.chunk_length for head in model.head_map.values()] + [1])
    return make_samples(episodes, list(KINDS), chunk=chunk, normalize=model.processor.normalize_actions)


def _stage_trainer(
    stage: StageSpec,
    model: MMLLM,
    data: tuple[Sequence[Episode], Sequence[Episode]],
    stage_dir: Path,
    rl: tuple[EnvFactory | None, Path | None],
    hooks: HookSet,
) -> Trainer:
    """The stage's data and Trainer (``rl``: envs from the factory, the parent's value head)."""
    episodes, heldout = data
    settings = TrainerSettings(**stage.model_dump(include=set(LoopSettings.model_fields)), stage=stage.name)
    if stage.kind == "rl":
        return build_rl_trainer(stage, settings, model, stage_dir, *rl, hooks=hooks)
    if stage.kind == "preference":
        return _preference_trainer(stage, settings, model, episodes, stage_dir, hooks)
    return _supervised_trainer(stage, settings, model, (episodes, heldout), stage_dir, hooks)


def _run_trainer(trainer: Trainer, model: MMLLM, stage: StageSpec, resume: str | Path | None) -> Path | None:
    """Resume (when asked) and train; the checkpoint it resumed from, if any."""
    resumed = trainer.resume(resume) if resume is not None else None
    with frozen_feature_cache(model, enabled=stage.feature_cache):
        trainer.train()
    return resumed


def _supervised_trainer(
    stage: StageSpec,
    settings: TrainerSettings,
    model: MMLLM,
    data: tuple[Sequence[Episode], Sequence[Episode]],
    stage_dir: Path,
    hooks: HookSet,
) -> Trainer:
    """The Trainer of an ``align`` / ``instruct`` stage: mixture draws of samples, batched by ``to_batch``; the
    held-out episodes' samples of the same kinds are its evaluation data."""
    episodes, heldout = data
    kinds = [kind for kind, weight in stage.mixture.items() if weight > 0]
    chunk = max([head.chunk_length for head in model.head_map.values()] + [1])
    normalize = model.processor.normalize_actions
    pool = make_samples(episodes, kinds, chunk=chunk, normalize=normalize)
    # every process takes its own shard of each step's draws (embodied.training.data_order)
    draws = settings.max_steps * settings.batch_size * settings.grad_accum * process_state().num_processes
    samples = Mixture(stage.mixture, seed=stage.seed).sample(pool, draws)
    samples = augment_prompts(samples, stage.prompt_noise, stage.seed, kinds=("action", "plan"))
    held = {kind: make_samples(heldout, [kind], chunk=chunk, normalize=normalize) for kind in kinds}
    held = {kind: items for kind, items in held.items() if items}  # per kind: e.g. vqa/text/accuracy

    def collate(items: list[Any]) -> dict[str, Any]:
        return to_batch(model, items)

    return Trainer(model, settings, samples, stage_dir, eval_data=held or None, collate=collate, hooks=hooks)


def _preference_trainer(
    stage: StageSpec,
    settings: TrainerSettings,
    model: MMLLM,
    episodes: Sequence[Episode],
    stage_dir: Path,
    hooks: HookSet,
) -> Trainer:
    """The Trainer of a ``preference`` stage: DPO on correct vs wrong VQA answers against a frozen reference."""
    pairs = vqa_preference_pairs(episodes, make_samples(episodes, ["vqa"]), stage.seed)
    wrapper = PreferenceModel(model, DPOSettings(beta=stage.beta, label_smoothing=stage.label_smoothing))

    def collate(items: list[Any]) -> dict[str, Any]:
        chosen: list[PreferencePair] = items
        return preference_batch(
            model,
            [p.sample.observation for p in chosen],
            [p.sample.prompt for p in chosen],
            [p.sample.target for p in chosen],
            [p.rejected for p in chosen],
            kind="vqa",
        )

    logger.info("stage %r: %d preference pairs", stage.name, len(pairs))
    return Trainer(wrapper, settings, pairs, stage_dir, collate=collate, hooks=hooks)


def _save_model(model: MMLLM, stage_dir: Path, trainer: Trainer | None = None) -> Path:
    """``save_pretrained`` into a temporary directory, then rename it to ``model/`` (the stage's finish mark);
    an rl stage's value head is saved beside the weights."""
    tmp, final = stage_dir / _MODEL_TMP, stage_dir / MODEL_DIR
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    if isinstance(trainer, RLTrainer):
        save_value_head(trainer.policy, tmp)
    tmp.rename(final)
    return final
