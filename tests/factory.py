"""Tiny model specs for tests: every component at hidden 32–64, 2 layers, 32×32 images."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

TINY_VISION = {
    "siglip": {
        "model_type": "siglip_vision_model",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "patch_size": 8,
    },
    "clip": {
        "model_type": "clip_vision_model",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "patch_size": 8,
        "projection_dim": 32,
    },
    "vit": {
        "model_type": "vit",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "patch_size": 8,
    },
    "dinov2": {
        "model_type": "dinov2",
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "patch_size": 8,
        "mlp_ratio": 2,
    },
}

ENCODER_SPECS: dict[str, dict[str, Any]] = {
    "cnn": {"kind": "cnn"},
    "hf-vision": {"kind": "hf-vision", "config": TINY_VISION["siglip"]},
    "proprio": {"kind": "proprio"},
    "pointcloud": {"kind": "pointcloud"},
}

PROJECTOR_SPECS: dict[str, dict[str, Any]] = {
    "linear": {"kind": "linear"},
    "mlp": {"kind": "mlp"},
    "perceiver": {"kind": "perceiver", "num_latents": 8, "num_heads": 2, "head_dim": 16},
    "qformer": {"kind": "qformer", "num_queries": 8, "num_heads": 2, "head_dim": 16},
}

HEAD_SPECS: dict[str, dict[str, Any]] = {
    "text": {"kind": "text", "max_new_tokens": 6},
    "action-tokens": {"kind": "action-tokens", "bins": 32},
    "continuous": {"kind": "continuous", "chunk": 4},
    "diffusion": {"kind": "diffusion", "chunk": 4, "num_inference_steps": 4},
    "pointer": {"kind": "pointer", "arguments": ["pick", "place"], "hidden_dim": 32, "key_dim": 16},
}


def tiny_spec(
    encoders: dict[str, dict[str, Any]] | None = None,
    projector: str = "mlp",
    family: str = "qwen2",
    heads: dict[str, dict[str, Any]] | None = None,
    trainable: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A model spec dict (the ``model:`` section) built from the tiny presets."""
    from embodied.models.backbones.tiny import TINY_BACKBONE_CONFIGS

    spec: dict[str, Any] = {
        "image_size": 32,
        "cameras": ["front", "wrist"],
        "state_dim": 9,
        "action_dim": 7,
        "encoders": encoders if encoders is not None else {"image": ENCODER_SPECS["cnn"]},
        "projector": dict(PROJECTOR_SPECS[projector]) if projector in PROJECTOR_SPECS else {"kind": projector},
        "backbone": {
            "kind": "hf-causal-lm",
            "config": dict(TINY_BACKBONE_CONFIGS[family]),
            "tokenizer": {"vocab_size": 400},
        },
        "heads": heads if heads is not None else {"text": HEAD_SPECS["text"]},
    }
    if trainable is not None:
        spec["trainable"] = trainable
    return spec


def observation(seed: int, size: int = 32, cameras: tuple[str, ...] = ("front", "wrist")) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "images": {c: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for c in cameras},
        "depth": {c: rng.uniform(0.3, 1.5, (size, size)).astype(np.float32) for c in cameras},
        "state": rng.standard_normal(9).astype(np.float32),
    }


def batch_for(model: Any, n: int = 2, seed: int = 0) -> dict[str, Any]:
    """A batch with targets for every head of ``model`` (text answer, action tokens, action chunk, pixels)."""
    rng = np.random.default_rng(seed)
    obs = [observation(seed + i) for i in range(n)]
    prompts = [f"put the red cube in bowl {i}" for i in range(n)]
    chunk = max([h.chunk_length for h in model.heads.values()] + [1])
    actions = rng.uniform(-1, 1, (n, chunk, 7)).astype(np.float32)
    token_head = next((h for h in model.heads.values() if h.special_tokens()), None)
    text_head = "text" in model.heads
    targets: list[Any] = []
    for i in range(n):
        if token_head is not None and (i % 2 == 0 or not text_head):
            ids = token_head.encode(torch.as_tensor(actions[i : i + 1, : token_head.chunk_length]))
            targets.append(ids[0].tolist())
        else:
            targets.append(f"answer {i}")
    batch = model.processor(obs, prompts, targets, actions=actions)
    if any(h.uses_dense_features for h in model.heads.values()):  # pointer targets: pixels (u, v), front camera
        queries = max(h.num_queries for h in model.heads.values() if h.uses_dense_features)
        batch["point_targets"] = torch.as_tensor(rng.uniform(0, 31, (n, queries, 2)), dtype=torch.float32)
    return batch
