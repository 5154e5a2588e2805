"""Shared by the agent tests: tiny models that read the tabletop envs' observations, and small vector envs."""

from __future__ import annotations

from typing import Any

import torch

from embodied.envs.vector import make_vector_env
from embodied.models import MMLLM, MMLLMConfig
from tests.factory import ENCODER_SPECS, HEAD_SPECS, tiny_spec

IMAGE = 32


def env_model(heads: dict[str, dict[str, Any]], seed: int = 0, **spec: Any) -> MMLLM:
    """A tiny model for tabletop observations: ``top`` camera at 32×32 and the 15-d robot state (``spec``
    overrides other model settings, e.g. ``action_low``)."""
    full = tiny_spec(encoders={"image": ENCODER_SPECS["cnn"], "state": ENCODER_SPECS["proprio"]}, heads=heads)
    full.update(cameras=["top"], state_dim=15, **spec)
    torch.manual_seed(seed)
    return MMLLM(MMLLMConfig(spec=full)).eval()


def head(kind: str, **overrides: Any) -> dict[str, Any]:
    """A tiny head spec of ``kind`` (``tests.factory.HEAD_SPECS``) with ``overrides``."""
    return {**HEAD_SPECS[kind], **overrides}


def vector_env(env_id: str = "embodied/PickPlace-v0", n: int = 2, seed: int = 0, size: int = IMAGE) -> Any:
    """A sync vector env of primitive-control tabletop envs rendering only the ``top`` camera."""
    return make_vector_env(env_id, n, seed=seed, control="primitive", image_size=size, cameras=("top",))
