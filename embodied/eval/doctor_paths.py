"""The two ways data reaches a checkpoint, as the doctor checks replay them.

- *training path*: ``make_samples`` (actions normalised by ``model.processor``) → ``to_batch`` → ``model(**batch)``,
  exactly as ``embodied.training.stages`` trains;
- *inference path*: a processor on the raw env-format observation with the prompt an agent builds
  (``action_prompt(instruction)``) → ``model.predict`` → the processor's ``unnormalize_actions`` (env units),
  as ``embodied.agents.MMLLMAgent`` acts. The core never imports the agents, so the path is rebuilt here.

The action head the doctor examines is the action-token head when the model has one, else the first parallel head
that outputs action chunks (``continuous``, ``diffusion``); pointing heads output pixels: the image-sensitivity
check examines them (``sensitivity_head``: the predicted pixels must move with the image), the replay check not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from embodied.models import MMLLM, MMLLMProcessor


def action_head(model: MMLLM) -> str | None:
    """Name of the head the doctor examines (see the module docstring), or None."""
    heads = model.head_map
    tokens = [name for name, h in heads.items() if h.special_tokens() and h.chunk_length > 0]
    parallel = [
        name for name, h in heads.items() if h.chunk_length > 0 and not h.generative and not h.uses_dense_features
    ]
    return (tokens + parallel)[0] if tokens + parallel else None


def sensitivity_head(model: MMLLM) -> str | None:
    """The head the image-sensitivity check decodes: ``action_head``, else the first pointing head."""
    pointing = [name for name, h in model.head_map.items() if h.uses_dense_features]
    return action_head(model) or (pointing[0] if pointing else None)


def is_token_head(model: MMLLM, head: str) -> bool:
    return bool(model.head_map[head].special_tokens())


def to_device(batch: Any, device: torch.device) -> Any:
    """Every tensor of a (nested) batch on ``device``."""
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch.to(device) if isinstance(batch, torch.Tensor) else batch


def model_device(model: MMLLM) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict_actions(
    model: MMLLM,
    processor: MMLLMProcessor,
    observations: Sequence[Mapping[str, Any]],
    prompts: Sequence[str],
    head: str,
    seed: int = 0,
) -> np.ndarray:
    """Inference path: action chunks ``[B, H, A]`` in [-1, 1] (greedy; sampling heads seeded with ``seed``)."""
    return predict_batch(model, processor(list(observations), list(prompts), kinds="action"), head, seed)


@torch.no_grad()
def predict_batch(model: MMLLM, batch: dict[str, Any], head: str, seed: int = 0) -> np.ndarray:
    """``model.predict`` of a processed batch as float32 numpy ``[B, H, A]`` (sampling heads seeded with ``seed``);
    a pointing head gives its pixels ``[B, K, 2]``."""
    device = model_device(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    actions = model.predict(to_device(batch, device), head, generator=generator)
    actions = getattr(actions, "pixels", actions)  # PointerOutput → pixels (u, v) per argument
    return np.asarray(actions.float().cpu().numpy(), dtype=np.float32)


@torch.no_grad()
def teacher_forced_bins(model: MMLLM, batch: dict[str, Any], head: str) -> tuple[float, np.ndarray, np.ndarray]:
    """Training path of an action-token head on a ``to_batch`` batch of action samples.

    Returns the head's own ``accuracy`` metric, the argmax bins ``[B, L]`` at every action-token position (each
    predicted from the demo's previous tokens) and the demo's bins ``[B, L]`` (``L = H × A``).
    """
    from embodied.models.heads.vocabulary import next_token_pairs

    token_head: Any = model.head_map[head]
    batch = to_device(batch, model_device(model))
    out = model(**batch)
    if out.hidden is None:
        raise RuntimeError("the model's forward returned no hidden states")
    states, targets = next_token_pairs(out.hidden[:, : batch["input_ids"].shape[1]], batch["labels"])
    bins = token_head.bins_of(targets)  # [B, T-1], -1 off the action tokens
    keep = bins >= 0
    rows = batch["input_ids"].shape[0]
    chosen = token_head.bin_log_probs(states[keep]).argmax(dim=-1)
    accuracy = float(out.metrics.get(f"{head}/accuracy", float("nan")))
    return accuracy, chosen.reshape(rows, -1).cpu().numpy(), bins[keep].reshape(rows, -1).cpu().numpy()
