"""What ``embodied eval`` is asked to do (``EvalOptions``), checked before anything heavy is loaded.

Splits: ``train`` evaluates on the training seed range (episode seeds from 0, the seeds ``embodied collect``
uses) with the training instructions; ``heldout`` starts at ``HELDOUT_SEED`` (disjoint from any training range
shorter than a million episodes) and sets ``instruction_split="heldout"`` on tabletop tasks (paraphrases never
seen in training); ``heldout-seeds`` uses the held-out seeds with the training instructions (new scenes, familiar
wording), which separates visual generalisation from language generalisation. An explicit ``--seed`` replaces
the split's first seed.

Every mistake in the input raises ``EvalInputError`` with a one-line message naming the problem; the command
prints it and exits with code 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from embodied.errors import UserError

__all__ = [
    "BASELINES",
    "HELDOUT_SEED",
    "SPLITS",
    "TRAIN_SEED",
    "EvalInputError",
    "EvalOptions",
    "default_seed",
    "parse_baselines",
    "parse_env_kwargs",
]

SPLITS = ("train", "heldout", "heldout-seeds")
TRAIN_SEED = 0
HELDOUT_SEED = 1_000_000
BASELINES = ("random", "scripted")


class EvalInputError(ValueError, UserError):
    """Bad input to ``embodied eval`` (missing checkpoint, unknown env id, bad kwarg, ...)."""


@dataclass(frozen=True)
class EvalOptions:
    """One evaluation: the model directory, the env, how many episodes of which blocks, and where to write."""

    checkpoint: Path
    env_id: str
    out: Path
    split: Literal["train", "heldout", "heldout-seeds"] = "train"
    episodes: int = 20
    num_envs: int = 4
    seed: int = TRAIN_SEED
    baselines: tuple[str, ...] = ()
    vqa_episodes: int = 0
    plan_episodes: int = 0
    #: decode plans constrained to the plan grammar (``embodied.agents.plan_grammar``)
    plan_grammar: bool = False
    videos: int = 2
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    #: extra kwargs of the VQA env only (e.g. ``qtypes``, ``stage_prob``), over the shared ones it accepts
    vqa_env_kwargs: dict[str, Any] = field(default_factory=dict)
    #: also roll out the int8 dynamically quantised model (agent ``mmllm-int8``) on the same seeds
    int8: bool = False
    head: str | None = None
    #: per-task adapter to act with (``"base"``: none; ``None``: the model's newest), see the adapters hook
    task_adapter: str | None = None
    device: str = "auto"
    max_steps: int | None = None
    #: sample the model's actions (seeded by ``seed``: the same seed gives the same rollouts) instead of greedy
    sample: bool = False
    #: sampling temperature (logits / T; Laplace scale × T for a continuous head); setting it implies ``sample``
    temperature: float | None = None

    @property
    def sampling(self) -> tuple[bool, float]:
        """``(do_sample, temperature)`` for the model's agent: greedy unless ``--sample`` or ``--temperature``."""
        temperature = 1.0 if self.temperature is None else self.temperature
        return self.sample or self.temperature is not None, temperature

    def __post_init__(self) -> None:
        for name in ("episodes", "vqa_episodes", "plan_episodes", "videos", "seed"):
            if getattr(self, name) < 0:
                raise EvalInputError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.episodes == 0 and not (self.vqa_episodes or self.plan_episodes):
            raise EvalInputError(
                "--episodes must be >= 1, got 0 (0 skips the rollouts only when --vqa-episodes or "
                "--plan-episodes asks for another block; otherwise nothing would be evaluated)"
            )
        if self.num_envs < 1:
            raise EvalInputError(f"--num-envs must be >= 1, got {self.num_envs}")
        if self.split not in SPLITS:
            raise EvalInputError(f"--split must be one of {SPLITS}, got {self.split!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise EvalInputError(f"--max-steps must be >= 1, got {self.max_steps}")
        if self.temperature is not None and not (math.isfinite(self.temperature) and self.temperature > 0):
            raise EvalInputError(f"--temperature must be a finite number > 0, got {self.temperature}")


def default_seed(split: str) -> int:
    """The first episode seed of ``split``."""
    return HELDOUT_SEED if split.startswith("heldout") else TRAIN_SEED


def parse_env_kwargs(items: Sequence[str]) -> dict[str, Any]:
    """``["key=value", ...]`` → kwargs; values are read as YAML (``64`` → int, ``[front, wrist]`` → list)."""
    kwargs: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise EvalInputError(f"bad --env-kwarg {item!r}: expected key=value with a Python identifier as key")
        try:
            kwargs[key] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as err:
            raise EvalInputError(
                f"bad --env-kwarg {item!r}: value is not valid YAML ({err.__class__.__name__})"
            ) from None
    return kwargs


def parse_baselines(text: str) -> tuple[str, ...]:
    """``"random,scripted"`` → ``("random", "scripted")`` (empty text: none); unknown names are an error."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise EvalInputError(f"unknown baseline(s) {unknown}; expected a comma-separated subset of {list(BASELINES)}")
    return names
