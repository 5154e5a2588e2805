"""Register a third-party env, wrapped in ``GymAdapter``, under its own gymnasium id: ``register_adapted``.

```python
# mymodule.py — imported by every command through the id's module prefix: ``mymodule:my/Grid-v0``
import minigrid  # noqa: F401  (registers MiniGrid-*)
from embodied.envs import register_adapted

register_adapted("my/Grid-v0", "MiniGrid-Empty-5x5-v0", success="reward>0", image_size=32)
```

``embodied collect|train|eval|doctor|envs`` then take ``mymodule:my/Grid-v0`` (gymnasium's ``module:Id`` form:
``gymnasium.make`` imports ``mymodule`` first). The prefix travels with the id string into every subprocess —
collection workers, ``AsyncVectorEnv`` workers of ``rl`` stages, all spawned — so registration happens there
too; an id registered only by code that ran in the parent would be unknown in them.

The id's entry point is ``make_adapted`` (a string, as for every ``embodied/`` id), with the base — a gymnasium id
or a factory returning an env — and the adapter options in the spec's kwargs. ``gymnasium.make(id, **kwargs)``
routes each keyword: ``GymAdapter`` options (``image_size``, ``camera``, ``success``, ``instruction_key``, ...,
and ``cameras=[name]`` as the model configs spell it) go to the adapter, everything else to the base env
(e.g. ``render_mode``, ``max_steps``), so ``data.env_kwargs`` / ``--env-kwarg`` reach either side. The base
env's constructor runs with file descriptor 1 silenced (pybullet-based suites print "argv[0]=..." from C there,
which would land in the middle of ``embodied doctor --json`` output).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from embodied.envs.tabletop.quiet import silence_stdout
from embodied.envs.wrappers.adapter import GymAdapter

__all__ = [
    "ADAPTED",
    "ENTRY_POINT",
    "AdaptedSpec",
    "adapted_ids",
    "adapter_options",
    "is_registered",
    "make_adapted",
    "register_adapted",
    "resolve_env_id",
]

ENTRY_POINT = "embodied.envs.adapted:make_adapted"
EnvFactory = Callable[..., gym.Env[Any, Any]]


@dataclass(frozen=True)
class AdaptedSpec:
    """One id added with ``register_adapted`` (for ``embodied envs``)."""

    env_id: str
    base: str
    adapter_kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


#: every id ``register_adapted`` added in this process, by id
ADAPTED: dict[str, AdaptedSpec] = {}


def adapter_options() -> frozenset[str]:
    """The keyword options of ``GymAdapter`` (everything but the wrapped env)."""
    return frozenset(inspect.signature(GymAdapter.__init__).parameters) - {"self", "env"}


def _split(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(adapter kwargs, base-env kwargs)``; ``cameras=[name]`` becomes the adapter's ``camera``, and
    ``cameras=[name, name-1, …, name-(K−1)]`` (a model reading an observation history) also ``history=K``."""
    names = adapter_options()
    adapter = {k: v for k, v in kwargs.items() if k in names}
    base = {k: v for k, v in kwargs.items() if k not in names and k != "cameras"}
    if "cameras" in kwargs:
        cameras = [str(c) for c in kwargs["cameras"]]
        history = [f"{cameras[0]}-{k}" for k in range(1, len(cameras))] if cameras else []
        if not cameras or cameras[1:] != history:
            raise ValueError(
                f"cameras={cameras}: an adapted env has one camera (e.g. cameras=[front]), or one with its "
                "previous frames (cameras=[front, front-1, front-2] for history=3)"
            )
        adapter["camera"] = cameras[0]
        if len(cameras) > 1:
            adapter["history"] = len(cameras)
    return adapter, base


def _base_name(base: str | EnvFactory) -> str:
    if isinstance(base, str):
        return base
    return f"{getattr(base, '__module__', '?')}:{getattr(base, '__qualname__', type(base).__name__)}"


def make_adapted(
    base: str | EnvFactory,
    base_kwargs: Mapping[str, Any] | None = None,
    adapter_kwargs: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> gym.Env[Any, Any]:
    """The entry point of every adapted id: make the base env, wrap it in ``GymAdapter``."""
    adapter_given, base_given = _split(kwargs)
    inner_kwargs = {**(base_kwargs or {}), **base_given}
    with silence_stdout():  # C-level chatter at construction (pybullet's "argv[0]=") would corrupt --json output
        inner = gym.make(base, **inner_kwargs) if isinstance(base, str) else base(**inner_kwargs)
    try:
        return GymAdapter(inner, **{**(adapter_kwargs or {}), **adapter_given})
    except Exception:
        inner.close()
        raise


def register_adapted(
    env_id: str,
    base: str | EnvFactory,
    *,
    base_kwargs: Mapping[str, Any] | None = None,
    max_episode_steps: int | None = None,
    description: str = "",
    **adapter_kwargs: Any,
) -> str:
    """Register ``env_id`` as ``GymAdapter(base env, **adapter_kwargs)``; returns ``env_id``.

    ``base``: a gymnasium id (its own ``TimeLimit`` applies) or a factory called with ``base_kwargs`` (give
    ``max_episode_steps`` then, or the episodes never truncate). Registering the same id again with the same
    arguments is a no-op (a module imported twice); with different ones it replaces the registration.
    ``TypeError`` for an option ``GymAdapter`` does not take, naming it and the options it does.
    """
    unknown = sorted(set(adapter_kwargs) - adapter_options())
    if unknown:
        options = sorted(adapter_options())
        raise TypeError(
            f"register_adapted({env_id!r}): unknown adapter option(s) {unknown}; GymAdapter takes {options} "
            "(base-env kwargs go in base_kwargs=)"
        )
    if ":" in env_id:
        raise ValueError(f"register_adapted: id {env_id!r} must not hold ':' (that is the module prefix of an id)")
    kwargs = {"base": base, "base_kwargs": dict(base_kwargs or {}), "adapter_kwargs": dict(adapter_kwargs)}
    current = gym.registry.get(env_id)
    if not (current is not None and current.entry_point == ENTRY_POINT and current.kwargs == kwargs):
        gym.registry.pop(env_id, None)  # replacing on purpose: gymnasium would warn "Overriding environment"
        gym.register(id=env_id, entry_point=ENTRY_POINT, kwargs=kwargs, max_episode_steps=max_episode_steps)
    ADAPTED[env_id] = AdaptedSpec(env_id, _base_name(base), dict(adapter_kwargs), description)
    return env_id


def resolve_env_id(env_id: str) -> str:
    """The registry id of ``env_id``, importing the module of a ``module:Id`` id first (as ``gymnasium.make``).

    ``ValueError`` naming the module when it cannot be imported (the import's own error message included).
    """
    if ":" not in env_id:
        return env_id
    module, _, bare = env_id.partition(":")
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ValueError(
            f"env id {env_id!r}: cannot import module {module!r} ({err}); the part before ':' must be an importable "
            "module that registers the id (e.g. with embodied.envs.register_adapted)"
        ) from None
    return bare


def is_registered(env_id: str) -> bool:
    """Whether ``env_id`` (maybe ``module:Id``) names a registered id, after importing its module."""
    return resolve_env_id(env_id) in gym.registry


def adapted_ids() -> list[str]:
    """Ids added with ``register_adapted`` in this process, sorted."""
    return sorted(ADAPTED)
