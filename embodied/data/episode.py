"""The record of one episode: per-frame observations and actions plus episode-level annotations.

Frame ``t`` pairs the observation seen *before* acting with the action taken and what that action produced
(``rewards[t]``, ``dones[t]``), the LeRobot convention (``next.reward``, ``next.done``); the observation after
the last action is not stored. Episode-level extras come from the simulator's privileged state when the episode
is collected: the symbolic plan text, VQA pairs and scene captions, plus the env id, seed and success flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embodied.data.action_space import DiscreteActions


@dataclass(frozen=True)
class VQAPair:
    """One question about the episode's scene with its ground-truth answer and question type (e.g. ``count``).

    ``points``: pixels (u, v) in the episode's ``point_camera`` of the items the question refers to (the one asked
    about, every item counted; none for an absent one) — the targets of a grounding model's look; ``None`` when
    unknown (datasets recorded without them).
    """

    question: str
    answer: str
    qtype: str = ""
    points: tuple[tuple[float, float], ...] | None = None

    @classmethod
    def coerce(cls, item: VQAPair | Mapping[str, Any] | Sequence[Any]) -> VQAPair:
        """Accept a ``VQAPair``, a mapping with ``question``/``answer``/``qtype`` (and ``points``) or a 2-, 3- or
        4-tuple (question, answer, qtype, points)."""
        if isinstance(item, VQAPair):
            return item
        if isinstance(item, Mapping):
            points = _points(item.get("points"))
            return cls(str(item["question"]), str(item["answer"]), str(item.get("qtype", "")), points)
        if isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 4:
            return cls(str(item[0]), str(item[1]), str(item[2]), _points(item[3]))
        if isinstance(item, Sequence) and not isinstance(item, str) and len(item) in (2, 3):
            return cls(*(str(v) for v in item))  # type: ignore[arg-type]
        raise TypeError(
            f"cannot read a VQA pair from {item!r}; expected VQAPair, mapping or (question, answer[, qtype[, points]])"
        )


def _points(value: Any) -> tuple[tuple[float, float], ...] | None:
    """``[[u, v], ...]`` (any sequence of pairs) → a tuple of float pairs; ``None`` stays ``None``."""
    if value is None:
        return None
    pairs = [tuple(float(c) for c in p) for p in value]
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"VQA points must be (u, v) pairs, got {value!r}")
    return tuple((p[0], p[1]) for p in pairs)


@dataclass
class Episode:
    """One episode of ``T`` frames; arrays are validated and normalised to their documented dtypes.

    - ``images``: camera → ``[T, H, W, 3]`` uint8 (may be empty for state-only envs)
    - ``state``: ``[T, S]`` float32 (``S`` may be 0)
    - ``actions``: ``[T, A]`` float32; for a discrete ``action_space`` ``[T, 1]`` indices ``0 .. n-1``
    - ``action_space``: ``DiscreteActions(n, start)`` when the actions are indices of a ``Discrete`` space (stored
      as an int64 column, the space in ``meta/info.json``: ``embodied.data.action_space``), else None
    - ``rewards``: ``[T]`` float32 (zeros when the source has none); ``dones``: ``[T]`` bool
    - ``depth``: camera → ``[T, H, W]`` float32 metres, or empty
    - ``task``: the instruction / task text of the episode (of its first frame when ``frame_tasks`` is given)
    - ``frame_tasks``: each frame's own task text ``[T]`` when the task changes within the episode (LeRobot's
      per-frame ``task_index``), else None; ``task_at(t)`` gives frame ``t``'s task either way
    - ``points``: ``[T, K, 2]`` float32 pixels (u, v) of each action's primitive arguments (pick, place) in
      camera ``point_camera`` — the pointing head's targets — or None
    """

    images: dict[str, np.ndarray]
    state: np.ndarray
    actions: np.ndarray
    task: str
    rewards: np.ndarray | None = None
    dones: np.ndarray | None = None
    depth: dict[str, np.ndarray] = field(default_factory=dict)
    env_id: str = ""
    seed: int | None = None
    success: bool = False
    plan: str | None = None
    vqa: list[VQAPair] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    points: np.ndarray | None = None
    point_camera: str = ""
    frame_tasks: list[str] | None = None
    action_space: DiscreteActions | None = None

    def __post_init__(self) -> None:
        self.actions = _array(self.actions, np.float32, "actions", ndim=2)
        length = len(self.actions)
        if length == 0:
            raise ValueError("an episode needs at least one frame; got 0 actions")
        self.state = _array(self.state, np.float32, "state", ndim=2, length=length)
        self.images = {
            cam: _array(v, np.uint8, f"images[{cam!r}]", ndim=4, length=length) for cam, v in self.images.items()
        }
        for cam, frames in self.images.items():
            if frames.shape[-1] != 3:
                raise ValueError(f"images[{cam!r}] must be HWC RGB with 3 channels, got shape {frames.shape}")
        self.depth = {
            cam: _array(v, np.float32, f"depth[{cam!r}]", ndim=3, length=length) for cam, v in self.depth.items()
        }
        rewards = np.zeros(length, np.float32) if self.rewards is None else self.rewards
        self.rewards = _array(rewards, np.float32, "rewards", ndim=1, length=length)
        dones = np.arange(length) == length - 1 if self.dones is None else self.dones
        self.dones = _array(dones, np.bool_, "dones", ndim=1, length=length)
        if self.points is not None:
            self.points = _array(self.points, np.float32, "points", ndim=3, length=length)
            if self.points.shape[-1] != 2:
                raise ValueError(f"points must be [T, K, 2] pixels (u, v), got shape {self.points.shape}")
            if not self.point_camera:
                raise ValueError("points are given without point_camera (the camera whose pixels they are)")
        self.point_camera = str(self.point_camera or "")
        self._check_frame_tasks(length)
        if self.action_space is not None:
            self.action_space.check_indices(self.actions)
        self.vqa = [VQAPair.coerce(item) for item in self.vqa]
        self.captions = [str(c) for c in self.captions]
        self.seed = None if self.seed is None else int(self.seed)
        self.success = bool(self.success)

    def __len__(self) -> int:
        return len(self.actions)

    def task_at(self, frame: int) -> str:
        """The task of frame ``frame``: ``frame_tasks[frame]`` when the episode has per-frame tasks, else ``task``."""
        return self.task if self.frame_tasks is None else self.frame_tasks[frame]

    @property
    def tasks(self) -> list[str]:
        """The episode's distinct tasks in order of first appearance (LeRobot's episodes ``tasks`` column)."""
        return [self.task] if self.frame_tasks is None else list(dict.fromkeys(self.frame_tasks))

    def _check_frame_tasks(self, length: int) -> None:
        """``frame_tasks``: one string per frame, starting with ``task``; all equal to ``task`` collapses to None."""
        if self.frame_tasks is None:
            return
        tasks = [str(t) for t in self.frame_tasks]
        if len(tasks) != length:
            raise ValueError(f"frame_tasks has {len(tasks)} entries but the episode has {length} frames")
        if tasks[0] != self.task:
            raise ValueError(f"frame_tasks[0] is {tasks[0]!r} but task is {self.task!r}; task is frame 0's task")
        self.frame_tasks = None if all(t == self.task for t in tasks) else tasks


def _array(value: Any, dtype: type, name: str, *, ndim: int, length: int | None = None) -> np.ndarray:
    """``value`` as a C-contiguous ``dtype`` array of rank ``ndim`` (and ``length`` rows), else a ValueError."""
    array = np.asarray(value)
    if dtype is np.uint8 and array.dtype != np.uint8:
        # Casting float images to uint8 would silently wrap or truncate; the caller must quantise explicitly.
        raise ValueError(f"{name} must be uint8, got {array.dtype}")
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    if length is not None and len(array) != length:
        raise ValueError(f"{name} has {len(array)} frames but the episode has {length} actions")
    return array
