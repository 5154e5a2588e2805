"""The ONE supervised training loop: every supervised stage (alignment, instruction tuning, ...) runs through it.

``Trainer`` trains any ``nn.Module`` whose ``forward(**batch)`` returns an object with ``.loss`` (a scalar tensor)
and ``.metrics`` (``dict[str, float]``), such as ``MMLLM``. One step is one optimizer update over ``grad_accum``
micro-batches. Evaluation, checkpointing, metrics, the SIGTERM stop and the non-finite guard are called from the
loop; they live in their own modules (``metrics``, ``checkpoint``, ``signals``, ``nonfinite``, ``data_order``).

Resume restores model, optimizer, scheduler, step, data position and every RNG, so the continued loss curve is
bit-identical to an uninterrupted run.

Under ``accelerate launch --num_processes N`` each process draws its own shard of every global batch (``DataOrder``;
a step then sees ``N × batch_size × grad_accum`` samples), DDP averages the gradients (unused parameters allowed:
a head without targets in one shard), the logged metrics are means over the processes, and only the main process
writes metrics and checkpoints. A resume restores the main process's RNG states on every process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, send_to_device, set_seed
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn
from tqdm.auto import tqdm

from embodied.training.checkpoint import (
    StatePair,
    latest_checkpoint,
    load_checkpoint,
    restore_optimizer,
    restore_scheduler,
    save_checkpoint,
)
from embodied.training.continual.base import HookSet
from embodied.training.data_order import Collate, DataOrder
from embodied.training.distributed import mean_over_processes, use_cpu
from embodied.training.errors import TrainingError
from embodied.training.metrics import MetricsWriter
from embodied.training.nonfinite import NonFiniteGuard, NonFiniteReport, find_nonfinite
from embodied.training.rng import capture_rng, restore_rng
from embodied.training.schedule import build_scheduler
from embodied.training.settings import TrainerSettings
from embodied.training.signals import EXIT_CODE_SIGTERM, TerminationFlag

__all__ = ["Trainer", "TrainerSettings", "TrainerState", "TrainingError"]

logger = logging.getLogger("embodied")

DATA_GENERATOR = "data"


class TrainerState(BaseModel):
    """Where the run stands; saved as ``trainer_state.json`` in every checkpoint."""

    model_config = ConfigDict(extra="forbid")

    step: int = Field(0, ge=0, description="optimizer updates done (skipped non-finite steps included)")
    epoch: int = Field(0, ge=0, description="epoch of the next micro-batch")
    index: int = Field(0, ge=0, description="position of the next micro-batch within its epoch")
    stage: str
    seed: int
    skipped_steps: int = Field(0, ge=0, description="steps skipped for a non-finite loss or gradient")
    nonfinite_streak: int = Field(0, ge=0, description="consecutive skipped steps up to now")


class Trainer:
    """Runs one stage: ``Trainer(model, settings, train_data, run_dir).train()``; ``resume("auto")`` first to go on.

    ``train_data`` / ``eval_data``: a sequence of ready batches (dicts of ``forward`` keyword arguments), or with
    ``collate`` a map-style dataset of samples collated ``settings.batch_size`` at a time. Seeds Python, numpy and
    torch from ``settings.seed`` on construction (a resume then restores the saved states).
    """

    #: the checkpoint's ``trainer_state.json`` schema (subclasses add fields)
    state_class: type[TrainerState] = TrainerState

    def __init__(
        self,
        model: nn.Module,
        settings: TrainerSettings,
        train_data: Sequence[Any] | None,
        run_dir: str | os.PathLike[str],
        eval_data: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
        collate: Collate | None = None,
        accelerator: Accelerator | None = None,
        hooks: HookSet | None = None,
    ) -> None:
        self.settings = settings
        self.hooks = hooks or HookSet()
        self.run_dir = Path(run_dir)
        self.accelerator = accelerator or Accelerator(
            cpu=use_cpu(),
            gradient_accumulation_steps=settings.grad_accum,
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        if self.accelerator.gradient_accumulation_steps != settings.grad_accum:
            raise TrainingError("the accelerator's gradient_accumulation_steps differs from settings.grad_accum")
        set_seed(settings.seed, device_specific=True)  # seed + process index: dropout differs per process
        self._named_trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not self._named_trainable:
            raise TrainingError(f"stage {settings.stage!r}: the model has no trainable parameters")
        self._optimizer = torch.optim.AdamW(self._param_groups(), lr=settings.lr)
        self.scheduler = build_scheduler(
            self._optimizer, settings.warmup_steps, settings.max_steps, settings.lr_schedule
        )
        self.model, self.optimizer = self.accelerator.prepare(model, self._optimizer)
        # ``None``: a subclass makes its own data each step (the rl stage's rollouts)
        self.data = (
            None
            if train_data is None
            else DataOrder(
                train_data,
                settings.seed,
                collate,
                settings.batch_size if collate else 1,
                num_shards=self.accelerator.num_processes,
                shard=self.accelerator.process_index,
            )
        )
        self.eval_data = eval_data
        self.collate = collate
        self.state = self.state_class(stage=settings.stage, seed=settings.seed)
        self.guard = NonFiniteGuard(settings.max_nonfinite, self.run_dir)
        self.metrics = MetricsWriter(self.run_dir, settings.tensorboard)
        self.termination = TerminationFlag()
        self._last_saved = -1
        self._last_eval = -1

    def _param_groups(self) -> list[dict[str, Any]]:
        """Decay matrices only: decaying biases and norm scales (1-d) hurts and is not what AdamW papers do."""
        decay = [p for _, p in self._named_trainable if p.dim() >= 2]
        no_decay = [p for _, p in self._named_trainable if p.dim() < 2]
        groups = [
            {"params": decay, "weight_decay": self.settings.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return [g for g in groups if g["params"]]

    @property
    def is_main(self) -> bool:
        return bool(self.accelerator.is_main_process)

    def train(self, stop_at_step: int | None = None) -> TrainerState:
        """Train up to ``settings.max_steps`` (or stop early, with a checkpoint, at ``stop_at_step``).

        On SIGTERM the current step finishes, a checkpoint is saved and ``SystemExit(143)`` is raised.
        """
        last = self.settings.max_steps if stop_at_step is None else min(stop_at_step, self.settings.max_steps)
        bar = tqdm(
            total=self.settings.max_steps,
            initial=self.state.step,
            desc=self.settings.stage,
            disable=not (self.settings.progress_bar and self.is_main),
        )
        self.model.train()
        try:
            with self.termination:
                while self.state.step < last:
                    record = self._train_step()
                    bar.update(1)
                    bar.set_postfix(loss=record["loss"])
                    self._after_step(record)
                    if self.termination.requested:
                        self.save()
                        raise SystemExit(EXIT_CODE_SIGTERM)
                self._finish()
        finally:
            bar.close()
            self.metrics.close()
        return self.state

    def _apply_gradients(self, metrics: Mapping[str, float]) -> tuple[NonFiniteReport | None, float]:
        """Clip and apply the accumulated gradients, unless ``metrics`` or a gradient is non-finite (then the
        update is skipped and counted by the guard, which stops the stage after ``max_nonfinite`` in a row)."""
        params = [p for _, p in self._named_trainable]
        grad_norm = float(torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None]))
        report = find_nonfinite(self.state.step + 1, metrics, grad_norm, self._named_trainable)
        if report is None:
            if self.settings.max_grad_norm is not None:
                self.accelerator.clip_grad_norm_(params, self.settings.max_grad_norm)
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.guard.record(report, self.settings.stage)
        self.state.skipped_steps, self.state.nonfinite_streak = self.guard.skipped, self.guard.streak
        return report, grad_norm

    def _train_step(self) -> dict[str, Any]:
        """One optimizer update; a non-finite loss or gradient skips it before ``optimizer.step()``."""
        assert self.data is not None
        metrics = mean_over_processes(self._accumulate())
        lr = float(self.scheduler.get_last_lr()[0])
        report, grad_norm = self._apply_gradients(metrics)
        if report is None:
            self.scheduler.step()  # skipped steps do not advance the schedule either (as in HF Trainer)
        self.state.step += 1
        self.state.epoch, self.state.index = self.data.epoch, self.data.index
        base = {"step": self.state.step, "stage": self.settings.stage, "split": "train", "epoch": self.state.epoch}
        return {
            **base,
            "loss": metrics.pop("loss"),
            **metrics,
            "lr": lr,
            "grad_norm": grad_norm,
            "skipped": bool(report),
        }

    def _accumulate(self) -> dict[str, float]:
        """Forward and backward over ``grad_accum`` micro-batches; the mean of their metrics (``loss`` included)."""
        assert self.data is not None
        sums: dict[str, float] = {}
        for _ in range(self.settings.grad_accum):
            batch = send_to_device(self.data.next_batch(), self.accelerator.device)
            with self.accelerator.accumulate(self.model):
                output = self.model(**batch)
                if output.loss is None:
                    raise TrainingError(f"step {self.state.step + 1}: the model returned no loss (no targets?)")
                extra, hook_metrics = self.hooks.loss(batch, output) if self.hooks else (None, {})
                total = output.loss if extra is None else output.loss + extra
                self.accelerator.backward(total)  # divides by grad_accum: the update sees the mean
            values = {**output.metrics, **hook_metrics, "loss": float(output.loss.detach())}
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + float(value)
        return {key: total / self.settings.grad_accum for key, total in sums.items()}

    def _after_step(self, record: dict[str, Any]) -> None:
        step = self.state.step
        if record["skipped"] or step % self.settings.log_every == 0:
            self._log(record)
        if self.eval_data is not None and self.settings.eval_every and step % self.settings.eval_every == 0:
            self._log(self.evaluate())
        if self.settings.checkpoint_every and step % self.settings.checkpoint_every == 0:
            self.save()

    def _finish(self) -> None:
        """At the end of the stage: a last evaluation and checkpoint unless this step already had them."""
        at_end = self.state.step == self.settings.max_steps
        if self.eval_data is not None and at_end and self._last_eval != self.state.step:
            self._log(self.evaluate())
        self.save()

    def _log(self, record: dict[str, Any]) -> None:
        if self.is_main:
            self.metrics.write(record)

    def _eval_sets(self) -> dict[str, Sequence[Any]]:
        """Named evaluation sets: ``eval_data`` as given when it is a mapping (name → data), else ``{"": data}``."""
        data = self.eval_data
        return {str(k): v for k, v in data.items()} if isinstance(data, Mapping) else {"": data or []}

    def _eval_batches(self, data: Sequence[Any]) -> Iterator[Any]:
        if self.collate is None:
            yield from data
            return
        size = self.settings.batch_size
        for start in range(0, len(data), size):
            yield self.collate([data[i] for i in range(start, min(start + size, len(data)))])

    @torch.no_grad()
    def evaluate(self) -> dict[str, Any]:
        """Mean loss and mean of every accuracy metric (``*accuracy``, ``*_acc``) over the held-out batches (each
        batch weighs the same). With named sets (``eval_data`` a mapping) each set's keys get its name as prefix,
        e.g. ``vqa/text/accuracy``.

        All RNG states are put back afterwards, so evaluating (a head that samples noise) never changes training.
        """
        if self.eval_data is None:
            raise TrainingError("evaluate() needs eval_data")
        rng = capture_rng()
        self.model.eval()
        means: dict[str, float] = {}
        for name, data in self._eval_sets().items():
            prefix = f"{name}/" if name else ""
            means |= {prefix + k: v for k, v in self._evaluate_set(data).items()}
        self.model.train()
        restore_rng(rng)
        self._last_eval = self.state.step
        return {"step": self.state.step, "stage": self.settings.stage, "split": "eval", **means}

    def _evaluate_set(self, data: Sequence[Any]) -> dict[str, float]:
        sums: dict[str, float] = {}
        count = 0
        for batch in self._eval_batches(data):
            output = self.model(**send_to_device(batch, self.accelerator.device))
            values = {k: float(v) for k, v in output.metrics.items() if k.endswith(("accuracy", "_acc"))}
            values["loss"] = float(output.loss)
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
        return {key: total / max(count, 1) for key, total in sums.items()}

    def save(self) -> Path | None:
        """Checkpoint the current step (once per step); returns its directory on the main process."""
        if self._last_saved == self.state.step:
            return None
        self.accelerator.wait_for_everyone()
        path = None
        if self.is_main:
            path = save_checkpoint(
                self.run_dir,
                self.state.step,
                self.accelerator.unwrap_model(self.model).state_dict(),
                self._optimizer,
                self.scheduler,
                self.state.model_dump(),
                capture_rng(self._generators()),
                retention=self.settings.keep_checkpoints,
                hooks_state=self.hooks.state_dict() if self.hooks else None,
                parts=self._checkpoint_parts(),
            )
            logger.info("checkpoint %s", path)
        self._last_saved = self.state.step
        self.accelerator.wait_for_everyone()
        return path

    def _checkpoint_parts(self) -> dict[str, StatePair]:
        """Named state of this trainer's own that a checkpoint saves (JSON and tensors each; none here)."""
        return {}

    def _restore_parts(self, parts: dict[str, StatePair], path: Path) -> None:
        """Put ``_checkpoint_parts`` back from a checkpoint at ``path``."""
        if parts:
            raise TrainingError(f"{path} holds state this trainer does not keep: {sorted(parts)}")

    def _generators(self) -> dict[str, torch.Generator]:
        """Named generators a checkpoint saves beside the global RNGs (the data order's)."""
        return {} if self.data is None else {DATA_GENERATOR: self.data.generator}

    def _restore_position(self, state: TrainerState) -> None:
        """Put the data where the checkpoint's ``state`` says (before the RNG states are restored)."""
        if self.data is not None:
            self.data.seek(state.epoch, state.index)

    def _restore_hooks(self, saved: tuple[dict[str, Any], dict[str, torch.Tensor]] | None, path: Path) -> None:
        """Put the continual-learning hooks' state back; the checkpoint must hold state for exactly these hooks."""
        if saved is None and not self.hooks:
            return
        if saved is None:
            raise TrainingError(f"{path} has no hook state but this stage has hooks; the stage's hooks changed")
        try:
            self.hooks.load_state_dict(saved[0], saved[1], str(path / "hooks.json"))
        except ValueError as error:
            raise TrainingError(f"cannot resume: {error}") from error

    def resume(self, checkpoint: str | os.PathLike[str] = "auto") -> Path | None:
        """Restore everything from ``checkpoint`` (a directory, or ``"auto"``: the newest in ``run_dir``).

        ``"auto"`` with no checkpoint returns ``None`` and the run starts fresh. Metric records logged after the
        checkpoint (by a run killed later) are dropped from ``metrics.jsonl``.
        """
        path = latest_checkpoint(self.run_dir) if str(checkpoint) == "auto" else Path(checkpoint)
        if path is None:
            logger.info("no checkpoint in %s: starting fresh", self.run_dir)
            return None
        saved = load_checkpoint(path)
        try:
            state = self.state_class.model_validate(saved.trainer_state)
        except ValidationError as error:
            raise TrainingError(f"{path}: trainer_state.json is not a trainer state ({error})") from error
        if (state.stage, state.seed) != (self.settings.stage, self.settings.seed):
            raise TrainingError(
                f"{path} is from stage {state.stage!r} with seed {state.seed}; this trainer runs stage "
                f"{self.settings.stage!r} with seed {self.settings.seed}, so it cannot continue that run"
            )
        self.accelerator.unwrap_model(self.model).load_state_dict(saved.model_state)
        restore_optimizer(self._optimizer, saved)
        restore_scheduler(self.scheduler, saved)
        self._restore_position(state)
        self._restore_hooks(saved.hooks_state, path)
        self._restore_parts(saved.parts, path)
        restore_rng(saved.rng, self._generators())
        self.state = state
        self.guard.skipped, self.guard.streak = state.skipped_steps, state.nonfinite_streak
        self._last_saved = state.step
        if self.is_main:
            self.metrics.truncate_after(state.step)
        logger.info("resumed stage %r at step %d from %s", state.stage, state.step, path)
        return path
