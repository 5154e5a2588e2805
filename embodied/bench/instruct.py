"""Benchmark ``instruct``: samples/s of the main job's instruct stage, the new one-pass path against the old one, and
its fraction of the FLOP bound. All in one run, fp32 on the CPU, ``threads`` torch threads (default 1).

**Model and data.** The main job's model (``configs/model/pointer.yaml``: CoordConv CNN at 64×64, stride 1 → MLP
projector → 2-layer Qwen2-style LM → text + pointer heads), freshly initialised from ``SEED`` for every run. The
quickstart's instruct mixture (action 0.6 with pick/place pixels, VQA 0.3, plan 0.1; prompt noise 0.45 on action and
plan prompts) drawn from ``EPISODES`` synthetic tabletop episodes (random 64×64 frames, the real prompt and answer
formats), ``BATCH`` = 32 samples a step, batched by ``to_batch`` inside the Trainer exactly as the stage does.

**Rows.** ``new``: the current path — one CNN trunk pass per camera for the LLM tokens and the pointer head's dense
map (``MMLLM.shared_encoder_pass``), one processor with its token caches across batches (``MMLLM.reuse_processor``),
the pointer's 1×1 key projection folded into its queries (``PointerHead.fold_key_projection``) and the grid tokens'
fixed-window pool with a contiguous gradient (``CNNEncoder.fixed_window_pool``) and the 1×1 projection to the dense
map as a batched matmul (``CNNEncoder.matmul_projection``). ``old``: all five switched off, the path before issue 13
(two trunk passes, a fresh processor per batch, keys built at every pixel, the adaptive pool, oneDNN's 1×1 conv).
The two are timed in interleaved rounds; ``*_samples_per_s`` is the median over rounds of
``BATCH × steps / seconds`` (final checkpoint excluded); ``speedup`` = new / old. Both train on the same draws from
the same seed, so their per-step losses agree to float32 summation order (``max_loss_diff``).

**FLOP bound.** ``model_flops_per_sample``: the FLOPs of one training step (forward + backward, the one-pass model)
per sample, counted by ``torch.utils.flop_counter`` (matmuls, convolutions, attention; element-wise work is not
counted); ``matmul_gflops``: the fp32 rate of a ``MATMUL`` × ``MATMUL`` matmul measured in the same run on the same
threads; ``*_flop_bound_fraction`` = samples/s × FLOPs per sample ÷ that rate.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from typing import Any

import numpy as np
import torch

from embodied.bench.presets import pointer_spec
from embodied.bench.trainer import _timed_into

BATCH = 32
LR = 2e-3
SEED = 0
EPISODES = 64
PROMPT_NOISE = 0.45
MIXTURE = {"action": 0.6, "vqa": 0.3, "plan": 0.1}
MATMUL = 1024
#: the attributes that turn issue 13's paths on: one encoder pass for tokens and dense maps and one processor
#: across batches (``MMLLM``), the key projection folded into the pointer's queries (``PointerHead``), the
#: fixed-window pool with a contiguous gradient and the 1×1 projection as a batched matmul (``CNNEncoder``)
NEW_PATH_SWITCHES = (
    "shared_encoder_pass",
    "reuse_processor",
    "fold_key_projection",
    "fixed_window_pool",
    "matmul_projection",
)
COLOURS = ["red", "green", "blue", "orange", "purple", "yellow"]
OBJECTS = ["cube", "cylinder", "sphere"]


# ------------------------------------------------------------------------------------------------- model, data
def build_model(new_path: bool) -> Any:
    """The main job's model from ``SEED``; ``new_path=False``: the old two-pass path with a processor per batch."""
    from embodied.models import MMLLM, MMLLMConfig

    torch.manual_seed(SEED)
    model = MMLLM(MMLLMConfig(spec=pointer_spec()))
    use_new_path(model, new_path)
    return model


def use_new_path(model: Any, on: bool) -> None:
    """Switch issue 13's paths on or off together (``NEW_PATH_SWITCHES`` on the model and its modules)."""
    for module in model.modules():
        for switch in NEW_PATH_SWITCHES:
            if hasattr(module, switch):
                setattr(module, switch, on)


def _episode_samples(model: Any, index: int, rng: np.random.Generator) -> list[Any]:
    """One synthetic primitive pick-and-place episode: an action sample (pixels), a plan and four VQA pairs."""
    from embodied.data.samples import TARGET_ACTIONS, Sample, action_prompt, plan_prompt

    spec = model.config.model_spec
    size = spec.image_size
    obs = {
        "images": {cam: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for cam in spec.cameras},
        "state": rng.standard_normal(spec.state_dim).astype(np.float32),
    }
    colour, bowl = rng.choice(COLOURS, 2, replace=False)
    thing = rng.choice(OBJECTS)
    task = f"put the {colour} {thing} in the {bowl} bowl"
    actions = rng.uniform(-1, 1, (1, spec.action_dim)).astype(np.float32)
    points = rng.uniform(0, size - 1, (2, 2)).astype(np.float32)
    action = Sample(
        "action", obs, action_prompt(task), TARGET_ACTIONS, index, 0, actions, np.ones(1, np.float32), points, "top"
    )
    plan = Sample("plan", obs, plan_prompt(task), f"1. pick({colour} {thing})\n2. place({bowl} bowl)", index, 0)
    vqa = [
        ("how many objects are there?", str(rng.integers(2, 5))),
        (f"what colour is the {thing}?", str(colour)),
        (f"what shape is the {colour} object?", str(thing)),
        ("is there a green zone?", "yes" if rng.random() < 0.5 else "no"),
    ]
    return [action, plan, *(Sample("vqa", obs, q, a, index, 0) for q, a in vqa)]


def instruct_samples(model: Any, steps: int) -> list[Any]:
    """``steps × BATCH`` mixture draws (``MIXTURE``) with the stage's prompt noise, as ``_supervised_trainer``."""
    from embodied.data.augment import augment_prompts
    from embodied.data.mixture import Mixture

    rng = np.random.default_rng(SEED)
    pool = [s for e in range(EPISODES) for s in _episode_samples(model, e, rng)]
    samples = Mixture(MIXTURE, seed=SEED).sample(pool, steps * BATCH)
    return augment_prompts(samples, PROMPT_NOISE, SEED, kinds=("action", "plan"))


# ------------------------------------------------------------------------------------------------- measurements
def train_seconds(model: Any, samples: list[Any], steps: int) -> tuple[float, list[float]]:
    """(seconds of ``Trainer.train()`` without the final checkpoint, per-step losses) on ``samples``."""
    from embodied.data.samples import to_batch
    from embodied.training.metrics import read_metrics
    from embodied.training.trainer import Trainer, TrainerSettings

    settings = TrainerSettings(
        stage="bench-instruct",
        max_steps=steps,
        lr=LR,
        batch_size=BATCH,
        seed=SEED,
        progress_bar=False,
        tensorboard=False,
        keep_checkpoints=1,
    )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(model, settings, samples, run_dir, collate=lambda items: to_batch(model, items))
        saving: list[float] = []
        trainer.save = _timed_into(trainer.save, saving)  # type: ignore[method-assign]
        start = time.perf_counter()
        trainer.train()
        total = time.perf_counter() - start
        losses = [float(r["loss"]) for r in read_metrics(run_dir) if r["split"] == "train"]
    return total - sum(saving), losses


def flops_per_sample(model: Any, samples: list[Any]) -> float:
    """FLOPs of one forward + backward on a ``BATCH`` batch, per sample (``torch.utils.flop_counter``)."""
    from torch.utils.flop_counter import FlopCounterMode

    from embodied.data.samples import to_batch

    batch = to_batch(model, samples[:BATCH])
    model.train()
    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops()) / BATCH


def matmul_gflops(size: int = MATMUL, repeats: int = 5) -> float:
    """The best fp32 ``size × size`` matmul rate in GFLOP/s over ``repeats`` tries (after a warm-up)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = min(_seconds(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _seconds(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------------- run
def run(quick: bool = False, threads: int = 1) -> dict[str, Any]:
    """The instruct stage's samples/s, new vs old path, and the FLOP-bound fraction on ``threads`` threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return {"threads": threads, "quick": quick, **measure(quick)}
    finally:
        torch.set_num_threads(previous)


def measure(quick: bool) -> dict[str, Any]:
    """Interleaved rounds of the old and the new path (module docstring)."""
    steps, rounds = (3, 1) if quick else (12, 3)
    samples = instruct_samples(build_model(True), steps)
    train_seconds(build_model(True), samples, 1)  # warm-up: lazy imports and first allocations hit neither row
    new_s, old_s, diffs, rates = [], [], [], []
    for _ in range(rounds):
        seconds, old_losses = train_seconds(build_model(False), samples, steps)
        old_s.append(seconds)
        seconds, new_losses = train_seconds(build_model(True), samples, steps)
        new_s.append(seconds)
        rates.append(matmul_gflops())
        diffs.append(max(abs(a - b) for a, b in zip(old_losses, new_losses, strict=True)))
    old, new = BATCH * steps / statistics.median(old_s), BATCH * steps / statistics.median(new_s)
    flops = flops_per_sample(build_model(True), samples)
    rate = statistics.median(rates) * 1e9
    return {
        "model": "main job (configs/model/pointer.yaml), fp32, full fine-tuning",
        "mixture": MIXTURE,
        "batch_size": BATCH,
        "steps": steps,
        "rounds": rounds,
        "old_samples_per_s": round(old, 2),
        "new_samples_per_s": round(new, 2),
        "speedup": round(new / old, 3),
        "max_loss_diff": max(diffs),
        "model_flops_per_sample": round(flops),
        "matmul_gflops": round(rate / 1e9, 2),
        "old_flop_bound_fraction": round(old * flops / rate, 4),
        "new_flop_bound_fraction": round(new * flops / rate, 4),
    }
