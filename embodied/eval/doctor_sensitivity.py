"""Doctor check 1, ``image-sensitivity``: does the decoded action change when only the image changes?

A vision pathway that carries no signal (a projector collapsed to its bias, frozen random encoder features the
LLM learned to ignore, images replaced by padding) leaves a policy that replays the dataset's average action
whatever it sees. The check runs the inference path (``doctor_paths.predict_actions``) on K observations that
differ only in their camera images — same robot state, same depth, same prompt — and fails when (nearly) all K
decoded action chunks are identical: at least ``identical_share`` of them within ``tolerance`` of one another.

Images come from K frames spread over the dataset when one is given (in-distribution scenes), else from seeded
uniform noise (evidence says which; a well-trained model can be legitimately indifferent to noise, so prefer data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embodied.data.samples import action_prompt, observation_at
from embodied.eval.doctor_paths import predict_actions, sensitivity_head
from embodied.eval.doctor_result import CheckResult

if TYPE_CHECKING:
    from embodied.data import Episode
    from embodied.models import MMLLM, MMLLMProcessor

NAME = "image-sensitivity"
#: the instruction of the probe prompt when no dataset gives one
PROBE_TASK = "pick up the red cube"


def probe_observations(
    model: MMLLM, episodes: Sequence[Episode] | None, count: int, seed: int = 0
) -> tuple[list[dict[str, Any]], str, str]:
    """``count`` observations that differ only in their images, their prompt, and where the images came from."""
    frames = [(e, t) for e, ep in enumerate(episodes or []) for t in range(len(ep))]
    if episodes and len(frames) >= 2:
        picks = [frames[i] for i in np.unique(np.linspace(0, len(frames) - 1, count).round().astype(int))]
        base = observation_at(episodes[picks[0][0]], picks[0][1])
        observations = [{**base, "images": observation_at(episodes[e], t)["images"]} for e, t in picks]
        return observations, action_prompt(episodes[picks[0][0]].task), "dataset frames"
    spec = model.config.model_spec
    rng = np.random.default_rng(seed)
    size = spec.image_size
    base = {
        "state": np.zeros(spec.state_dim, np.float32),
        "depth": {cam: np.ones((size, size), np.float32) for cam in spec.cameras},
    }
    observations = [
        {**base, "images": {cam: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for cam in spec.cameras}}
        for _ in range(count)
    ]
    return observations, action_prompt(PROBE_TASK), "random images, no dataset"


def check_image_sensitivity(
    model: MMLLM,
    observations: Sequence[Mapping[str, Any]],
    prompt: str,
    *,
    processor: MMLLMProcessor | None = None,
    head: str | None = None,
    source: str = "",
    identical_share: float = 0.9,
    tolerance: float = 1e-3,
    seed: int = 0,
) -> CheckResult:
    """Fail when ≥ ``identical_share`` of the observations decode to one action chunk (``tolerance``: max |Δa|)."""
    head = head or sensitivity_head(model)
    if head is None:
        return CheckResult.skip(NAME, "the model has no action head (action-tokens, continuous, diffusion, pointer)")
    if len(observations) < 2:
        return CheckResult.skip(NAME, f"needs at least 2 observations, got {len(observations)}")
    chunks = predict_actions(
        model, processor or model.processor, observations, [prompt] * len(observations), head, seed
    )
    flat = chunks.reshape(len(chunks), -1).astype(np.float64)  # [K, H·A], normalised units
    gaps = np.abs(flat[:, None] - flat[None]).max(axis=-1)  # [K, K]
    largest = int((gaps <= tolerance).sum(axis=1).max())
    distinct = sum(1 for i in range(len(flat)) if not (gaps[i, :i] <= tolerance).any())
    share = largest / len(flat)
    mean_gap = float(np.abs(flat[:, None] - flat[None]).mean())
    origin = f" ({source}; state and prompt fixed)" if source else " (state and prompt fixed)"
    evidence = (
        f"head {head!r}: {len(flat)} observations{origin} → {distinct} distinct action chunk(s); largest identical "
        f"group {largest}/{len(flat)} (fails at ≥ {identical_share:.0%}); mean pairwise |Δa| {mean_gap:.3f}"
    )
    if share >= identical_share:
        evidence += " — the action ignores the image (check the encoder/projector and that images reach the prompt)"
    return CheckResult(NAME, share < identical_share, evidence)
