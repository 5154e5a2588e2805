"""Collect demonstrations from any policy: ``embodied collect --policy module:callable`` (or ``data.policy``).

``module:callable`` names a factory (a class, or a function of no arguments) returning a policy object with

- ``reset(seed)``: a new episode starts on this policy's sub-env, with that seed (``None`` when unseeded);
- ``act(obs, info) -> action``: ``obs`` is the env's OWN observation (what the wrapped env returned, before the
  ``GymAdapter``; the adapted observation for envs without one), ``info`` that step's (or the reset's) info; the
  action is in the env's OWN action space.

Each sub-env gets its own policy object, so a stateful bot keeps its memory per episode. The framework checks
the action against the env's space, encodes it into the adapted space with the adapter's ``action_mapping``
(``Box`` → [-1, 1], ``Discrete`` kept as an index, or a bin centre under ``discrete_mode="bins"``) and checks
the result too. A name that cannot be imported, a factory that is not callable or returns no ``reset`` / ``act``,
and an action outside the env's space are ``PolicyError`` s: one line naming the policy and what was wrong. Spawned
collection workers (``data.workers > 1``) import the policy by the same path.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from embodied.data.collect import EpisodicPolicy
from embodied.errors import UserError

__all__ = ["PolicyError", "UserPolicies", "load_policy_factory"]


class PolicyError(ValueError, UserError):
    """A user policy cannot be loaded or acts outside its env's action space; the message names it."""


def load_policy_factory(spec: str, where: str = "--policy") -> Callable[[], Any]:
    """The callable that ``module:callable`` names, after checking it builds an object with ``reset`` and ``act``."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise PolicyError(f"{where} {spec!r}: expected module:callable, e.g. mybots:GridBot")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise PolicyError(f"{where} {spec}: cannot import module {module_name!r} ({err})") from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise PolicyError(f"{where} {spec}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        kind = type(target).__name__
        raise PolicyError(f"{where} {spec}: {attribute!r} is a {kind}, not callable (a policy factory)")
    return target  # type: ignore[no-any-return]


def _build(factory: Callable[[], Any], spec: str, where: str) -> Any:
    policy = factory()
    missing = [name for name in ("reset", "act") if not callable(getattr(policy, name, None))]
    if missing:
        raise PolicyError(
            f"{where} {spec}: the factory returned a {type(policy).__name__} without {' and '.join(missing)}; a policy "
            "needs reset(seed) and act(obs, info)"
        )
    return policy


class UserPolicies(EpisodicPolicy):
    """One user policy object per sub-env, its actions encoded into the adapted action space."""

    def __init__(self, spec: str, where: str = "--policy") -> None:
        self.spec, self.where = spec, where
        self.factory = load_policy_factory(spec, where)
        self.policies: dict[int, Any] = {}

    def start(self, index: int, seed: int | None) -> None:
        if index not in self.policies:
            self.policies[index] = _build(self.factory, self.spec, self.where)
        self.policies[index].reset(seed)

    def act(self, index: int, obs: dict[str, Any], info: dict[str, Any], env: gym.Env[Any, Any]) -> Any:
        own_obs = _wrapper_attr(env, "env_observation", obs)
        action = self.policies[index].act(own_obs, info)
        mapping = _wrapper_attr(env, "action_mapping", None)
        own_space = mapping.env_space if mapping is not None else env.action_space
        self._check(action, own_space, "the env's action space")
        encoded = mapping.encode(action) if mapping is not None else action
        self._check(encoded, env.action_space, "the adapted action space (after action_mapping.encode)")
        return encoded

    def _check(self, action: Any, space: gym.Space[Any], what: str) -> None:
        value = np.asarray(action)
        try:
            if isinstance(space, gym.spaces.Box):  # floats of any width and shape (A,) or (1, A) are fine
                value = value.astype(space.dtype).reshape(space.shape)
            inside = bool(space.contains(value))
        except (TypeError, ValueError):
            inside = False
        if not inside:
            raise PolicyError(f"{self.where} {self.spec}: action {action!r} is not in {what} {space}")


def _wrapper_attr(env: gym.Env[Any, Any], name: str, default: Any) -> Any:
    """``env.get_wrapper_attr(name)`` through the wrapper stack, or ``default`` where no wrapper has it."""
    try:
        return env.get_wrapper_attr(name)
    except AttributeError:
        return default
