"""Build gymnasium vector envs (``SyncVectorEnv`` / ``AsyncVectorEnv``) from env ids with per-env seeds.

Seeding: sub-env ``i`` gets seed ``seed + i``. Gymnasium applies the same rule when ``envs.reset(seed=seed)``
is called with an int, so ``make_vector_env(id, n, seed=s)`` followed by ``envs.reset(seed=s)`` makes sub-env
``i`` replay exactly what ``gym.make(id).reset(seed=s + i)`` would; the helper additionally seeds each
sub-env's action/observation spaces and the batched action space so ``sample()`` is reproducible too.

Autoreset: ``autoreset_mode`` defaults to ``AutoresetMode.NEXT_STEP`` (gymnasium 1.x default). When sub-env
``i`` ends at step ``t`` (``terminated[i] or truncated[i]``), step ``t`` returns its final observation; the
*next* ``step`` ignores ``actions[i]``, resets it, and returns the reset observation with reward 0 and both
flags False. Rollout code must therefore skip the transition that follows a done flag (see
https://farama.org/Vector-Autoreset-Mode). ``SAME_STEP`` and ``DISABLED`` are passed through unchanged.

Async envs pass observations through pipes (``shared_memory=False``) by default: gymnasium 1.4's
``AsyncVectorEnv`` reads shared memory once at construction, which for ``Text`` entries (every ``embodied/``
env has ``instruction``) yields a frozen tuple of strings — every later observation would show the initial,
empty text. Pass ``shared_memory=True`` only for envs without ``Text`` observations.

Async envs work with ``context="spawn"``: each env function is a ``functools.partial`` of the module-level
``make_env`` with the id string, so a fresh interpreter only has to import ``embodied.envs.vector`` (which
registers every ``embodied/`` id) — nothing from the parent process is needed. Ids may also carry a module
prefix (``"embodied.envs:embodied/PickPlace-v0"``), which ``gymnasium.make`` imports first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Literal

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

VectorMode = Literal["sync", "async"]
EnvWrapper = Callable[[gym.Env[Any, Any]], gym.Env[Any, Any]]


def make_env(
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    seed: int | None = None,
    wrappers: Sequence[EnvWrapper] = (),
) -> gym.Env[Any, Any]:
    """Make one env by id, apply ``wrappers`` in order and seed its spaces (module level so it pickles)."""
    env: gym.Env[Any, Any] = gym.make(env_id, **(env_kwargs or {}))
    for wrapper in wrappers:
        env = wrapper(env)
    if seed is not None:
        env.action_space.seed(seed)
        env.observation_space.seed(seed)
    return env


def env_fns(
    env_id: str,
    num_envs: int,
    *,
    seed: int | None = None,
    wrappers: Sequence[EnvWrapper] = (),
    **env_kwargs: Any,
) -> list[Callable[[], gym.Env[Any, Any]]]:
    """One picklable constructor per sub-env; constructor ``i`` seeds its spaces with ``seed + i``."""
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    return [
        functools.partial(make_env, env_id, dict(env_kwargs), None if seed is None else seed + i, tuple(wrappers))
        for i in range(num_envs)
    ]


def make_vector_env(
    env_id: str,
    num_envs: int = 2,
    *,
    mode: VectorMode = "sync",
    seed: int | None = None,
    autoreset_mode: AutoresetMode = AutoresetMode.NEXT_STEP,
    context: str | None = None,
    shared_memory: bool = False,
    wrappers: Sequence[EnvWrapper] = (),
    **env_kwargs: Any,
) -> VectorEnv[Any, Any, Any]:
    """A ``SyncVectorEnv`` or ``AsyncVectorEnv`` of ``num_envs`` copies of ``env_id``.

    ``env_kwargs`` go to every ``gym.make`` call (e.g. ``control="ee_delta", image_size=64``); ``context`` is
    the multiprocessing start method for ``mode="async"`` (``"spawn"`` is the safe choice with pybullet).
    """
    fns = env_fns(env_id, num_envs, seed=seed, wrappers=wrappers, **env_kwargs)
    envs: VectorEnv[Any, Any, Any]
    if mode == "sync":
        if context is not None or shared_memory:
            raise ValueError("context and shared_memory only apply to mode='async'")
        envs = SyncVectorEnv(fns, autoreset_mode=autoreset_mode)
    elif mode == "async":
        envs = AsyncVectorEnv(fns, context=context, shared_memory=shared_memory, autoreset_mode=autoreset_mode)
    else:
        raise ValueError(f"unknown vector mode {mode!r}; expected 'sync' or 'async'")
    if seed is not None:
        envs.action_space.seed(seed)
    return envs
