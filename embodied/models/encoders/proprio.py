"""Family ``proprio``: the robot's proprioceptive state ``[B, S]`` → ``num_tokens`` tokens ``[B, N, D]``.

A two-layer MLP maps the state (joint positions, gripper, end-effector pose — whatever the env reports) to
``num_tokens × D`` values, reshaped into tokens. Several tokens give the LLM more than one slot to attend to
for a high-dimensional state.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from embodied.models.context import BuildContext
from embodied.models.encoders.base import ENCODERS, Encoder
from embodied.registry import ComponentSettings


class ProprioSettings(ComponentSettings):
    """Width and token count of the state encoder."""

    dim: int | None = Field(default=None, ge=1, description="token width D; null = the LLM width")
    num_tokens: int = Field(default=1, ge=1, le=64, description="tokens the state is split into")
    hidden_dim: int = Field(default=128, ge=1, description="hidden width of the MLP")


@ENCODERS.register("proprio", ProprioSettings)
class ProprioEncoder(Encoder):
    """Robot state vector → MLP → ``num_tokens`` tokens."""

    modality = "state"

    def __init__(self, settings: ProprioSettings, ctx: BuildContext) -> None:
        super().__init__()
        if ctx.state_dim <= 0:
            raise ValueError(
                f"the proprio encoder needs the robot state size, but the model's state_dim is "
                f"{ctx.state_dim}; set model.state_dim to the length of the env's 'state' observation"
            )
        self.settings = settings
        self.state_dim = ctx.state_dim
        self._dim = settings.dim or ctx.embed_dim
        self.mlp = nn.Sequential(
            nn.Linear(ctx.state_dim, settings.hidden_dim),
            nn.GELU(),
            nn.Linear(settings.hidden_dim, settings.num_tokens * self._dim),
        )

    @property
    def embed_dim(self) -> int:
        return self._dim

    @property
    def num_tokens(self) -> int:
        return self.settings.num_tokens

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``[B, S]`` → ``[B, N, D]``."""
        if inputs.dim() != 2 or inputs.shape[1] != self.state_dim:
            raise ValueError(f"proprio encoder expects state [B, {self.state_dim}], got shape {tuple(inputs.shape)}")
        return self.mlp(inputs).reshape(inputs.shape[0], self.settings.num_tokens, self._dim)  # type: ignore[no-any-return]
