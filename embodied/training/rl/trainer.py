"""The ``rl`` stage's loop: a ``Trainer`` whose step is one iteration — roll out, prepare, update.

Everything but the step is the supervised ``Trainer``'s own machinery: the AdamW optimizer and its warm-up /
cosine schedule (stepped once per iteration, as CleanRL anneals per iteration), gradient clipping, the
non-finite guard (per optimizer update), metrics (``metrics.jsonl``), SIGTERM (the iteration finishes, a
checkpoint is saved), DDP through accelerate, and atomic verified checkpoints. A checkpoint adds the collector's
state (seed position, running episodes to replay) and the algorithm's to ``trainer_state.json`` and the rollout
and minibatch generators to the RNG states, so ``--resume auto`` continues the exact same run.

Metrics per iteration (``split: "train"``): episodic_return, episode_length, success_rate (where the env
reports success), episodes, env_steps, env_steps_per_s, policy_loss, value_loss, entropy, approx_kl, clipfrac,
explained_variance, kl_ref, dropped_groups (GRPO/RLOO), grad_norm, skipped, lr, and with ``rl.self_imitation``
sil_buffer, sil_added, sil_loss, sil_log_prob, sil_grad_norm, sil_skipped, sil_updates; ``split: "eval"``: the same
episode statistics of greedy episodes on held-out seeds.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
from pydantic import Field

from embodied.training.checkpoint import StatePair
from embodied.training.continual.base import HookSet
from embodied.training.distributed import mean_over_processes
from embodied.training.errors import TrainingError
from embodied.training.rl.algorithms.base import Minibatch, RLAlgorithm
from embodied.training.rl.policy import ActorCritic, PolicyOutput
from embodied.training.rl.rollout import Collector, EpisodeStats
from embodied.training.rl.self_imitation import SelfImitation
from embodied.training.trainer import Trainer, TrainerSettings, TrainerState

__all__ = ["RLTrainer", "RLTrainerState"]

logger = logging.getLogger("embodied")

ROLLOUT_GENERATOR = "rollout"
MINIBATCH_GENERATOR = "minibatch"


class RLTrainerState(TrainerState):
    """``TrainerState`` plus where the rollouts stand (plain JSON)."""

    env_steps: int = Field(0, ge=0, description="env steps taken by this process")
    collector: dict[str, Any] = Field(default_factory=dict, description="Collector.state_dict()")
    algorithm: dict[str, Any] = Field(default_factory=dict, description="RLAlgorithm.state_dict()")


class RLTrainer(Trainer):
    """``RLTrainer(actor_critic, settings, run_dir, algorithm, collector).train()``; ``step`` counts iterations."""

    state_class = RLTrainerState
    state: RLTrainerState

    def __init__(
        self,
        policy: ActorCritic,
        settings: TrainerSettings,
        run_dir: str | Path,
        algorithm: RLAlgorithm,
        collector: Collector,
        reference: Any | None = None,
        eval_collector: Collector | None = None,
        eval_episodes: int = 0,
        eval_seed: int = 1_000_000,
        hooks: HookSet | None = None,
    ) -> None:
        super().__init__(policy, settings, None, run_dir, eval_data=[None] if eval_collector else None, hooks=hooks)
        self.policy, self.algorithm, self.collector = policy, algorithm, collector
        self.reference = reference
        self.eval_collector, self.eval_episodes, self.eval_seed = eval_collector, eval_episodes, eval_seed
        self.generator = torch.Generator()
        self.generator.manual_seed(settings.seed)
        self.self_imitation = SelfImitation(collector.spec.self_imitation)

    def train(self, stop_at_step: int | None = None) -> TrainerState:
        """``Trainer.train``, with one evaluation of the starting policy first (step 0) when the stage evaluates,
        so the log shows what RL added."""
        if self.eval_collector is not None and self.state.step == 0 and self._last_eval != 0 and self.is_main:
            self._log(self._evaluate_episodes())
        return super().train(stop_at_step)

    # ------------------------------------------------------------------------------------------ Learner
    def evaluate_batch(self, mb: Minibatch) -> dict[str, Any]:
        return self.collector.batch(mb.observations, mb.prompts)

    def evaluate(self, batch: Minibatch | None = None) -> Any:  # type: ignore[override]
        """With a minibatch: the ``Learner``'s forward pass (through DDP). Without: the stage's evaluation."""
        if batch is None:
            return self._evaluate_episodes()
        out: PolicyOutput = self.model(self.evaluate_batch(batch), batch.actions)
        return out

    @torch.no_grad()
    def reference_log_prob(self, batch: Minibatch) -> torch.Tensor:
        if self.reference is None:
            raise RuntimeError("this rl stage has no reference policy (kl_coef / beta is 0)")
        out = self.policy.distribution.evaluate(self.reference, self.evaluate_batch(batch), batch.actions)
        return out.log_prob.detach()

    def step(self, loss: torch.Tensor) -> dict[str, float]:
        """Backward and apply; the stage's continual-learning hooks add their terms (e.g. an SFT loss on
        replayed demonstrations, a penalty) to each minibatch's loss."""
        extra, hook_metrics = self.hooks.loss() if self.hooks else (None, {})
        total = loss if extra is None else loss + extra
        self.accelerator.backward(total)
        report, grad_norm = self._apply_gradients({"loss": float(total.detach())})
        return {**hook_metrics, "grad_norm": grad_norm, "skipped": float(report is not None)}

    # ------------------------------------------------------------------------------------------ iteration
    def _train_step(self) -> dict[str, Any]:
        lr = float(self.scheduler.get_last_lr()[0])
        start, steps_before = time.perf_counter(), self.collector.env_steps
        self.collector.finished = EpisodeStats()  # statistics of this iteration's episodes
        rollout = self.algorithm.collect(self.collector)
        elapsed = time.perf_counter() - start
        stats = self.algorithm.prepare(rollout)
        self.model.train()
        stats |= self.algorithm.update(rollout, self)
        if self.self_imitation.enabled:  # Oh et al. 2018: more updates on the better-than-expected steps kept
            self.self_imitation.add(rollout)
            stats |= self.self_imitation.update(self)
        self.scheduler.step()
        episodes = self.collector.finished.summary()
        metrics = mean_over_processes({**stats, **episodes})
        self.state.step += 1
        self.state.env_steps = self.collector.env_steps
        self.state.collector, self.state.algorithm = self.collector.state_dict(), self.algorithm.state_dict()
        return {
            "step": self.state.step,
            "stage": self.settings.stage,
            "split": "train",
            "loss": metrics.get("policy_loss", 0.0),
            **metrics,
            "env_steps": self.collector.env_steps,
            "env_steps_per_s": (self.collector.env_steps - steps_before) / max(elapsed, 1e-9),
            "lr": lr,
        }

    @torch.no_grad()
    def _evaluate_episodes(self) -> dict[str, Any]:
        """Greedy episodes on held-out seeds (``eval_seed`` + k), the same seeds at every evaluation."""
        assert self.eval_collector is not None
        collector, n = self.eval_collector, self.eval_collector.num_envs
        collector.finished = EpisodeStats()
        self.policy.eval()
        for first in range(0, self.eval_episodes, n):
            seeds = [self.eval_seed + first + i for i in range(n)]
            collector.episodes(seeds, list(range(n)), greedy=True, max_steps=collector.spec.eval_max_steps)
        self.policy.train()
        finished = collector.finished
        keep = self.eval_episodes
        finished.returns, finished.lengths = finished.returns[:keep], finished.lengths[:keep]
        finished.successes = finished.successes[:keep]
        self._last_eval = self.state.step
        return {"step": self.state.step, "stage": self.settings.stage, "split": "eval", **finished.summary()}

    # ------------------------------------------------------------------------------------------ checkpoints
    def _generators(self) -> dict[str, torch.Generator]:
        return {ROLLOUT_GENERATOR: self.collector.generator, MINIBATCH_GENERATOR: self.generator}

    def _checkpoint_parts(self) -> dict[str, StatePair]:
        return {"self_imitation": self.self_imitation.state_dict()} if self.self_imitation.enabled else {}

    def _restore_parts(self, parts: dict[str, StatePair], path: Path) -> None:
        if set(parts) != set(self._checkpoint_parts()):
            raise TrainingError(
                f"{path} holds the parts {sorted(parts)} but this rl stage keeps {sorted(self._checkpoint_parts())} "
                "(rl.self_imitation was switched on or off): it cannot continue that run"
            )
        if "self_imitation" in parts:
            self.self_imitation.load_state_dict(*parts["self_imitation"])

    def _restore_position(self, state: TrainerState) -> None:
        assert isinstance(state, RLTrainerState)
        self.collector.load_state_dict(state.collector)
        self.algorithm.load_state_dict(state.algorithm)
