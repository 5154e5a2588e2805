"""Which part of a third-party observation space becomes ``images``, ``instruction`` and ``state`` (or a refusal).

``plan_observation(space, ...)`` maps every entry gymnasium can describe, or raises a ``ValueError`` that names
the entry and the ``GymAdapter`` option that fixes it:

* image: a ``[H, W, C]`` uint8 ``Box`` (C in 1, 3, 4) — the whole observation or a top-level ``Dict`` entry
  (``image_key=`` picks one; the first is taken otherwise);
* instruction: a text entry — ``spaces.Text`` or any custom ``Space`` whose samples are strings (MiniGrid's
  ``MissionSpace``) — named ``mission`` / ``instruction`` / ``language`` / ``task`` or by ``instruction_key=``;
* state: every other entry gymnasium can flatten (``Box``, ``Discrete`` one-hot, ``MultiBinary``, nested
  ``Dict`` / ``Tuple`` ...), concatenated in key order; ``ignore_keys=`` drops entries.

Refused, naming the key: a second text entry (or one not recognised by name), entries gymnasium cannot flatten
(``Sequence``, ``Graph``, custom spaces), and flattenable entries larger than ``MAX_STATE_DIM`` values (an image
that is not HWC uint8, e.g. channels-first or float pixels, would otherwise become a state of thousands).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

__all__ = [
    "INSTRUCTION_KEYS",
    "MAX_STATE_DIM",
    "ROOT",
    "ImageSource",
    "ObservationPlan",
    "flattenable",
    "is_image_space",
    "is_text_space",
    "plan_observation",
]

ImageSource = Literal["auto", "obs", "render", "none"]
INSTRUCTION_KEYS = ("mission", "instruction", "language", "task")
MAX_STATE_DIM = 4096
ROOT = ""  # "the whole observation" (no Dict key)
_FUNDAMENTAL = (spaces.Box, spaces.Discrete, spaces.MultiBinary, spaces.MultiDiscrete, spaces.Text)
_COMPOSITE = (spaces.Dict, spaces.Tuple, spaces.Sequence, spaces.Graph, spaces.OneOf)


def is_image_space(space: spaces.Space[Any]) -> bool:
    """A ``[H, W, C]`` uint8 ``Box`` with 1, 3 or 4 channels."""
    return (
        isinstance(space, spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and space.shape[2] in (1, 3, 4)
    )


def is_text_space(space: spaces.Space[Any]) -> bool:
    """``spaces.Text``, or a custom ``Space`` subclass whose samples are strings (e.g. MiniGrid's MissionSpace)."""
    if isinstance(space, spaces.Text):
        return True
    if isinstance(space, _FUNDAMENTAL + _COMPOSITE):
        return False
    try:
        return isinstance(space.sample(), str)
    except Exception:  # a custom space may not sample at all: then it is not text we can read
        return False


def flattenable(space: spaces.Space[Any]) -> bool:
    """``space.is_np_flattenable``, False where a custom space leaves it unimplemented."""
    try:
        return bool(space.is_np_flattenable)
    except NotImplementedError:
        return False


def _flat_size(space: spaces.Space[Any]) -> int:
    return int(spaces.flatdim(space))


@dataclass(frozen=True)
class ObservationPlan:
    """Where each ``embodied`` entry comes from: image key (``ROOT`` = whole obs), instruction key, state."""

    image_key: str | None
    instruction_key: str | None
    state_space: spaces.Space[Any] | None


def _find_image_key(inner: spaces.Space[Any], source: ImageSource, key: str | None) -> str | None:
    if source in ("render", "none"):
        return None
    if key is not None:
        if not (isinstance(inner, spaces.Dict) and key in inner.spaces and is_image_space(inner[key])):
            keys = list(inner.spaces) if isinstance(inner, spaces.Dict) else []
            raise ValueError(f"image_key={key!r} is not a [H, W, C] uint8 entry of the observation (keys: {keys})")
        return key
    if is_image_space(inner):
        return ROOT
    if isinstance(inner, spaces.Dict):
        found = next((name for name, sub in inner.spaces.items() if is_image_space(sub)), None)
        if found is not None:
            return found
    if source == "obs":
        raise ValueError(f"image_source='obs' but the observation space has no [H, W, C] uint8 image: {inner}")
    return None


def _find_instruction_key(inner: spaces.Space[Any], key: str | None) -> str | None:
    if not isinstance(inner, spaces.Dict):
        if key is not None:
            raise ValueError(f"instruction_key={key!r} given but the observation is not a Dict: {inner}")
        return ROOT if is_text_space(inner) else None
    if key is not None:
        if key not in inner.spaces:
            raise ValueError(f"instruction_key={key!r} is not in the observation keys {list(inner.spaces)}")
        if not is_text_space(inner[key]):
            raise ValueError(f"instruction_key={key!r} is {inner[key]}, not a text space (its samples are not str)")
        return key
    named = next((k for k in INSTRUCTION_KEYS if k in inner.spaces and is_text_space(inner[k])), None)
    texts = [k for k, sub in inner.spaces.items() if is_text_space(sub)]
    return named if named is not None or len(texts) != 1 else texts[0]  # a single text entry is unambiguous


def _check_state_entry(key: str, space: spaces.Space[Any], ignore: str) -> None:
    label = f"observation key {key!r}" if key else "the observation"
    if is_text_space(space):
        raise ValueError(f"{label} is text ({space}); set instruction_key={key!r} if it is the instruction{ignore}")
    if not flattenable(space):
        raise ValueError(f"{label} ({space}) cannot be flattened into the state vector{ignore}")
    if (size := _flat_size(space)) > MAX_STATE_DIM:
        raise ValueError(
            f"{label} ({space}) flattens to {size} state values (> {MAX_STATE_DIM}); if it is a camera, give it "
            f"as [H, W, C] uint8 and set image_key={key!r}{ignore}"
        )


def plan_observation(
    inner: spaces.Space[Any],
    image_source: ImageSource = "auto",
    image_key: str | None = None,
    instruction_key: str | None = None,
    ignore_keys: tuple[str, ...] = (),
) -> ObservationPlan:
    """Map ``inner`` (see the module docstring); ``ValueError`` naming the entry and the option otherwise."""
    if isinstance(inner, spaces.Dict):
        unknown = [k for k in ignore_keys if k not in inner.spaces]
        if unknown:
            raise ValueError(f"ignore_keys {unknown} are not observation keys {list(inner.spaces)}")
    image = _find_image_key(inner, image_source, image_key)
    instruction = _find_instruction_key(inner, instruction_key)
    if image == ROOT or instruction == ROOT:
        return ObservationPlan(image, instruction, None)
    if not isinstance(inner, spaces.Dict):
        _check_state_entry(ROOT, inner, "")
        return ObservationPlan(image, instruction, inner)
    rest: dict[str, spaces.Space[Any]] = {}
    for key, sub in inner.spaces.items():
        if key in ignore_keys or key == instruction or is_image_space(sub):
            continue  # image entries never become state, even when the camera is rendered
        _check_state_entry(key, sub, f", or drop it with ignore_keys=[{key!r}]")
        rest[key] = sub
    return ObservationPlan(image, instruction, spaces.Dict(rest) if rest else None)
