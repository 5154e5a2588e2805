"""``ActorCritic``: an ``MMLLM`` acting through one head, plus (for PPO) a value head on the same LLM state.

The module is what the stage's ``Trainer`` optimises and checkpoints (``policy.*`` and ``value_head.*`` in one
state dict) and what DDP wraps: ``forward(batch, actions)`` is the update's pass (log-prob, entropy, value of
stored actions), ``act`` the rollout's (no gradient).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from embodied.training.errors import TrainingError
from embodied.training.rl.policy_heads import POLICY_HEADS, Acted, PolicyHead

__all__ = ["ActorCritic", "PolicyOutput", "ValueHead", "policy_head_for"]

#: the file beside a saved model's weights that holds the value head (``save_pretrained`` does not know it)
VALUE_HEAD_FILE = "value_head.safetensors"


class ValueHead(nn.Module):
    """``V(s)``: a small MLP on the LLM's hidden state at the last prompt position (RLinf's design)."""

    def __init__(self, embed_dim: int, hidden_dim: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(embed_dim), nn.Linear(embed_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, 1)
        )
        last = self.net[-1]
        assert isinstance(last, nn.Linear)
        nn.init.orthogonal_(last.weight, gain=1.0 / math.sqrt(hidden_dim))
        nn.init.zeros_(last.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """``[B, D]`` → ``[B]``."""
        out: torch.Tensor = self.net(hidden.float())[:, 0]
        return out


@dataclass
class PolicyOutput:
    """The update's pass over stored actions: ``log_prob``, ``entropy`` and ``value`` (``None`` without critic)."""

    log_prob: torch.Tensor
    entropy: torch.Tensor
    value: torch.Tensor | None


def policy_head_for(model: Any, head: str, temperature: float = 1.0) -> PolicyHead:
    """The acting distribution of ``model``'s head ``head``; a head without a log-prob is refused by name."""
    if head not in model.head_map:
        raise TrainingError(f"the model has no head {head!r}; its heads are {sorted(model.head_map)}")
    kind = str(model.config.model_spec.heads[head]["kind"])
    if kind not in POLICY_HEADS:
        raise TrainingError(
            f"head {head!r} ({kind}) has no log-prob, so RL cannot train it; heads RL can train: {sorted(POLICY_HEADS)}"
        )
    return POLICY_HEADS[kind](head, temperature)


class ActorCritic(nn.Module):
    """``policy`` (the MMLLM), its acting distribution and an optional ``value_head``."""

    def __init__(self, model: Any, head: str, temperature: float = 1.0, value_hidden: int | None = None) -> None:
        super().__init__()
        self.policy = model
        self.distribution = policy_head_for(model, head, temperature)
        self.value_head = ValueHead(model.backbone.embed_dim, value_hidden) if value_hidden else None

    def values(self, prompt_hidden: torch.Tensor) -> torch.Tensor | None:
        return None if self.value_head is None else self.value_head(prompt_hidden)

    @torch.no_grad()
    def act(
        self, batch: dict[str, Any], generator: torch.Generator | None, greedy: bool = False
    ) -> tuple[Acted, torch.Tensor | None]:
        """One decision per row and ``V(s)`` ``[B]`` (``None`` without a critic)."""
        acted = self.distribution.act(self.policy, batch, generator, greedy)
        return acted, self.values(acted.prompt_hidden)

    def forward(self, batch: dict[str, Any], actions: list[torch.Tensor]) -> PolicyOutput:  # type: ignore[override]
        out = self.distribution.evaluate(self.policy, batch, actions)
        return PolicyOutput(out.log_prob, out.entropy, self.values(out.prompt_hidden))
