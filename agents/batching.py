"""Vector-env observations → model batches: pick sub-env rows, build prompts, run the processor, move to device.

A vector env batches every key (``images`` camera → ``[N, H, W, 3]``, ``state`` ``[N, S]``, ``instruction`` a
tuple of ``N`` strings); ``MMLLM.processor`` takes a list of single-env observations. ``model_batch`` bridges the
two for the rows an agent queries (only the sub-envs whose action queue ran dry, say). ``started_episodes`` reads
from a step's ``info`` which sub-envs just (auto)reset, so agents drop what they kept for the old episode even
when the rollout loop calls ``episode_done`` before the reset step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from embodied.data.samples import action_prompt, plan_prompt

__all__ = ["PROMPTS", "RESET_KEY", "model_batch", "prompts_for", "started_episodes", "to_device", "unbatch"]

#: agent prompt kind → how a sub-env's prompt is made from its observation (the training prompts)
PROMPTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "action": lambda obs: action_prompt(str(obs["instruction"])),
    "plan": lambda obs: plan_prompt(str(obs["instruction"])),
    "vqa": lambda obs: str(obs["question"]),  # VQA samples are prompted with the question itself
}

_MODALITIES = ("images", "depth")
#: an ``info`` key tabletop envs send only from ``reset`` (with autoreset, on the step that resets a sub-env)
RESET_KEY = "camera_params"


def unbatch(obs: dict[str, Any], rows: Sequence[int]) -> list[dict[str, Any]]:
    """Single-env observation dicts for ``rows`` of a batched observation."""
    out = []
    for i in rows:
        single: dict[str, Any] = {key: {cam: v[i] for cam, v in obs[key].items()} for key in _MODALITIES if key in obs}
        for key, value in obs.items():
            if key not in _MODALITIES:
                single[key] = value[i]
        out.append(single)
    return out


def prompts_for(observations: Sequence[dict[str, Any]], kind: str) -> list[str]:
    """One prompt per single-env observation (``kind``: a key of ``PROMPTS``)."""
    if kind not in PROMPTS:
        raise ValueError(f"unknown prompt kind {kind!r}; expected one of {sorted(PROMPTS)}")
    return [PROMPTS[kind](o) for o in observations]


def to_device(batch: Any, device: torch.device) -> Any:
    """Every tensor of a (nested) batch on ``device``."""
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch.to(device) if isinstance(batch, torch.Tensor) else batch


def model_batch(model: Any, processor: Any, obs: dict[str, Any], rows: Sequence[int], kind: str) -> dict[str, Any]:
    """The processed model batch for sub-envs ``rows`` with the ``kind`` prompts, on the model's device."""
    observations = unbatch(obs, rows)
    batch = processor(observations, prompts_for(observations, kind))
    return dict(to_device(batch, next(model.parameters()).device))


def started_episodes(info: dict[str, Any], num_envs: int) -> list[int]:
    """Sub-envs whose ``info`` comes from a reset (all at ``envs.reset``; with autoreset, those that just
    restarted): their ``RESET_KEY`` entry is present and set in gymnasium's ``_<key>`` mask."""
    if RESET_KEY not in info:
        return []
    mask = np.asarray(info.get(f"_{RESET_KEY}", np.ones(num_envs, dtype=bool)), dtype=bool)
    return [int(i) for i in np.flatnonzero(mask)]
