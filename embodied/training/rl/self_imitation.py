"""Self-imitation: learn again from the agent's own better-than-expected steps (Oh, Guo, Singh & Lee, "Self-Imitation
Learning", ICML 2018).

An on-policy algorithm uses a rollout for one update (PPO and GRPO: a few epochs inside a trust region) and then
drops it. Where env steps are what costs — one primitive pick-and-place is ~700 physics steps, ten episodes a second
on two cores — that throws away the successes a weak policy finds, and RL learns far less per episode than imitation
does per demonstration. Self-imitation keeps every step whose advantage was positive in a first-in-first-out buffer
(``capacity`` steps) and, after each iteration's own update, takes ``steps`` more optimizer steps on

    L_sil = − coef · mean_i [ w_i · log π_θ(a_i | s_i) ]      over ``batch_size`` buffer steps drawn uniformly,

with ``w_i = 1`` (``weighting: uniform``: imitation of the agent's successes, as reward-filtered behaviour cloning)
or ``w_i = Â_i`` (``weighting: advantage``: Oh et al.'s ``(R − V(s))_+`` with the algorithm's own baseline — GRPO's
group mean and std, PPO's GAE). Only the policy term is used (the paper's value term would need a critic that GRPO
does not have). The log-prob is the acting distribution's (``PolicyHead.evaluate``), so every head RL trains is
trained here too, and the stage's continual-learning hooks add their terms to these steps as to every other.

The buffer is part of the stage's state: a checkpoint stores it (observations, prompts, actions, weights) and a resume
restores it, so ``kill -9`` + ``--resume auto`` continues the same run. Under several processes each keeps its own
buffer of its own rollouts; every process takes ``steps`` steps once all buffers hold a step (DDP stays in step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from embodied.training.checkpoint import StatePair
from embodied.training.distributed import mean_over_processes
from embodied.training.rl.algorithms.base import Learner, Minibatch, UpdateStats
from embodied.training.rl.settings import SelfImitationSettings
from embodied.training.state_codec import decode_state, encode_state

__all__ = ["SelfImitation", "SelfImitationSettings", "sil_loss"]


@dataclass
class _Entry:
    observation: dict[str, Any]
    prompt: str
    action: torch.Tensor
    advantage: float


def sil_loss(log_prob: torch.Tensor, weights: torch.Tensor, coef: float = 1.0) -> torch.Tensor:
    """``−coef · mean(w · log π)`` over a minibatch ``[B]`` (the weights carry no gradient)."""
    return -coef * (weights.detach() * log_prob).mean()


class SelfImitation:
    """The buffer and its extra updates (see the module docstring); one per process and rl stage."""

    def __init__(self, settings: SelfImitationSettings) -> None:
        self.settings = settings
        self.entries: list[_Entry] = []
        self.added = 0  # steps ever added (the buffer's position in the run, for the logs)

    @property
    def enabled(self) -> bool:
        return self.settings.steps > 0

    def add(self, rollout: Any) -> int:
        """Keep the valid steps of a prepared rollout whose advantage is positive; how many were added."""
        if rollout.advantages is None:
            raise ValueError("self-imitation reads the rollout's advantages: call the algorithm's prepare() first")
        advantages = rollout.advantages.flatten()
        chosen = [i for i in torch.flatten(rollout.valid).nonzero()[:, 0].tolist() if float(advantages[i]) > 0]
        for i in chosen:
            self.entries.append(
                _Entry(rollout.observations[i], rollout.prompts[i], rollout.actions[i], float(advantages[i]))
            )
        del self.entries[: max(0, len(self.entries) - self.settings.capacity)]
        self.added += len(chosen)
        return len(chosen)

    def draw(self, generator: torch.Generator) -> tuple[list[_Entry], torch.Tensor]:
        """``batch_size`` entries drawn uniformly with replacement, and their weights ``[B]``."""
        index = torch.randint(len(self.entries), (self.settings.batch_size,), generator=generator).tolist()
        drawn = [self.entries[i] for i in index]
        if self.settings.weighting == "advantage":
            return drawn, torch.tensor([e.advantage for e in drawn], dtype=torch.float32)
        return drawn, torch.ones(len(drawn))

    def update(self, learner: Learner) -> dict[str, float]:
        """``steps`` optimizer steps on the buffer through ``learner`` (none until every process's buffer holds a
        step); statistics under ``sil_*``."""
        stats: dict[str, float] = {"sil_buffer": float(len(self.entries)), "sil_added": float(self.added)}
        if mean_over_processes({"empty": float(not self.entries)})["empty"] > 0:
            return stats
        steps = UpdateStats()
        for _ in range(self.settings.steps):
            drawn, weights = self.draw(learner.generator)
            zeros = torch.zeros(len(drawn))
            batch = Minibatch(
                [e.observation for e in drawn], [e.prompt for e in drawn], [e.action for e in drawn], *[zeros] * 4
            )
            out = learner.evaluate(batch)
            loss = sil_loss(out.log_prob, weights.to(out.log_prob.device), self.settings.coef)
            steps.add(
                {"loss": float(loss.detach()), "log_prob": float(out.log_prob.mean().detach()), **learner.step(loss)}
            )
        return stats | {f"sil_{k}": v for k, v in steps.means().items()}

    # ------------------------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> StatePair:
        """The buffer as plain JSON plus tensors (observation arrays and actions as tensors)."""
        entries = [
            {
                "observation": _to_tensors(e.observation),
                "prompt": e.prompt,
                "action": e.action.detach().cpu().contiguous(),
                "advantage": e.advantage,
            }
            for e in self.entries
        ]
        tree, tensors = encode_state({"added": self.added, "entries": entries}, "self-imitation buffer")
        return dict(tree), tensors

    def load_state_dict(self, tree: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        state = decode_state(tree, tensors, "self-imitation buffer")
        self.added = int(state["added"])
        self.entries = [
            _Entry(_to_arrays(e["observation"]), str(e["prompt"]), e["action"], float(e["advantage"]))
            for e in state["entries"]
        ]


def _to_tensors(value: Any) -> Any:
    """An observation with its numpy arrays as tensors (strings and numbers stay as they are)."""
    if isinstance(value, dict):
        return {k: _to_tensors(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"ndarray": torch.from_numpy(np.ascontiguousarray(value)).clone()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _to_arrays(value: Any) -> Any:
    """Inverse of ``_to_tensors``."""
    if isinstance(value, dict):
        if set(value) == {"ndarray"} and isinstance(value["ndarray"], torch.Tensor):
            return value["ndarray"].numpy()
        return {k: _to_arrays(v) for k, v in value.items()}
    return value
