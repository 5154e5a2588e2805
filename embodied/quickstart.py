"""``embodied quickstart``: what the main job runs today, end to end on CPU.

Until the training pipeline lands, the quickstart builds the quickstart model from its preset, shows the
frozen/trainable table, turns a synthetic observation into a batch with the processor, takes a few optimiser
steps on it (the loss must fall), decodes an action with every action head, and checks that
``save_pretrained`` → ``from_pretrained`` reproduces the outputs exactly.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import numpy as np
import torch

from embodied.config import load_config


def synthetic_observation(spec: Any, rng: np.random.Generator) -> dict[str, Any]:
    """A random observation in the env format (HWC uint8 images per camera, float32 state)."""
    size = spec.image_size
    obs: dict[str, Any] = {
        "images": {cam: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for cam in spec.cameras},
        "depth": {cam: rng.uniform(0.3, 1.5, (size, size)).astype(np.float32) for cam in spec.cameras},
    }
    if spec.state_dim:
        obs["state"] = rng.standard_normal(spec.state_dim).astype(np.float32)
    return obs


def training_batch(model: Any, spec: Any, rng: np.random.Generator) -> dict[str, Any]:
    """One batch with targets for every head: a text answer, action tokens and an action chunk."""
    obs = [synthetic_observation(spec, rng) for _ in range(2)]
    prompts = ["put the red cube in the blue bowl", "what colour is the cube?"]
    chunk = max((h.chunk_length for h in model.heads.values()), default=1) or 1
    actions = rng.uniform(-1, 1, (2, chunk, spec.action_dim)).astype(np.float32)
    token_head = next((h for h in model.heads.values() if h.special_tokens()), None)
    targets: list[Any] = ["red", "red"]
    if token_head is not None:
        ids = token_head.encode(torch.as_tensor(actions[:, : token_head.chunk_length]))
        targets = [ids[0].tolist(), "red"]
    return model.processor(obs, prompts, targets, actions=actions)


def run_quickstart(config_path: str, overrides: list[str] | None = None) -> int:
    from embodied.models import MMLLM, MMLLMConfig

    torch.manual_seed(0)
    cfg = load_config(config_path, overrides)
    rng = np.random.default_rng(cfg.seed)
    start = time.perf_counter()
    model = MMLLM(MMLLMConfig(spec=cfg.model.model_dump(mode="json")))
    print(f"built {cfg.name} model in {time.perf_counter() - start:.1f}s\n{model.component_table()}\n")
    batch = training_batch(model, cfg.model, rng)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(20):
        out = model(**batch)
        assert out.loss is not None
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append(float(out.loss.detach()))
    print(f"20 steps on one synthetic batch: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    model.eval()
    for name, head in model.heads.items():
        result = model.predict(batch, name)
        shown = result if isinstance(result, list) else tuple(result.shape)
        print(f"head {name!r} ({type(head).__name__}) predicts {shown}")
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        again = MMLLM.from_pretrained(tmp).eval()
        with torch.no_grad():
            same = torch.equal(model(**batch).hidden, again(**batch).hidden)
    print(f"save_pretrained -> from_pretrained reproduces outputs exactly: {same}")
    return 0 if same and losses[-1] < losses[0] else 1
