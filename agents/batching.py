"""Vector-env observations → model batches: pick sub-env rows, build prompts, run the processor, move to device.

A vector env batches every key (``images`` camera → ``[N, H, W, 3]``, ``state`` ``[N, S]``, ``instruction`` a
tuple of ``N`` strings); ``MMLLM.processor`` takes a list of single-env observations. ``model_batch`` bridges the
two for the rows an agent queries (only the sub-envs whose action queue ran dry, say). ``started_episodes`` reads
from a step's ``info`` which sub-envs just (auto)reset, so agents drop what they kept for the old episode even
when the rollout loop calls ``episode_done`` before the reset step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from embodied.data.observations import PROMPTS, prompts_for, unbatch

__all__ = ["PROMPTS", "RESET_KEY", "model_batch", "prompts_for", "started_episodes", "to_device", "unbatch"]

#: an ``info`` key tabletop envs send only from ``reset`` (with autoreset, on the step that resets a sub-env)
RESET_KEY = "camera_params"


def to_device(batch: Any, device: torch.device) -> Any:
    """Every tensor of a (nested) batch on ``device``."""
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch.to(device) if isinstance(batch, torch.Tensor) else batch


def model_batch(model: Any, processor: Any, obs: dict[str, Any], rows: Sequence[int], kind: str) -> dict[str, Any]:
    """The processed model batch for sub-envs ``rows`` with the ``kind`` prompts, on the model's device."""
    observations = unbatch(obs, rows)
    batch = processor(observations, prompts_for(observations, kind), kinds=kind)
    return dict(to_device(batch, next(model.parameters()).device))


def started_episodes(info: dict[str, Any], num_envs: int) -> list[int]:
    """Sub-envs whose ``info`` comes from a reset (all at ``envs.reset``; with autoreset, those that just
    restarted): their ``RESET_KEY`` entry is present and set in gymnasium's ``_<key>`` mask."""
    if RESET_KEY not in info:
        return []
    mask = np.asarray(info.get(f"_{RESET_KEY}", np.ones(num_envs, dtype=bool)), dtype=bool)
    return [int(i) for i in np.flatnonzero(mask)]
