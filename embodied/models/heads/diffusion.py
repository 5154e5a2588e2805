"""``diffusion`` head, the "modality generator": query states → condition → a denoiser that samples action chunks.

Diffusion Policy (Chi et al., "Diffusion Policy: Visuomotor Policy Learning via Action Diffusion", RSS 2023) on
top of the LLM, as in NExT-GPT-style output projectors feeding a generator: the hidden states of ``num_queries``
learned query tokens ``[B, Q, D]`` are projected to a condition vector ``[B, C]``; a denoiser predicts the noise ε
in a noisy action chunk ``[B, H, A]`` given the timestep and the condition. Training adds noise with
``diffusers.DDPMScheduler`` (DDPM: Ho et al., 2020) and regresses ε with MSE; sampling runs DDIM (Song et al.,
2021; deterministic, few steps) or DDPM from Gaussian noise drawn with the caller's ``torch.Generator``, and
clamps the chunk to [-1, 1].

The denoiser is a residual MLP over the flattened chunk ``[B, H·A]``: each block is modulated by FiLM (Perez et
al., 2018) from ``SiLU(timestep embedding + condition)`` — Diffusion Policy's conditioning, on an MLP instead of
its 1-D U-Net, which is as good for short chunks and much cheaper.

``has_log_prob`` is False: the density of a diffusion sample needs the probability-flow ODE and a trace estimate
over every denoising step (Song et al., 2021) — neither exact nor cheap enough for PPO/GRPO ratios. RL on this
head would need per-step likelihoods of the denoising chain (DPPO), which this head does not provide.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from embodied.models.context import BuildContext
from embodied.models.heads.base import HEADS, Batch, Head
from embodied.models.heads.chunks import check_queries, chunk_targets, learned_queries, masked_mean
from embodied.registry import ComponentSettings


class DiffusionSettings(ComponentSettings):
    """Settings of the ``diffusion`` head."""

    chunk: int = Field(default=8, ge=1, le=256, description="H, actions per sampled chunk")
    num_queries: int = Field(
        default=1, ge=1, le=256, description="Q, learned query tokens whose states condition the denoiser"
    )
    cond_dim: int = Field(default=128, ge=1, le=8192, description="C, size of the condition vector (output projector)")
    hidden_dim: int = Field(default=256, ge=1, le=16384, description="width of the denoiser's residual MLP")
    num_blocks: int = Field(default=3, ge=1, le=32, description="FiLM-conditioned residual blocks in the denoiser")
    timestep_dim: int = Field(default=64, ge=2, le=4096, description="size of the sinusoidal timestep embedding (even)")
    num_train_timesteps: int = Field(
        default=100, ge=2, le=10000, description="diffusion steps of the training schedule"
    )
    num_inference_steps: int = Field(default=10, ge=1, le=10000, description="denoising steps when sampling")
    beta_schedule: Literal["squaredcos_cap_v2", "linear", "scaled_linear"] = Field(
        default="squaredcos_cap_v2",
        description="noise schedule (Diffusion Policy: squaredcos_cap_v2, the cosine schedule)",
    )
    sampler: Literal["ddim", "ddpm"] = Field(
        default="ddim", description="ddim: deterministic given the start noise; ddpm: adds fresh noise every step"
    )

    @model_validator(mode="after")
    def _steps_fit(self) -> DiffusionSettings:
        if self.num_inference_steps > self.num_train_timesteps:
            raise ValueError(
                f"num_inference_steps ({self.num_inference_steps}) cannot exceed num_train_timesteps "
                f"({self.num_train_timesteps})"
            )
        if self.timestep_dim % 2:
            raise ValueError(f"timestep_dim must be even (sin and cos halves), got {self.timestep_dim}")
        return self


def timestep_embedding(timesteps: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of timesteps ``[B]`` → ``[B, dim]`` (Transformer / DDPM positional encoding)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=timesteps.device, dtype=torch.float32) / half)
    angles = timesteps.float()[:, None] * freqs[None]  # [B, half]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class FiLMBlock(nn.Module):
    """``h + MLP(LN(h) · (1 + γ(c)) + β(c))``: a residual block modulated by the condition ``c``."""

    def __init__(self, width: int, cond_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.film = nn.Linear(cond_dim, 2 * width)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond).chunk(2, dim=-1)  # [B, W] each
        out: torch.Tensor = h + self.mlp(self.norm(h) * (1.0 + scale) + shift)
        return out


class Denoiser(nn.Module):
    """ε-prediction network: noisy chunk ``[B, H, A]``, timesteps ``[B]``, condition ``[B, C]`` → ε ``[B, H, A]``."""

    def __init__(self, settings: DiffusionSettings, action_dim: int) -> None:
        super().__init__()
        flat = settings.chunk * action_dim
        self.timestep_dim = settings.timestep_dim
        width, cond = settings.hidden_dim, settings.cond_dim
        self.time_mlp = nn.Sequential(nn.Linear(settings.timestep_dim, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.inp = nn.Linear(flat, width)
        self.blocks = nn.ModuleList(FiLMBlock(width, cond) for _ in range(settings.num_blocks))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, flat))

    def forward(self, noisy: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        c = nn.functional.silu(cond + self.time_mlp(timestep_embedding(timesteps, self.timestep_dim)))  # [B, C]
        h = self.inp(noisy.flatten(1))  # [B, W]
        for block in self.blocks:
            h = block(h, c)
        out: torch.Tensor = self.out(h).view_as(noisy)
        return out


@HEADS.register("diffusion", DiffusionSettings)
class DiffusionHead(Head):
    """Action chunks sampled by a query-conditioned denoiser (Diffusion Policy; DDPM training, DDIM sampling)."""

    def __init__(self, settings: DiffusionSettings, ctx: BuildContext) -> None:
        super().__init__()
        if ctx.action_dim < 1 or ctx.embed_dim < 1:
            raise ValueError(
                f"the diffusion head needs action_dim and embed_dim >= 1, got {ctx.action_dim} and {ctx.embed_dim}"
            )
        self.settings = settings
        self.action_dim, self.embed_dim = ctx.action_dim, ctx.embed_dim
        self.queries = learned_queries(settings.num_queries, ctx.embed_dim)  # [Q, D]
        # output projector: the LLM's query states [B, Q·D] → the generator's condition [B, C]
        self.projector = nn.Sequential(
            nn.LayerNorm(ctx.embed_dim),
            nn.Flatten(1),
            nn.Linear(settings.num_queries * ctx.embed_dim, settings.cond_dim),
        )
        self.denoiser = Denoiser(settings, ctx.action_dim)

    @property
    def chunk_length(self) -> int:
        return self.settings.chunk

    @property
    def num_queries(self) -> int:
        return self.settings.num_queries

    def query_embeddings(self) -> torch.Tensor:
        return self.queries

    def has_targets(self, batch: Batch) -> bool:
        return batch.get("actions") is not None

    def condition(self, hidden: torch.Tensor) -> torch.Tensor:
        """Query states ``[B, Q, D]`` → condition ``[B, C]``."""
        check_queries("diffusion", hidden, self.num_queries, self.embed_dim)
        out: torch.Tensor = self.projector(hidden.float())
        return out

    # Schedulers are built per call (well under a millisecond), never kept on the module: their tensors are not
    # buffers, so a model instantiated on the meta device by ``from_pretrained`` would keep data-less copies.
    # diffusers schedulers are built from mixins that mypy cannot see through, hence ``Any``.
    def train_scheduler(self) -> Any:
        """The ``DDPMScheduler`` whose forward process q(x_t | x_0) noises training targets."""
        from diffusers import DDPMScheduler

        return DDPMScheduler(
            num_train_timesteps=self.settings.num_train_timesteps,
            beta_schedule=self.settings.beta_schedule,
            prediction_type="epsilon",
            clip_sample=True,  # x̂0 stays in the normalised action range [-1, 1]
        )

    def sample_scheduler(self, sampler: str) -> Any:
        """A fresh ``DDIMScheduler`` or ``DDPMScheduler``: ``set_timesteps`` mutates it, so no call shares one."""
        from diffusers import DDIMScheduler

        ddpm = self.train_scheduler()
        return ddpm if sampler == "ddpm" else DDIMScheduler.from_config(ddpm.config)

    def loss(self, hidden: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """MSE between the true and predicted noise at a random timestep per sample (global torch RNG)."""
        actions, weights = chunk_targets(batch, self.chunk_length, self.action_dim)  # [B, H, A], [B, H, 1]
        cond = self.condition(hidden)
        noise = torch.randn_like(actions)
        steps = torch.randint(0, self.settings.num_train_timesteps, (actions.shape[0],), device=actions.device)
        noisy = self.train_scheduler().add_noise(actions, noise, steps)
        loss = masked_mean((self.denoiser(noisy, steps, cond) - noise) ** 2, weights)
        return loss, {"loss": float(loss.detach())}

    def predict(
        self,
        hidden: torch.Tensor,
        generator: torch.Generator | None = None,
        num_inference_steps: int | None = None,
        sampler: str | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Sample action chunks ``[B, H, A]`` in [-1, 1]; the same ``generator`` seed gives the same chunks.

        ``generator`` lives on the device the noise is drawn on (that of ``hidden``).
        """
        chosen = sampler or self.settings.sampler
        if chosen not in ("ddim", "ddpm"):
            raise ValueError(f"sampler must be 'ddim' or 'ddpm', got {chosen!r}")
        cond = self.condition(hidden)
        scheduler = self.sample_scheduler(chosen)
        scheduler.set_timesteps(num_inference_steps or self.settings.num_inference_steps)
        shape = (hidden.shape[0], self.chunk_length, self.action_dim)
        sample = torch.randn(shape, generator=generator, device=hidden.device, dtype=torch.float32)
        for t in scheduler.timesteps.tolist():
            steps = torch.full((shape[0],), t, device=hidden.device, dtype=torch.long)
            eps = self.denoiser(sample, steps, cond)
            sample = scheduler.step(eps, t, sample, generator=generator).prev_sample
        return sample.clamp(-1.0, 1.0)
