"""Batched vector-env observations → single-env observation dicts and their prompts (core; no envs imported).

A gymnasium vector env batches every key (``images`` camera → ``[N, H, W, 3]``, ``state`` ``[N, S]``,
``instruction`` a tuple of ``N`` strings); ``MMLLM.processor`` takes a list of single-env observations. Agents
(``embodied.agents``) and RL rollouts (``embodied.training.rl``) both go through these functions, so acting,
evaluation and RL build the same prompts as training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from embodied.data.samples import action_prompt, plan_prompt

__all__ = ["PROMPTS", "prompts_for", "unbatch"]

#: prompt kind → how a sub-env's prompt is made from its observation (the training prompts)
PROMPTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "action": lambda obs: action_prompt(str(obs.get("instruction", ""))),
    "plan": lambda obs: plan_prompt(str(obs.get("instruction", ""))),
    "vqa": lambda obs: str(obs["question"]),  # VQA samples are prompted with the question itself
    # the bare instruction: short prompts for RL from scratch, where no training prompt has to be matched
    "instruction": lambda obs: str(obs.get("instruction", "")),
}

_MODALITIES = ("images", "depth")


def unbatch(obs: dict[str, Any], rows: Sequence[int], copy: bool = False) -> list[dict[str, Any]]:
    """Single-env observation dicts for ``rows`` of a batched observation (``copy``: own the arrays, for
    observations kept after the env reuses its buffers)."""
    take: Callable[[Any], Any] = (lambda v: np.array(v)) if copy else (lambda v: v)
    out = []
    for i in rows:
        single: dict[str, Any] = {
            key: {cam: take(v[i]) for cam, v in obs[key].items()} for key in _MODALITIES if key in obs
        }
        for key, value in obs.items():
            if key not in _MODALITIES:
                single[key] = take(value[i]) if isinstance(value, np.ndarray) else value[i]
        out.append(single)
    return out


def prompts_for(observations: Sequence[dict[str, Any]], kind: str) -> list[str]:
    """One prompt per single-env observation (``kind``: a key of ``PROMPTS``)."""
    if kind not in PROMPTS:
        raise ValueError(f"unknown prompt kind {kind!r}; expected one of {sorted(PROMPTS)}")
    return [PROMPTS[kind](o) for o in observations]
