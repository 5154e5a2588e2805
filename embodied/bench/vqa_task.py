"""Embodied VQA on the simulated tabletop for the grounding ablation: data from the real VQA env, one training loop,
held-out accuracy per question type (and, for a grounding model, where it looked).

Each sample is one reset of ``embodied/TabletopVQA-v0`` (top camera, count / colour / shape / existence questions,
objects staged on each other or in the receptacle half the time) with the question's referents projected into the
top camera (every item counted, the one asked about, none for an absent one). Variants differ only in how the
text path sees the image (``VARIANTS``); the rest of the model (the main job's CoordConv CNN at stride 1, MLP
projector, 2-layer Qwen2-style LM, text head), the data, steps, batch and learning rate are shared. Simulation
code is imported inside the functions (``embodied`` never imports ``envs`` at module level); nothing runs at
import time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from embodied.bench.pointing_task import TINY_BACKBONE
from embodied.models.heads.pointing_geometry import world_to_pixel

ENV_ID = "embodied/TabletopVQA-v0"
QTYPES = ("count", "colour", "shape", "existence")
MAX_REFERENTS = 8
_CNN = {"kind": "cnn", "stride": 1, "channels": [16, 16]}  # configs/model/pointer.yaml's encoder
#: how the text path sees the image: encoder and projector overrides, and whether the model grounds (looks first)
VARIANTS: dict[str, dict[str, Any]] = {
    "grid4-avg": {"encoder": {}, "projector": {"kind": "mlp"}},  # the main job before issue 12
    "grid8-max": {"encoder": {"grid": 8, "pool": "max"}, "projector": {"kind": "mlp"}},
    "perceiver-grid16": {
        "encoder": {"grid": 16},
        "projector": {"kind": "perceiver", "num_latents": 16, "depth": 2, "num_heads": 4, "head_dim": 16},
    },
    "look": {"encoder": {}, "projector": {"kind": "mlp"}, "grounding": {}},
}


@dataclass
class VQAData:
    """``images [N, S, S, 3]``, questions, answers, types, referent pixels ``[N, MAX_REFERENTS, 2]`` and counts."""

    images: np.ndarray
    questions: list[str]
    answers: list[str]
    qtypes: list[str]
    referents: np.ndarray
    counts: np.ndarray


def make_data(seeds: range, image_size: int = 64) -> VQAData:
    """One question per seed from the VQA env, with its referents' pixels in the top camera."""
    import gymnasium as gym

    import embodied.envs  # noqa: F401  (registers the ids)

    env = gym.make(ENV_ID, image_size=image_size, cameras=("top",), qtypes=QTYPES)
    images, questions, answers, qtypes, referents, counts = [], [], [], [], [], []
    try:
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            sim = env.unwrapped
            question, scene = sim.question, sim.scene  # type: ignore[attr-defined]
            params = scene.camera_params(image_size)["top"]
            pixels = np.zeros((MAX_REFERENTS, 2), np.float32)
            names = question.objects[:MAX_REFERENTS]
            if names:
                world = np.stack([scene.position(name) for name in names])
                pixels[: len(names)] = world_to_pixel(world, params["intrinsics"], params["extrinsics"])[0]
            images.append(obs["images"]["top"])
            questions.append(question.text)
            answers.append(question.answer)
            qtypes.append(question.qtype)
            referents.append(pixels)
            counts.append(len(names))
    finally:
        env.close()
    return VQAData(np.stack(images), questions, answers, qtypes, np.stack(referents), np.asarray(counts))


def model_spec(variant: str, image_size: int = 64) -> dict[str, Any]:
    """The main job's model with a text head only, seeing the image as ``VARIANTS[variant]`` says."""
    chosen = VARIANTS[variant]
    spec: dict[str, Any] = {
        "image_size": image_size,
        "cameras": ["top"],
        "state_dim": 0,
        "action_dim": 7,
        "encoders": {"image": _CNN | chosen["encoder"]},
        "projector": chosen["projector"],
        "backbone": TINY_BACKBONE,
        "heads": {"text": {"kind": "text", "max_new_tokens": 4}},
    }
    if "grounding" in chosen:
        spec["grounding"] = chosen["grounding"]
    return spec


def batch(model: Any, data: VQAData, rows: np.ndarray, targets: bool = True) -> dict[str, Any]:
    """Rows ``rows`` of ``data`` as a processed batch (answers as text targets; look targets for a grounding model)."""
    observations = [{"images": {"top": data.images[i]}} for i in rows]
    answers = [data.answers[i] for i in rows] if targets else None
    out: dict[str, Any] = model.processor(observations, [data.questions[i] for i in rows], answers, kinds="vqa")
    if targets and model.grounding is not None:
        out["look_targets"] = torch.as_tensor(data.referents[rows])
        out["look_count"] = torch.as_tensor(data.counts[rows])
        out["look_mask"] = torch.ones(len(rows))
    return out


@torch.no_grad()
def evaluate(model: Any, data: VQAData, chunk: int = 100) -> dict[str, float]:
    """Accuracy per question type (exact match after ``normalize_answer``) and, for a grounding model, how often
    its strongest look cell is within 2 px of a colour/shape question's referent and its soft count rounds right."""
    from embodied.envs.tabletop.vqa import normalize_answer

    model.eval()
    correct: dict[str, list[bool]] = defaultdict(list)
    for start in range(0, len(data.questions), chunk):
        rows = np.arange(start, min(start + chunk, len(data.questions)))
        processed = batch(model, data, rows, targets=False)
        for i, text in zip(rows, model.predict(processed, "text"), strict=True):
            correct[data.qtypes[i]].append(normalize_answer(text) == data.answers[i])
        if model.grounding is not None:
            look = model.look(processed)  # every VQA prompt looks: its rows are the batch's
            best, counts = look.pixels[look.logits.argmax(dim=1)].numpy(), look.count().numpy()
            for k, i in enumerate(rows):
                correct["look_count"].append(abs(float(counts[k]) - int(data.counts[i])) < 0.5)
                if data.qtypes[i] in ("colour", "shape") and data.counts[i] >= 1:
                    correct["look_within_2px"].append(float(np.linalg.norm(best[k] - data.referents[i, 0])) <= 2.0)
    model.train()
    return {key: round(float(np.mean(values)), 3) for key, values in sorted(correct.items())}


@dataclass
class Result:
    """A training run: ``curve`` rows (step, accuracies, seconds), steps/s and the final accuracies."""

    curve: list[dict[str, Any]] = field(default_factory=list)
    steps_per_second: float = 0.0
    final: dict[str, float] = field(default_factory=dict)


def train(
    variant: str,
    train_data: VQAData,
    test_data: VQAData,
    steps: int,
    eval_every: int = 500,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
) -> Result:
    """Train one variant for ``steps`` AdamW steps (50 warm-up steps, gradient norm 1); evaluate every
    ``eval_every``."""
    from embodied.models import MMLLM, MMLLMConfig

    torch.manual_seed(seed)
    size = int(train_data.images.shape[1])
    model = MMLLM(MMLLMConfig(spec=model_spec(variant, size))).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 50))
    rng = np.random.default_rng(seed)
    result, trained, start = Result(), 0.0, time.perf_counter()
    for step in range(1, steps + 1):
        tick = time.perf_counter()
        loss = model(**batch(model, train_data, rng.integers(len(train_data.questions), size=batch_size))).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        trained += time.perf_counter() - tick
        if step % eval_every == 0 or step == steps:
            scores = evaluate(model, test_data)
            result.curve.append({"step": step, "seconds": round(time.perf_counter() - start, 1), **scores})
    result.steps_per_second = steps / trained
    result.final = {k: v for k, v in result.curve[-1].items() if k not in ("step", "seconds")}
    return result
