"""The ``RLAlgorithm`` contract and the ``ALGORITHMS`` registry.

An algorithm owns what is specific to it — how experience is collected (``collect``: steps or groups), how
advantages are formed (``prepare``), its loss and its epochs/minibatches loop (``update``) — and keeps any state
of its own (a KL controller, say) in ``state_dict``. What every algorithm shares lives in the stage's loop and is
reached through a ``Learner``: the forward pass over stored actions, the frozen reference policy, and the
optimizer step with gradient clipping and the non-finite guard (the ``Trainer``'s, not a copy).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch

from embodied.registry import ComponentSettings, Registry
from embodied.training.rl.policy import PolicyOutput
from embodied.training.rl.rollout import Collector, Rollout
from embodied.training.rl.settings import RLSpec

__all__ = ["ALGORITHMS", "Learner", "Minibatch", "RLAlgorithm", "UpdateStats", "k3_kl", "minibatches"]


@dataclass
class Minibatch:
    """Flat samples of a rollout (valid steps only): what the update reads."""

    observations: list[dict[str, Any]]
    prompts: list[str]
    actions: list[torch.Tensor]
    log_probs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    values: torch.Tensor

    def __len__(self) -> int:
        return len(self.prompts)


class Learner(Protocol):
    """What the stage's loop gives an algorithm's update."""

    generator: torch.Generator

    def evaluate(self, batch: Minibatch) -> PolicyOutput:
        """Log-prob, entropy and value of ``batch.actions`` under the current parameters (with gradient)."""

    def reference_log_prob(self, batch: Minibatch) -> torch.Tensor:
        """Log-prob of ``batch.actions`` under the frozen starting policy ``[B]`` (no gradient)."""

    def step(self, loss: torch.Tensor) -> dict[str, float]:
        """Backward, clip, optimizer step (skipped when non-finite); returns ``grad_norm`` and ``skipped``."""


def k3_kl(log_prob: torch.Tensor, ref_log_prob: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(π ‖ π_ref) from samples of π (http://joschu.net/blog/kl-approx.html), as in
    DeepSeekMath's GRPO: ``π_ref/π − log(π_ref/π) − 1`` per sample; ≥ 0, and exactly 0 where π = π_ref."""
    log_ratio = ref_log_prob - log_prob
    return torch.exp(log_ratio) - log_ratio - 1.0


def minibatches(rollout: Rollout, num_minibatches: int, generator: torch.Generator) -> Iterator[Minibatch]:
    """The rollout's valid samples in a fresh random order, cut into ``num_minibatches`` near-equal parts."""
    if rollout.advantages is None or rollout.returns is None:
        raise ValueError("the rollout has no advantages yet: call the algorithm's prepare() first")
    flat = torch.flatten(rollout.valid).nonzero()[:, 0]
    order = flat[torch.randperm(flat.numel(), generator=generator)]
    adv, ret = rollout.advantages.flatten(), rollout.returns.flatten()
    logp, values = rollout.log_probs.flatten(), rollout.values.flatten()
    for part in torch.tensor_split(order, min(num_minibatches, max(order.numel(), 1))):
        if part.numel() == 0:
            continue
        idx = part.tolist()
        yield Minibatch(
            [rollout.observations[i] for i in idx],
            [rollout.prompts[i] for i in idx],
            [rollout.actions[i] for i in idx],
            logp[part],
            adv[part],
            ret[part],
            values[part],
        )


class UpdateStats:
    """Means of the per-minibatch records of one update, plus ``updates`` (how many minibatches stepped)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, record: dict[str, float]) -> None:
        for key, value in record.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def means(self) -> dict[str, float]:
        return {**{k: v / max(self.count, 1) for k, v in self.sums.items()}, "updates": float(self.count)}


class RLAlgorithm(ABC):
    """Base of every RL algorithm; ``settings`` is its registered settings model."""

    #: PPO learns V(s); critic-free algorithms (GRPO, RLOO) do not
    uses_critic: ClassVar[bool] = False

    def __init__(self, settings: ComponentSettings, spec: RLSpec) -> None:
        self.settings, self.spec = settings, spec

    @property
    def value_hidden(self) -> int | None:
        """Width of the value head's hidden layer (``None``: no critic)."""
        return None

    def envs_needed(self, num_envs: int) -> int:
        """Sub-envs the collector needs given the stage's ``rl.num_envs`` (GRPO: whole groups)."""
        return num_envs

    @abstractmethod
    def collect(self, collector: Collector) -> Rollout:
        """One iteration's experience."""

    @abstractmethod
    def prepare(self, rollout: Rollout) -> dict[str, float]:
        """Set ``rollout.advantages`` and ``rollout.returns``; statistics to log."""

    @abstractmethod
    def update(self, rollout: Rollout, learner: Learner) -> dict[str, float]:
        """Optimise on the prepared rollout through ``learner``; statistics to log."""

    def state_dict(self) -> dict[str, Any]:
        """Plain-JSON state of the algorithm itself (checkpointed)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


ALGORITHMS: Registry[RLAlgorithm] = Registry("algorithm")
