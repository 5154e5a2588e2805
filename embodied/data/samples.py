"""Episodes → chat-formatted training samples of four kinds, and samples → a model batch (``to_batch``).

One ``Sample`` is one (observation, prompt, target) triple. The prompt is the user turn only: the model's
processor wraps it in the tokenizer's chat template with the stream placeholders (``<|image|>``, ``<|state|>``)
in front, so the same text is used when the agent acts. Prompt formats, per kind:

- ``caption`` (alignment, LLaVA-style caption pairs): prompt ``describe the scene.``; target: one of
  ``episode.captions``; observation: frame 0. One sample per caption.
- ``action`` (instruction tuning, OpenVLA-style): prompt ``what action should the robot take to {task}?``
  (``{task}`` is frame ``t``'s own task, ``episode.task_at(t)``, with a trailing full stop removed: an episode
  whose task changes mid-way prompts each frame with its own task); target: the action chunk
  ``actions[t : t + H]`` (``TARGET_ACTIONS``), padded past the episode's end by repeating the last action, with
  ``action_mask`` 1 on real steps and 0 on padding; observation: frame ``t``. One sample per frame.
- ``plan``: prompt ``plan the steps to {task}.`` (frame 0's task); target: ``episode.plan``; observation: frame 0.
  One sample per episode that has a plan.
- ``vqa``: prompt: the question as written; target: its answer; observation: frame 0. One sample per VQA pair.

Observations use the env format: ``{"images": {camera: [H, W, 3] uint8}, "state": [S] float32}`` plus
``"depth": {camera: [H, W] float32}`` when the episode has depth. Action chunks are float32 in [-1, 1]: episode
actions are passed through ``normalize`` (e.g. ``model.processor.normalize_actions``) or must already lie in
[-1, 1].

``to_batch`` hands a list of samples to ``model.processor``: text kinds get their target string; action samples
get the ids of the model's action-token head (the head whose ``special_tokens()`` is non-empty), and whenever
the batch holds an action sample it also carries ``actions [B, H, A]`` and ``action_mask [B, H]`` (0 for the
rows of text samples) so parallel heads (``continuous``, ``diffusion``) train on the same batch. When the model
has a pointing head (``pointer``) and action samples carry pointing targets (``Episode.points``), the batch
also holds ``point_targets [B, K, 2]``, ``point_mask [B]`` (1 on rows with targets) and ``point_camera [B]``
(the index of the target camera among the model's ``cameras``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from embodied.data.episode import Episode

#: every sample kind, in the order ``make_samples`` emits them per episode
KINDS: tuple[str, ...] = ("caption", "action", "plan", "vqa")
#: the ``target`` of an action sample: its action chunk, tokenised or regressed by the model's action heads
TARGET_ACTIONS = "actions"
#: the prompt of caption samples (alignment)
CAPTION_PROMPT = "describe the scene."

Normalize = Callable[[np.ndarray], np.ndarray]


def action_prompt(task: str) -> str:
    """The prompt of an action sample for instruction ``task`` (the agent uses the same text when acting)."""
    return f"what action should the robot take to {_clause(task)}?"


def plan_prompt(task: str) -> str:
    """The prompt of a plan sample for instruction ``task``."""
    return f"plan the steps to {_clause(task)}."


def _clause(task: str) -> str:
    return task.strip().rstrip(".")


@dataclass(frozen=True)
class Sample:
    """One training sample.

    - ``kind``: one of ``KINDS``
    - ``observation``: env-format observation (``images``, ``state``, optionally ``depth``)
    - ``prompt``: the user turn (see the module docstring for the formats)
    - ``target``: the text to predict, or ``TARGET_ACTIONS`` for action samples
    - ``actions``: ``[H, A]`` float32 chunk in [-1, 1] (action samples only, else None)
    - ``action_mask``: ``[H]`` float32, 1 on real steps, 0 on padding past the episode's end (action samples only)
    - ``episode``, ``frame``: where the sample comes from (index in the episode list, frame of the observation)
    - ``points``: ``[K, 2]`` pointing targets (pixels) of the action in camera ``point_camera`` (action samples of
      episodes that have them, else None)
    - ``look``: ``[N, 2]`` pixels (N ≥ 0) in ``point_camera`` of what the prompt refers to, a grounding model's look
      targets (VQA samples whose pair has ``points``, else None)
    """

    kind: str
    observation: dict[str, Any]
    prompt: str
    target: str
    episode: int
    frame: int
    actions: np.ndarray | None = None
    action_mask: np.ndarray | None = None
    points: np.ndarray | None = None
    point_camera: str = ""
    look: np.ndarray | None = None


def observation_at(episode: Episode, frame: int) -> dict[str, Any]:
    """Frame ``frame`` of ``episode`` as an env-format observation dict."""
    obs: dict[str, Any] = {
        "images": {cam: frames[frame] for cam, frames in episode.images.items()},
        "state": episode.state[frame],
    }
    if episode.depth:
        obs["depth"] = {cam: frames[frame] for cam, frames in episode.depth.items()}
    return obs


def action_chunk(actions: np.ndarray, start: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """``actions [T, A]`` → ``(actions[start : start + chunk] [chunk, A], mask [chunk])``.

    Steps past the end repeat the last action (a robot holding still is the natural continuation) and get mask 0.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    if not 0 <= start < len(actions):
        raise ValueError(f"start frame {start} is outside the episode's {len(actions)} frames")
    real = actions[start : start + chunk]
    pad = np.repeat(actions[-1:], chunk - len(real), axis=0)
    mask = np.zeros(chunk, np.float32)
    mask[: len(real)] = 1.0
    return np.concatenate([real, pad]).astype(np.float32), mask


def make_samples(
    episodes: Sequence[Episode],
    kinds: Iterable[str] = KINDS,
    chunk: int = 1,
    rng: np.random.Generator | int | None = None,
    normalize: Normalize | None = None,
) -> list[Sample]:
    """Samples of the requested ``kinds`` from every episode, with action chunks of ``chunk`` steps.

    Order: episode by episode, kinds in ``KINDS`` order, frames ascending; with ``rng`` (a generator or a seed)
    the list is shuffled deterministically. ``normalize`` maps episode actions to [-1, 1] (without it they must
    already lie there).
    """
    wanted = _check_kinds(kinds)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    samples: list[Sample] = []
    for index, episode in enumerate(episodes):
        for kind in (k for k in KINDS if k in wanted):
            samples.extend(_MAKERS[kind](episode, index, chunk, normalize))
    if rng is not None:
        order = np.random.default_rng(rng).permutation(len(samples))
        samples = [samples[i] for i in order]
    return samples


def _check_kinds(kinds: Iterable[str]) -> set[str]:
    wanted = {kinds} if isinstance(kinds, str) else set(kinds)
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise ValueError(f"unknown sample kinds {unknown}; expected some of {list(KINDS)}")
    return wanted


def _captions(episode: Episode, index: int, chunk: int, normalize: Normalize | None) -> list[Sample]:
    obs = observation_at(episode, 0)
    return [Sample("caption", obs, CAPTION_PROMPT, caption, index, 0) for caption in episode.captions]


def _actions(episode: Episode, index: int, chunk: int, normalize: Normalize | None) -> list[Sample]:
    actions = np.asarray(normalize(episode.actions) if normalize is not None else episode.actions, np.float32)
    if actions.shape != episode.actions.shape:
        raise ValueError(f"normalize changed the actions' shape {episode.actions.shape} to {actions.shape}")
    if not np.all(np.abs(actions) <= 1.0):
        raise ValueError(
            f"episode {index} has actions outside [-1, 1] (max |a| = {np.nanmax(np.abs(actions)):.3g}); pass "
            "normalize=model.processor.normalize_actions (or another map to [-1, 1])"
        )
    samples = []
    for frame in range(len(episode)):
        prompt = action_prompt(episode.task_at(frame))
        chunk_actions, mask = action_chunk(actions, frame, chunk)
        obs = observation_at(episode, frame)
        points = None if episode.points is None else episode.points[frame]
        samples.append(
            Sample(
                "action", obs, prompt, TARGET_ACTIONS, index, frame, chunk_actions, mask, points, episode.point_camera
            )
        )
    return samples


def _plans(episode: Episode, index: int, chunk: int, normalize: Normalize | None) -> list[Sample]:
    if not episode.plan:
        return []
    return [Sample("plan", observation_at(episode, 0), plan_prompt(episode.task), episode.plan, index, 0)]


def _vqa(episode: Episode, index: int, chunk: int, normalize: Normalize | None) -> list[Sample]:
    obs = observation_at(episode, 0)
    return [
        Sample(
            "vqa",
            obs,
            pair.question,
            pair.answer,
            index,
            0,
            point_camera=episode.point_camera,
            look=None if pair.points is None else np.asarray(pair.points, np.float32).reshape(-1, 2),
        )
        for pair in episode.vqa
    ]


_MAKERS: dict[str, Callable[[Episode, int, int, Normalize | None], list[Sample]]] = {
    "caption": _captions,
    "action": _actions,
    "plan": _plans,
    "vqa": _vqa,
}


def to_batch(model: Any, samples: Sequence[Sample]) -> dict[str, Any]:
    """``model.processor`` on ``samples``: text targets for text kinds, action-token ids (+ chunks) for actions.

    ``model`` is an ``MMLLM`` (anything with ``processor`` and ``heads``). Action samples need either an
    action-token head (their target becomes its ``encode`` ids of the first ``chunk_length`` steps) or a parallel
    action head (``continuous``, ``diffusion``) that reads ``actions`` (without a token head their rows carry no
    labels); chunks must be at least as long as every
    action head's ``chunk_length``.
    """
    import torch  # lazily: ``embodied.data`` stays importable without loading torch

    if not samples:
        raise ValueError("to_batch needs at least one sample")
    heads = list(model.heads.values())
    token_head = next((h for h in heads if h.special_tokens()), None)
    action_rows = [i for i, s in enumerate(samples) if s.kind == "action"]
    targets: list[Any] = [s.target for s in samples]
    actions = masks = None
    if action_rows:
        actions, masks = _stack_chunks(samples, heads)
        if token_head is not None:
            chunks = torch.as_tensor(actions[action_rows, : token_head.chunk_length])
            for row, ids in zip(action_rows, token_head.encode(chunks).tolist(), strict=True):
                targets[row] = ids
        elif any(h.chunk_length > 0 and not h.generative for h in heads):
            for row in action_rows:  # only the parallel heads learn from these rows: no text labels
                targets[row] = None
        else:
            raise ValueError("the batch has action samples but the model has no action head to train on them")
    observations = [s.observation for s in samples]
    prompts, kinds = [s.prompt for s in samples], [s.kind for s in samples]
    batch: dict[str, Any] = model.processor(observations, prompts, targets, actions=actions, kinds=kinds)
    if masks is not None:
        batch["action_mask"] = torch.as_tensor(masks)
    if any(getattr(h, "uses_dense_features", False) for h in heads) and any(s.points is not None for s in samples):
        batch |= _point_targets(model, samples)
    if getattr(model, "grounding", None) is not None:
        referents = [_look_referents(s) for s in samples]
        if any(r is not None for r in referents):
            batch |= _look_targets(samples, referents, model.look_map.split("/", 1)[1])
    return batch


def _look_referents(sample: Sample) -> np.ndarray | None:
    """What a grounding model should look at for ``sample``: a VQA pair's referents, or an action's pick and place
    points (the objects its instruction names), else None (unsupervised)."""
    if sample.look is not None:
        return sample.look
    return sample.points if sample.kind == "action" else None


def _look_targets(samples: Sequence[Sample], referents: Sequence[np.ndarray | None], camera: str) -> dict[str, Any]:
    """``look_targets [B, N_max, 2]`` (pixels, zero-padded), ``look_count [B]`` and ``look_mask [B]`` (1 = the row's
    referents are known, none included); the referents must be in ``camera``, the map the model looks at."""
    import torch

    known = [(s, r) for s, r in zip(samples, referents, strict=True) if r is not None]
    elsewhere = sorted({s.point_camera for s, _ in known} - {camera})
    if elsewhere:
        raise ValueError(
            f"VQA look targets are in camera(s) {elsewhere} but the model looks at camera {camera!r} "
            "(model.grounding.map): record the data with that camera first in env_kwargs.cameras"
        )
    width = max([1] + [len(r) for _, r in known])
    targets = np.zeros((len(samples), width, 2), np.float32)
    count = np.zeros(len(samples), np.int64)
    mask = np.zeros(len(samples), np.float32)
    for row, points in enumerate(referents):
        if points is not None:
            targets[row, : len(points)], count[row], mask[row] = points, len(points), 1.0
    return {
        "look_targets": torch.as_tensor(targets),
        "look_count": torch.as_tensor(count),
        "look_mask": torch.as_tensor(mask),
    }


def _point_targets(model: Any, samples: Sequence[Sample]) -> dict[str, Any]:
    """``point_targets [B, K, 2]``, ``point_mask [B]`` and ``point_camera [B]`` of the samples with points."""
    import torch

    cameras = list(model.config.model_spec.cameras)
    rows = [s for s in samples if s.points is not None]
    shapes = {s.points.shape for s in rows if s.points is not None}
    if len(shapes) != 1:
        raise ValueError(f"pointing targets in one batch need one shape [K, 2], got {sorted(map(str, shapes))}")
    unknown = sorted({s.point_camera for s in rows} - set(cameras))
    if unknown:
        raise ValueError(f"pointing targets are in camera(s) {unknown} but the model's cameras are {cameras}")
    targets = np.zeros((len(samples), *shapes.pop()), np.float32)
    mask = np.zeros(len(samples), np.float32)
    camera = np.zeros(len(samples), np.int64)
    for row, sample in enumerate(samples):
        if sample.points is not None:
            targets[row], mask[row], camera[row] = sample.points, 1.0, cameras.index(sample.point_camera)
    return {
        "point_targets": torch.as_tensor(targets),
        "point_mask": torch.as_tensor(mask),
        "point_camera": torch.as_tensor(camera),
    }


def _stack_chunks(samples: Sequence[Sample], heads: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``actions [B, H, A]`` and ``action_mask [B, H]`` of a batch; rows of text samples are zeros, mask 0."""
    chunks = [s for s in samples if s.kind == "action"]
    shapes = {None if s.actions is None else s.actions.shape for s in chunks}
    if len(shapes) != 1 or None in shapes:
        raise ValueError(f"action samples in one batch need action chunks of one shape, got {sorted(map(str, shapes))}")
    horizon, action_dim = chunks[0].actions.shape  # type: ignore[union-attr]
    needed = max([h.chunk_length for h in heads] + [1])
    if horizon < needed:
        raise ValueError(f"action chunks have {horizon} steps but the model's action heads need {needed}")
    actions = np.zeros((len(samples), horizon, action_dim), np.float32)
    masks = np.zeros((len(samples), horizon), np.float32)
    for row, sample in enumerate(samples):
        if sample.kind == "action":
            actions[row] = sample.actions
            masks[row] = sample.action_mask if sample.action_mask is not None else 1.0
    return actions, masks
