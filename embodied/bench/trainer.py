"""Benchmark ``trainer``: training throughput of the ONE ``Trainer`` against a plain PyTorch loop, and the feature
cache's speed-up on an alignment stage. All in one run, fp32 on the CPU.

**Trainer overhead** (``trainer_vs_plain_ratio``). One model: the quickstart preset (``configs/model/quickstart.yaml``:
CoordConv CNN + proprio → MLP projectors → 4-layer Qwen2-style LM with LoRA, text / action-token / continuous /
diffusion heads), freshly initialised from the same seed for every run. One batch of ``BATCH`` samples (half
action-token targets, half text answers; every row carries an 8-step action chunk) is used for every step.

- ``plain``: ``model(**batch).loss.backward()``, ``clip_grad_norm_`` (1.0), AdamW (the Trainer's parameter groups,
  lr 1e-4), the Trainer's warm-up/cosine scheduler, ``zero_grad``, ``float(loss)``.
- ``trainer``: ``Trainer(model, settings, [batch], run_dir).train()`` with the same optimizer, schedule and
  clipping, writing ``metrics.jsonl`` every step (its non-finite check, accelerate's ``accumulate``, the data
  order). The final checkpoint is timed on its own (``trainer_checkpoint_s``) and not counted in the loop time.

The two are timed in interleaved rounds (a load change on a shared machine hits both); ``*_samples_per_s`` is the
median over rounds of ``BATCH × steps / seconds``. Both seed the same RNG before the loop, so their per-step losses
must agree (``max_loss_diff``): they do the same work.

**Feature cache** (``align_cache_speedup``). The same model under an ``align`` policy (encoders, backbone and heads
frozen; projectors train) on caption batches drawn from ``ALIGN_OBSERVATIONS`` distinct observations, trained by
the Trainer with and without ``frozen_feature_cache``; ratio of samples/s (cached / uncached). The preset's CNN is
cheap next to the LM, so ``align_vit_*`` repeats it with the image encoder swapped for a ViT tower (``VIT``, the
``hf-vision`` family, randomly initialised): the kind of pretrained frozen tower alignment is meant for.

``quick=True`` keeps every key with fewer steps and one round. Everything runs on ``threads`` torch threads
(default 1, reproducible on a shared machine). Nothing runs at import time.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from embodied.bench.presets import quickstart_spec

BATCH = 8
LR = 1e-4
SEED = 0
ALIGN_OBSERVATIONS = 4
ALIGN_POLICY = {"encoders": "frozen", "projector": "full", "backbone": "frozen", "heads": "frozen"}
#: a small ViT image tower (6 layers, hidden 192, 8×8 patches: 64 tokens at 64×64), the second align row's encoder
VIT: dict[str, Any] = {
    "kind": "hf-vision",
    "config": {
        "model_type": "vit",
        "hidden_size": 192,
        "intermediate_size": 768,
        "num_hidden_layers": 6,
        "num_attention_heads": 3,
        "patch_size": 8,
    },
}


# ------------------------------------------------------------------------------------------------- model, data
def build_model(trainable: dict[str, Any] | None = None, image_encoder: dict[str, Any] | None = None) -> Any:
    """The quickstart preset, initialised from ``SEED`` (``trainable`` / ``image_encoder`` replace the preset's)."""
    from embodied.models import MMLLM, MMLLMConfig

    spec = quickstart_spec()
    if trainable is not None:
        spec["trainable"] = trainable
    if image_encoder is not None:
        spec["encoders"]["image"] = image_encoder
    torch.manual_seed(SEED)
    return MMLLM(MMLLMConfig(spec=spec))


def _observation(model: Any, seed: int) -> dict[str, Any]:
    spec = model.config.model_spec
    rng = np.random.default_rng(seed)
    size = spec.image_size
    return {
        "images": {cam: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for cam in spec.cameras},
        "state": rng.standard_normal(spec.state_dim).astype(np.float32),
    }


def sft_batch(model: Any) -> dict[str, Any]:
    """``BATCH`` samples: even rows action-token targets, odd rows text answers; action chunks on every row."""
    token_head = next(h for h in model.head_map.values() if h.special_tokens())
    chunk = max(h.chunk_length for h in model.head_map.values())
    actions = np.random.default_rng(SEED).uniform(-1, 1, (BATCH, chunk, model.config.model_spec.action_dim))
    actions = actions.astype(np.float32)
    ids = token_head.encode(torch.as_tensor(actions[:, : token_head.chunk_length])).tolist()
    targets = [ids[i] if i % 2 == 0 else f"the red cube is left of bowl {i}." for i in range(BATCH)]
    observations = [_observation(model, i) for i in range(BATCH)]
    prompts = ["what action should the robot take to put the red cube in the bowl?"] * BATCH
    batch: dict[str, Any] = model.processor(observations, prompts, targets, actions=actions)
    batch["action_mask"] = torch.ones(BATCH, chunk)
    return batch


def caption_batches(model: Any, count: int) -> list[dict[str, Any]]:
    """``count`` caption batches whose observations come from ``ALIGN_OBSERVATIONS`` distinct frames."""
    pool = [_observation(model, 100 + i) for i in range(ALIGN_OBSERVATIONS)]
    batches = []
    for b in range(count):
        picks = [(b * BATCH + i) % ALIGN_OBSERVATIONS for i in range(BATCH)]
        captions = [f"a red cube and a blue bowl, view {p}." for p in picks]
        batches.append(model.processor([pool[p] for p in picks], ["describe the scene."] * BATCH, captions))
    return batches


# ------------------------------------------------------------------------------------------------- loops
def plain_loop(model: Any, batch: dict[str, Any], steps: int) -> tuple[float, list[float]]:
    """Seconds for ``steps`` plain PyTorch updates (the Trainer's optimizer, schedule and clipping) and losses."""
    from embodied.training.schedule import build_scheduler

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for _, p in named if p.dim() >= 2], "weight_decay": 0.0},
        {"params": [p for _, p in named if p.dim() < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=LR)
    scheduler = build_scheduler(optimizer, 0, steps)
    params = [p for _, p in named]
    torch.manual_seed(SEED)
    model.train()
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    return time.perf_counter() - start, losses


def trainer_loop(
    model: Any, batches: list[dict[str, Any]], steps: int, cache: bool = False
) -> tuple[float, float, list[float]]:
    """(loop seconds without the final checkpoint, checkpoint seconds, per-step losses) of ``Trainer.train()``."""
    from embodied.training.feature_cache import frozen_feature_cache
    from embodied.training.metrics import read_metrics
    from embodied.training.trainer import Trainer, TrainerSettings

    settings = TrainerSettings(
        stage="bench", max_steps=steps, lr=LR, seed=SEED, progress_bar=False, tensorboard=False, keep_checkpoints=1
    )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(model, settings, batches, run_dir)
        saving: list[float] = []
        trainer.save = _timed_into(trainer.save, saving)  # type: ignore[method-assign]
        torch.manual_seed(SEED)
        start = time.perf_counter()
        with frozen_feature_cache(model, enabled=cache):
            trainer.train()
        total = time.perf_counter() - start
        losses = [float(r["loss"]) for r in read_metrics(run_dir) if r["split"] == "train"]
    return total - sum(saving), sum(saving), losses


def _timed_into(fn: Callable[[], Any], sink: list[float]) -> Callable[[], Any]:
    def timed() -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            sink.append(time.perf_counter() - start)

    return timed


# ------------------------------------------------------------------------------------------------- run
def run(quick: bool = False, threads: int = 1) -> dict[str, Any]:
    """Measure the trainer-vs-plain ratio and the align cache speed-up on ``threads`` threads (restored after)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows = {**overhead(quick), **align_cache(quick, "align"), **align_cache(quick, "align_vit", VIT)}
        return {"threads": threads, "quick": quick, **rows}
    finally:
        torch.set_num_threads(previous)


def overhead(quick: bool) -> dict[str, Any]:
    """Trainer vs plain loop on the SFT batch, interleaved rounds (module docstring)."""
    steps, rounds = (3, 1) if quick else (20, 3)
    batch = sft_batch(build_model())
    plain_loop(build_model(), batch, 1)  # warm-up: first-call allocations and lazy imports hit neither row
    plain_s, trainer_s, save_s, diffs = [], [], [], []
    for _ in range(rounds):
        seconds, plain_losses = plain_loop(build_model(), batch, steps)
        plain_s.append(seconds)
        seconds, saved, trainer_losses = trainer_loop(build_model(), [batch], steps)
        trainer_s.append(seconds)
        save_s.append(saved)
        diffs.append(max(abs(a - b) for a, b in zip(plain_losses, trainer_losses, strict=True)))
    plain_rate = BATCH * steps / statistics.median(plain_s)
    trainer_rate = BATCH * steps / statistics.median(trainer_s)
    return {
        "model": "quickstart preset (configs/model/quickstart.yaml), fp32, LoRA backbone",
        "batch_size": BATCH,
        "steps": steps,
        "rounds": rounds,
        "plain_samples_per_s": round(plain_rate, 3),
        "trainer_samples_per_s": round(trainer_rate, 3),
        "trainer_vs_plain_ratio": round(trainer_rate / plain_rate, 4),
        "trainer_checkpoint_s": round(statistics.median(save_s), 4),
        "max_loss_diff": max(diffs),
    }


def align_cache(quick: bool, name: str, image_encoder: dict[str, Any] | None = None) -> dict[str, Any]:
    """Trainer samples/s on caption batches under the align policy, with and without the feature cache."""
    steps, rounds = (4, 1) if quick else (24, 3)

    def build() -> Any:
        return build_model(ALIGN_POLICY, image_encoder)

    batches = caption_batches(build(), steps)
    cached_s, uncached_s, diffs = [], [], []
    for _ in range(rounds):
        seconds, _, plain_losses = trainer_loop(build(), batches, steps, cache=False)
        uncached_s.append(seconds)
        seconds, _, cached_losses = trainer_loop(build(), batches, steps, cache=True)
        cached_s.append(seconds)
        diffs.append(max(abs(a - b) for a, b in zip(plain_losses, cached_losses, strict=True)))
    uncached = BATCH * steps / statistics.median(uncached_s)
    cached = BATCH * steps / statistics.median(cached_s)
    return {
        f"{name}_image_encoder": (image_encoder or {"kind": "cnn"})["kind"],
        f"{name}_steps": steps,
        f"{name}_distinct_observations": ALIGN_OBSERVATIONS,
        f"{name}_uncached_samples_per_s": round(uncached, 3),
        f"{name}_cached_samples_per_s": round(cached, 3),
        f"{name}_cache_speedup": round(cached / uncached, 4),
        f"{name}_max_loss_diff": max(diffs),
    }
