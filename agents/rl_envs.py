"""Envs for ``rl`` stages (composition: the core receives them): ``make_rl_envs(spec, num_envs, model, head)``.

Returns a gymnasium vector env with autoreset disabled (the collector resets finished sub-envs itself, with
explicit seeds) and the ``ActionDecoder`` that turns the acting head's outputs into env actions:

- ``pointer`` → ``primitive`` actions through each sub-env's cameras (``info["camera_params"]`` of its reset);
- ``continuous`` / ``action-tokens`` → the first action in [-1, 1], un-normalised with the model's bounds;
- ``text`` → the decoded strings (the env's action space must be ``Text``, e.g. ``embodied/TabletopVQA-v0``).

``rl.adapter`` wraps a third-party env in ``GymAdapter`` (e.g. ``{discrete_mode: bins}`` for CartPole with an
action-tokens head). Mismatches between head and action space are one ``TrainingError`` naming both.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from gymnasium import spaces
from gymnasium.error import Error as GymError
from gymnasium.vector import AutoresetMode

from embodied.agents.pointing import camera_name, per_env_camera_params, pixels_to_primitive
from embodied.envs.vector import make_vector_env
from embodied.envs.wrappers.adapter import GymAdapter
from embodied.training.errors import TrainingError
from embodied.training.rl.settings import RLSpec

__all__ = ["ChunkDecoder", "PointerDecoder", "TextDecoder", "make_rl_envs"]


class ChunkDecoder:
    """``outputs["actions"] [B, A]`` in [-1, 1] → env units (the model's stored action bounds)."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def reset(self, info: dict[str, Any], rows: Sequence[int]) -> None:
        return None

    def __call__(self, outputs: dict[str, Any], rows: Sequence[int]) -> list[Any]:
        # env units [B, A] float32, or int64 indices [B] for a discrete model (spec.discrete_actions)
        return list(self.processor.env_actions(outputs["actions"]))


class PointerDecoder:
    """Pick/place pixels → ``primitive`` actions with each sub-env's cameras (kept from its reset ``info``)."""

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs
        self.cameras: dict[int, Any] = {}

    def reset(self, info: dict[str, Any], rows: Sequence[int]) -> None:
        found = per_env_camera_params(info, self.num_envs)
        missing = [i for i in rows if i not in found]
        if missing:
            raise TrainingError(
                f"the pointer head needs info['camera_params'] from reset, which sub-envs {missing} did not give: "
                "use an embodied/ tabletop env with control='primitive'"
            )
        self.cameras.update(found)

    def __call__(self, outputs: dict[str, Any], rows: Sequence[int]) -> list[Any]:
        cameras = [[camera_name(c) for c in row] for row in outputs["cameras"]]
        return list(pixels_to_primitive(outputs["pixels"], cameras, [self.cameras[i] for i in rows]))


class TextDecoder:
    """The decoded strings, one per sub-env (a ``Text`` action space)."""

    def reset(self, info: dict[str, Any], rows: Sequence[int]) -> None:
        return None

    def __call__(self, outputs: dict[str, Any], rows: Sequence[int]) -> list[Any]:
        return [str(t) for t in outputs["texts"]]


def _check_action_space(space: spaces.Space[Any], kind: str, head: str, model: Any, env_id: str) -> None:
    where = f"rl.env {env_id!r} has action space {space}"
    if kind == "text":
        if not isinstance(space, spaces.Text):
            raise TrainingError(f"{where}; the text head {head!r} produces strings: it needs a Text action space")
        return
    if not isinstance(space, spaces.Box) or len(space.shape) != 1:
        hint = " (wrap it: rl.adapter: {discrete_mode: bins})" if isinstance(space, spaces.Discrete) else ""
        raise TrainingError(f"{where}; the {kind} head {head!r} produces a flat Box action{hint}")
    expected = 7 if kind == "pointer" else int(model.config.model_spec.action_dim)
    if space.shape[0] != expected:
        what = "7-d primitive actions (control='primitive')" if kind == "pointer" else f"model.action_dim={expected}"
        raise TrainingError(f"{where}; the {kind} head {head!r} produces {what}")


def make_rl_envs(spec: RLSpec, num_envs: int, model: Any, head: str) -> tuple[Any, Any]:
    """The vector env (autoreset disabled) and the decoder for ``model``'s head ``head``."""
    import embodied.envs  # noqa: F401  (registers the embodied/ ids)

    wrappers = (functools.partial(GymAdapter, **spec.adapter),) if spec.adapter is not None else ()
    try:
        envs = make_vector_env(
            spec.env,
            num_envs,
            mode=spec.vector,
            seed=spec.seed,
            autoreset_mode=AutoresetMode.DISABLED,
            context="spawn" if spec.vector == "async" else None,
            wrappers=wrappers,
            **spec.env_kwargs,
        )
    except (GymError, ModuleNotFoundError, TypeError, ValueError) as err:
        raise TrainingError(
            f"rl.env {spec.env!r} with rl.env_kwargs {spec.env_kwargs} could not be made: {err}"
        ) from None
    kind = str(model.config.model_spec.heads[head]["kind"])
    try:
        _check_action_space(envs.single_action_space, kind, head, model, spec.env)
    except TrainingError:
        envs.close()
        raise
    if kind == "pointer":
        return envs, PointerDecoder(num_envs)
    if kind == "text":
        return envs, TextDecoder()
    return envs, ChunkDecoder(model.processor)
