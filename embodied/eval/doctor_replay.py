"""Doctor check 2, ``demo-replay``: do training demos replayed through the inference path get what training gets?

For N action samples of the dataset (``make_samples``, actions normalised by ``model.processor``) the check runs

- (a) the *training path*: ``to_batch`` → ``model(**batch)``; the action-token head's teacher-forced token
  accuracy (its ``accuracy`` metric) and its argmax bin at every action position;
- (b) the *inference path*: the processor on the raw observation with the agent's prompt
  (``action_prompt(episode.task)``) → ``model.predict`` (greedy, KV-cached decoding) → ``unnormalize_actions``;
  the env-unit actions are mapped back through the training normalisation and binned, then scored against the
  demo's bins.

Design choice (documented in the README): the pass/fail test is the two paths' *agreement*, not the gap between
(a) and (b). Teacher forcing conditions each token on the demo's previous tokens while free-running decoding
conditions on its own, so an imperfect (or freshly initialised) model shows a large (a)−(b) gap through a
perfectly consistent pipeline. At positions where the inference path's previous tokens equal the demo's (always
the first token of each chunk) both paths see the same inputs, and a consistent pipeline gives the same argmax
there; a different image transform, camera order, prompt, padding, position ids, decoding or unnormalisation
shows up as disagreement. The check fails when agreement < ``min_agreement``. Since accuracy on those
positions differs by at most 1 − agreement between the paths, this also bounds the "inference far below training"
gap the check is named for; (a) and (b) are printed as evidence either way.

Parallel heads (``continuous``, ``diffusion``; examined only when the model has no action-token head) compare
the two paths' predicted chunks: agreement is the share of action values within ``1e-3``, accuracy the share
within ``value_tolerance`` of the demo (normalised units).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from embodied.data.samples import Sample, action_prompt, make_samples, to_batch
from embodied.eval.doctor_paths import action_head, is_token_head, predict_actions, predict_batch, teacher_forced_bins
from embodied.eval.doctor_result import CheckResult

if TYPE_CHECKING:
    from embodied.data import Episode
    from embodied.models import MMLLM, MMLLMProcessor

NAME = "demo-replay"
#: agreement of parallel heads' predictions: same action value within this (normalised units)
SAME_VALUE = 1e-3


@dataclass
class _Replay:
    """Per-position outcomes over all replayed samples."""

    train_accuracy: float  # (a)
    infer_accuracy: float  # (b)
    agreement: float
    compared: int  # positions (tokens or action values) the agreement is measured on
    unit: str


def check_demo_replay(
    model: MMLLM,
    episodes: Sequence[Episode],
    *,
    samples: int = 16,
    processor: MMLLMProcessor | None = None,
    prompt: Callable[[str], str] = action_prompt,
    head: str | None = None,
    min_agreement: float = 0.9,
    value_tolerance: float = 0.1,
    batch_size: int = 8,
    seed: int = 0,
) -> CheckResult:
    """Replay ``samples`` demo action samples through both paths (``processor``/``prompt``: the inference path's)."""
    head = head or action_head(model)
    if head is None:
        return CheckResult.skip(NAME, "the model has no action head (action-tokens, continuous or diffusion)")
    chunk = max([h.chunk_length for h in model.head_map.values()] + [1])
    pool = make_samples(episodes, ["action"], chunk=chunk, normalize=model.processor.normalize_actions)
    if not pool:
        return CheckResult.skip(NAME, "the dataset's episodes hold no action frames")
    picked = [pool[i] for i in np.unique(np.linspace(0, len(pool) - 1, samples).round().astype(int))]
    infer = processor or model.processor
    batches = [picked[i : i + batch_size] for i in range(0, len(picked), batch_size)]
    tasks = [e.task for e in episodes]
    if is_token_head(model, head):
        replay = _replay_tokens(model, head, batches, infer, prompt, tasks, seed)
    else:
        replay = _replay_values(model, head, batches, infer, prompt, tasks, seed, value_tolerance)
    passed = replay.agreement >= min_agreement
    evidence = (
        f"head {head!r}, {len(picked)} demo samples: training path (teacher-forced) accuracy "
        f"{replay.train_accuracy:.3f}, inference path accuracy {replay.infer_accuracy:.3f}; the paths agree on "
        f"{replay.agreement:.3f} of {replay.compared} {replay.unit} (fails below {min_agreement:.2f})"
    )
    if not passed:
        evidence += " — inference preprocessing, prompt, decoding or unnormalisation differs from training"
    elif replay.train_accuracy - replay.infer_accuracy > 0.2:
        evidence += " — the accuracy gap comes from free-running decoding (compounding errors), not the pipeline"
    return CheckResult(NAME, passed, evidence)


def _inference_actions(
    model: MMLLM,
    head: str,
    batch: Sequence[Sample],
    infer: MMLLMProcessor,
    prompt: Callable[[str], str],
    tasks: Any,
    seed: int,
) -> np.ndarray:
    """Inference path → env units (``infer``'s unnormalisation) → back through the training normalisation."""
    prompts = [prompt(tasks[s.episode]) for s in batch]
    predicted = predict_actions(model, infer, [s.observation for s in batch], prompts, head, seed)
    env_units = infer.unnormalize_actions(predicted)
    return np.asarray(model.processor.normalize_actions(env_units), dtype=np.float32)  # [B, H, A]


def _replay_tokens(
    model: MMLLM,
    head: str,
    batches: Sequence[Sequence[Sample]],
    infer: MMLLMProcessor,
    prompt: Callable[[str], str],
    tasks: Sequence[str],
    seed: int,
) -> _Replay:
    token_head: Any = model.head_map[head]
    metric_sum, chosen, gold, inferred = 0.0, [], [], []
    for batch in batches:
        accuracy, argmax, demo = teacher_forced_bins(model, to_batch(model, batch), head)
        metric_sum += accuracy * demo.size
        actions = _inference_actions(model, head, batch, infer, prompt, tasks, seed)
        bins = token_head.to_bins(torch.as_tensor(actions[:, : token_head.chunk_length])).reshape(len(batch), -1)
        chosen.append(argmax)
        gold.append(demo)
        inferred.append(bins.numpy())
    c, g, i = np.concatenate(chosen), np.concatenate(gold), np.concatenate(inferred)
    # position j is comparable when the inference path's tokens before j equal the demo's (teacher forcing's input)
    same_prefix = np.concatenate([np.ones((len(g), 1), bool), np.cumprod(i == g, axis=1)[:, :-1].astype(bool)], 1)
    agreement = float((c[same_prefix] == i[same_prefix]).mean())
    return _Replay(
        metric_sum / g.size,
        float((i == g).mean()),
        agreement,
        int(same_prefix.sum()),
        "tokens decoded from the same prefix",
    )


def _replay_values(
    model: MMLLM,
    head: str,
    batches: Sequence[Sequence[Sample]],
    infer: MMLLMProcessor,
    prompt: Callable[[str], str],
    tasks: Sequence[str],
    seed: int,
    tolerance: float,
) -> _Replay:
    horizon = model.head_map[head].chunk_length
    trained, inferred, gold = [], [], []
    for batch in batches:
        trained.append(predict_batch(model, to_batch(model, batch), head, seed))
        inferred.append(_inference_actions(model, head, batch, infer, prompt, tasks, seed))
        gold.append(np.stack([np.asarray(s.actions)[:horizon] for s in batch]))
    t, i, g = np.concatenate(trained), np.concatenate(inferred), np.concatenate(gold)
    return _Replay(
        float((np.abs(t - g) <= tolerance).mean()),
        float((np.abs(i - g) <= tolerance).mean()),
        float((np.abs(t - i) <= SAME_VALUE).mean()),
        int(t.size),
        "action values",
    )
