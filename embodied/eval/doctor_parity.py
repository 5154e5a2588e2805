"""Doctor check 5, ``preprocessing-parity``: does inference preprocess exactly as training did?

Training builds batches with ``to_batch`` → ``model.processor`` (derived from the model config); inference code
that loads the checkpoint directory uses the processor saved beside it (``MMLLMProcessor.from_pretrained(dir)``,
``processor_config.json`` + tokenizer). A hand-edited or stale ``processor_config.json`` (another image size,
mean/std, camera order, placeholder count) or another tokenizer gives the model inputs it never saw, silently.
The check

- compares the saved processor's settings with the model config's (``SPEC_FIELDS`` and the stream slots);
- processes the same observation and prompt through both paths and requires bitwise-equal pixel values (per
  camera), depth, state and prompt token ids. Observations: the first frame of the dataset when there is one, and
  a seeded random observation at an odd resolution (so the resize runs too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from embodied.data.samples import TARGET_ACTIONS, Sample, action_prompt, observation_at, to_batch
from embodied.eval.doctor_paths import action_head
from embodied.eval.doctor_result import CheckResult

if TYPE_CHECKING:
    from embodied.data import Episode
    from embodied.models import MMLLM, MMLLMProcessor

NAME = "preprocessing-parity"
#: processor settings that must be equal between the saved processor and the model config
SPEC_FIELDS = ("image_size", "image_mean", "image_std", "cameras", "state_dim", "action_dim")
PROBE_TASK = "pick up the red cube"


def check_preprocessing_parity(
    model: MMLLM, saved: MMLLMProcessor | None, episodes: Sequence[Episode] | None = None, load_error: str = ""
) -> CheckResult:
    """Compare the saved processor with the model config and both paths' batches for the probe observations."""
    if saved is None:
        reason = f" ({load_error})" if load_error else ""
        return CheckResult(
            NAME, False, f"no usable processor_config.json saved with the checkpoint{reason}: inference cannot load it"
        )
    problems = _setting_differences(model.processor, saved)
    probes = _probes(model, episodes)
    for label, (observation, prompt) in probes.items():
        problems += [f"{label}: {p}" for p in _batch_differences(model, saved, observation, prompt)]
    if problems:
        return CheckResult(NAME, False, "; ".join(problems))
    spec = saved.spec
    return CheckResult(
        NAME,
        True,
        f"saved processor = model config (image_size {spec.image_size}, mean {spec.image_mean}, std "
        f"{spec.image_std}, cameras {spec.cameras}, state_dim {spec.state_dim}); {', '.join(probes)}: bitwise-equal "
        "pixels, state and prompt ids on both paths",
    )


def _setting_differences(implied: MMLLMProcessor, saved: MMLLMProcessor) -> list[str]:
    problems = [
        f"{name}: saved {getattr(saved.spec, name)} vs model config {getattr(implied.spec, name)}"
        for name in SPEC_FIELDS
        if getattr(saved.spec, name) != getattr(implied.spec, name)
    ]
    if saved.streams != implied.streams:
        problems.append(f"stream slots: saved {saved.streams} vs model {implied.streams}")
    return problems


def _probes(model: MMLLM, episodes: Sequence[Episode] | None) -> dict[str, tuple[dict[str, Any], str]]:
    """Label → (observation, prompt): a dataset frame when there is one, and a random odd-sized observation."""
    spec = model.config.model_spec
    rng = np.random.default_rng(0)
    size = spec.image_size * 3 // 2 + 1  # never the model's size: the resize is part of what must match
    random_obs = {
        "images": {cam: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for cam in spec.cameras},
        "depth": {cam: rng.uniform(0.2, 2.0, (size, size)).astype(np.float32) for cam in spec.cameras},
        "state": rng.standard_normal(spec.state_dim).astype(np.float32),
    }
    probes = {}
    episode = next((e for e in episodes or [] if len(e)), None)
    if episode is not None:
        probes["dataset frame"] = (observation_at(episode, 0), action_prompt(episode.task))
    probes[f"random {size}x{size} observation"] = (random_obs, action_prompt(PROBE_TASK))
    return probes


def _training_sample(model: MMLLM, observation: dict[str, Any], prompt: str) -> Sample:
    """The sample training would make of ``observation``: an action sample when the model has an action head."""
    if action_head(model) is None:
        return Sample("vqa", observation, prompt, "yes", 0, 0)
    chunk = max([h.chunk_length for h in model.head_map.values()] + [1])
    actions = np.zeros((chunk, model.config.model_spec.action_dim), np.float32)
    return Sample("action", observation, prompt, TARGET_ACTIONS, 0, 0, actions, np.ones(chunk, np.float32))


def _batch_differences(model: MMLLM, saved: MMLLMProcessor, observation: dict[str, Any], prompt: str) -> list[str]:
    sample = _training_sample(model, observation, prompt)
    train = to_batch(model, [sample])
    infer = saved([observation], [prompt], kinds=sample.kind)
    problems = []
    for key in ("images", "depth"):
        problems += _tensor_differences(key, train.get(key, {}), infer.get(key, {}))
    problems += _tensor_differences("", _state(train), _state(infer))
    prompt_ids = train["input_ids"][0][_prompt_mask(train)].tolist()
    inference_ids = infer["input_ids"][0][infer["attention_mask"][0] == 1].tolist()
    if prompt_ids != inference_ids:
        problems.append(_first_id_difference(prompt_ids, inference_ids, saved.tokenizer))
    return problems


def _prompt_mask(batch: Mapping[str, Any]) -> torch.Tensor:
    """Row 0's prompt positions: unmasked tokens not supervised as text. A batch without ``labels`` (a model
    whose only heads are continuous/diffusion: no target tokens in the sequence) is prompt throughout."""
    attended = batch["attention_mask"][0] == 1
    return attended & (batch["labels"][0] == -100) if "labels" in batch else attended


def _state(batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    return {"state": batch["state"]} if "state" in batch else {}


def _tensor_differences(key: str, train: Mapping[str, torch.Tensor], infer: Mapping[str, torch.Tensor]) -> list[str]:
    problems = []
    for name in sorted(set(train) | set(infer)):
        label = f"{key}/{name}" if key else name
        if name not in train or name not in infer:
            problems.append(f"{label} only on the {'training' if name in train else 'inference'} path")
        elif train[name].shape != infer[name].shape:
            problems.append(f"{label} shape {tuple(train[name].shape)} (training) vs {tuple(infer[name].shape)}")
        elif not torch.equal(train[name], infer[name]):
            gap = float((train[name].float() - infer[name].float()).abs().max())
            problems.append(f"{label} values differ (max |Δ| {gap:.4g})")
    return problems


def _first_id_difference(train: list[int], infer: list[int], tokenizer: Any) -> str:
    at = next((i for i, (a, b) in enumerate(zip(train, infer, strict=False)) if a != b), min(len(train), len(infer)))
    a = tokenizer.convert_ids_to_tokens(train[at : at + 1]) if at < len(train) else ["<end>"]
    b = tokenizer.convert_ids_to_tokens(infer[at : at + 1]) if at < len(infer) else ["<end>"]
    return (
        f"prompt ids differ ({len(train)} training vs {len(infer)} inference tokens; first at position {at}: "
        f"{a[0]!r} vs {b[0]!r})"
    )
