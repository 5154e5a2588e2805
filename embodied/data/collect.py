"""Record episodes by running a policy (e.g. a scripted expert) in a gymnasium ``SyncVectorEnv``.

Frames are the observations seen before each action. When sub-env ``i`` finishes, ``collect`` resets it itself
through ``envs.reset(seed=..., options={"reset_mask": ...})`` (gymnasium ≥ 1.1): this gives every episode the
seed asked for, and it clears gymnasium's pending NEXT_STEP autoreset, so the "reset step" that would otherwise
follow a done flag (action ignored, reward 0) never happens and can never be recorded as a frame. Sub-envs
with no episode left are reset too and keep stepping until the last episode ends; their frames are dropped.

Annotators (``plan``, ``vqa``, ``captions``) are called with the sub-env right after its reset, so they read
the initial scene, e.g. ``plan=lambda env: env.unwrapped.plan_text()``. The per-frame ``points`` annotator is
called with the sub-env and the action about to be taken (before stepping) and returns that action's pointing
targets ``[K, 2]`` in camera ``point_camera``.

The policy is a plain function ``policy(obs, env)`` or an ``EpisodicPolicy``, which is told when each sub-env's
episode starts (``start(i, seed)``, right after its reset) and gets the step's ``info`` (``act(i, obs, info, env)``).
On a ``Discrete(n, start)`` action space the episodes record the index ``a - start`` with their
``action_space`` (``embodied.data.action_space``); the env is stepped with the action itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import SyncVectorEnv, VectorEnv
from tqdm.auto import tqdm

from embodied.data.action_space import DiscreteActions
from embodied.data.episode import Episode, VQAPair

Policy = Callable[[dict[str, Any], gym.Env[Any, Any]], Any]
VQAItems = Sequence[VQAPair | dict[str, Any] | Sequence[Any]]


class EpisodicPolicy(ABC):
    """A policy with per-episode state on each sub-env ``i`` of the vector env ``collect`` runs."""

    @abstractmethod
    def start(self, index: int, seed: int | None) -> None:
        """Sub-env ``index`` was just reset with ``seed``: a new episode starts there."""

    @abstractmethod
    def act(self, index: int, obs: dict[str, Any], info: dict[str, Any], env: gym.Env[Any, Any]) -> Any:
        """The action for sub-env ``index`` (in its action space) from its observation and last ``info``."""


class _Stateless(EpisodicPolicy):
    """A plain ``policy(obs, env)`` function as an ``EpisodicPolicy``."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def start(self, index: int, seed: int | None) -> None:
        return None

    def act(self, index: int, obs: dict[str, Any], info: dict[str, Any], env: gym.Env[Any, Any]) -> Any:
        return self.policy(obs, env)


@dataclass
class Annotators:
    """Episode-level extras read from the simulator right after each reset, and success from the last info."""

    plan: Callable[[gym.Env[Any, Any]], str | None] | None = None
    vqa: Callable[[gym.Env[Any, Any]], VQAItems] | None = None
    captions: Callable[[gym.Env[Any, Any]], Sequence[str]] | None = None
    points: Callable[[gym.Env[Any, Any], np.ndarray], np.ndarray] | None = None
    point_camera: str = ""
    success: Callable[[dict[str, Any]], bool] = field(default=lambda info: bool(info.get("success", False)))


@dataclass
class _Recording:
    """The growing buffers of one episode on one sub-env."""

    number: int
    seed: int | None
    task: str
    env_id: str
    extras: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    dones: list[bool] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)

    def finish(self, success: bool, point_camera: str = "", space: DiscreteActions | None = None) -> Episode:
        first = self.frames[0]
        points = np.stack(self.points) if self.points else None
        actions = np.stack([np.atleast_1d(a) for a in self.actions])  # [T, A]; [T, 1] for a Discrete space
        return Episode(
            images={cam: np.stack([f["images"][cam] for f in self.frames]) for cam in first["images"]},
            state=np.stack([f["state"] for f in self.frames]),
            actions=actions - space.start if space is not None else actions,
            action_space=space,
            task=self.task,
            rewards=np.asarray(self.rewards, np.float32),
            dones=np.asarray(self.dones, np.bool_),
            depth={cam: np.stack([f["depth"][cam] for f in self.frames]) for cam in first["depth"]},
            env_id=self.env_id,
            seed=self.seed,
            success=success,
            points=points,
            point_camera=point_camera if points is not None or _has_vqa_pixels(self.extras) else "",
            **self.extras,
        )


def collect(
    make_env: Callable[[], gym.Env[Any, Any]] | VectorEnv[Any, Any, Any],
    policy: Policy | EpisodicPolicy,
    episodes: int,
    seeds: int | Sequence[int] | None = None,
    *,
    num_envs: int = 2,
    annotators: Annotators | None = None,
    task_key: str = "instruction",
    progress: bool = True,
    on_episode: Callable[[], None] | None = None,
) -> list[Episode]:
    """Run ``policy(obs, env)`` (or an ``EpisodicPolicy``) for ``episodes`` episodes; return them in seed order.

    ``make_env`` is an env constructor (``num_envs`` copies run in a ``SyncVectorEnv`` that is closed at the end)
    or an existing ``SyncVectorEnv`` (left open). ``policy`` gets one sub-env's observation and that sub-env,
    e.g. ``lambda obs, env: env.unwrapped.expert_action()``. ``seeds``: an int ``s`` seeds episode ``k`` with
    ``s + k``; a sequence gives one seed per episode; ``None`` leaves episodes unseeded. ``on_episode`` is called
    once per finished episode (e.g. a parent process's progress bar; ``progress`` is this process's own).
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    seed_list = _seed_list(seeds, episodes)
    annotators = annotators or Annotators()
    envs, owned = _vector_env(make_env, num_envs)
    try:
        with tqdm(total=episodes, desc="collect", unit="episode", disable=not progress) as bar:
            episodic = policy if isinstance(policy, EpisodicPolicy) else _Stateless(policy)

            def tick() -> None:
                bar.update(1)
                if on_episode is not None:
                    on_episode()

            done = _run(envs, episodic, seed_list, annotators, task_key, tick)
    finally:
        if owned:
            envs.close()
    return [done[k] for k in range(episodes)]


def _discrete(envs: SyncVectorEnv) -> DiscreteActions | None:
    """The sub-envs' ``Discrete`` action space as ``DiscreteActions`` (actions recorded as indices), else None."""
    space = envs.single_action_space
    return DiscreteActions(int(space.n), int(space.start)) if isinstance(space, spaces.Discrete) else None


def _run(
    envs: SyncVectorEnv,
    policy: EpisodicPolicy,
    seed_list: list[int | None],
    annotators: Annotators,
    task_key: str,
    tick: Callable[[], None],
) -> dict[int, Episode]:
    """The stepping loop: record active sub-envs, finish and re-seed the ones that end."""
    n, total, space = envs.num_envs, len(seed_list), _discrete(envs)
    slots: list[_Recording | None] = [None] * n
    finished: dict[int, Episode] = {}
    first = list(range(min(n, total)))
    obs, reset_infos = envs.reset(seed=[seed_list[i] if i < total else None for i in range(n)])
    last_info = [_take(reset_infos, i) for i in range(n)]
    for i in range(n):
        policy.start(i, seed_list[i] if i < total else None)
    for i in first:
        slots[i] = _start(i, seed_list[i], envs.envs[i], _take(obs, i), annotators, task_key)
    next_number = len(first)
    while any(slot is not None for slot in slots):
        per_env = [_take(obs, i) for i in range(n)]
        actions = [np.asarray(policy.act(i, per_env[i], last_info[i], envs.envs[i])) for i in range(n)]
        points = _points(envs, actions, annotators)
        obs, rewards, terminated, truncated, infos = envs.step(np.stack(actions))
        last_info = [_take(infos, i) for i in range(n)]
        reset_mask = np.zeros(n, np.bool_)
        reset_seeds: list[int | None] = [None] * n
        for i, slot in enumerate(slots):
            end = bool(terminated[i] or truncated[i])
            if slot is not None:
                slot.frames.append(_frame(per_env[i]))
                slot.actions.append(actions[i])
                slot.rewards.append(float(rewards[i]))
                slot.dones.append(end)
                if (point := points[i]) is not None:
                    slot.points.append(point)
            if not end:
                continue
            if slot is not None:
                success = annotators.success(_take(infos, i))
                finished[slot.number] = slot.finish(success, annotators.point_camera, space)
                tick()
            reset_mask[i] = True  # idle sub-envs are reset too: stepping a finished env is never allowed
            slots[i] = None
            if next_number < total:
                slots[i] = _Recording(next_number, seed_list[next_number], "", "", {})  # filled after the reset
                reset_seeds[i] = seed_list[next_number]
                next_number += 1
        if reset_mask.any():
            obs, reset_infos = envs.reset(seed=reset_seeds, options={"reset_mask": reset_mask})
            for i in map(int, np.flatnonzero(reset_mask)):
                last_info[i] = _take(reset_infos, i)
                policy.start(i, reset_seeds[i])
                slot = slots[i]
                if slot is not None:
                    slots[i] = _start(slot.number, slot.seed, envs.envs[i], _take(obs, i), annotators, task_key)
    return finished


def _points(envs: SyncVectorEnv, actions: list[np.ndarray], annotators: Annotators) -> list[np.ndarray | None]:
    """Each sub-env's pointing targets for the action it is about to take (read before the step moves things)."""
    if annotators.points is None:
        return [None] * len(actions)
    return [np.asarray(annotators.points(env, a), np.float32) for env, a in zip(envs.envs, actions, strict=True)]


def _start(
    number: int, seed: int | None, env: gym.Env[Any, Any], obs: dict[str, Any], annotators: Annotators, task_key: str
) -> _Recording:
    """A new recording for a sub-env that was just reset: task text, env id and the initial-scene extras."""
    if task_key not in obs:
        raise ValueError(f"observation has no {task_key!r} entry for the task text; keys are {sorted(obs)}")
    extras: dict[str, Any] = {}
    if annotators.plan is not None:
        extras["plan"] = annotators.plan(env)
    if annotators.vqa is not None:
        extras["vqa"] = [VQAPair.coerce(item) for item in annotators.vqa(env)]
    if annotators.captions is not None:
        extras["captions"] = list(annotators.captions(env))
    env_id = env.spec.id if env.spec is not None else ""
    return _Recording(number, seed, str(obs[task_key]), env_id, extras)


def _frame(obs: dict[str, Any]) -> dict[str, Any]:
    """The stored part of one observation (copied: vector envs may reuse their buffers)."""
    return {
        "images": {cam: np.array(img) for cam, img in obs.get("images", {}).items()},
        "state": np.array(obs.get("state", np.zeros(0, np.float32)), np.float32),
        "depth": {cam: np.array(d) for cam, d in obs.get("depth", {}).items()},
    }


def _take(batch: Any, i: int) -> Any:
    """Sub-env ``i``'s entry of a batched observation or info (dicts recurse; ``_key`` masks are dropped)."""
    if isinstance(batch, dict):
        return {k: _take(v, i) for k, v in batch.items() if not (k.startswith("_") and k[1:] in batch)}
    return batch[i]


def _seed_list(seeds: int | Sequence[int] | None, episodes: int) -> list[int | None]:
    if seeds is None:
        return [None] * episodes
    if isinstance(seeds, int | np.integer):
        return [int(seeds) + k for k in range(episodes)]
    if len(seeds) < episodes:
        raise ValueError(f"{len(seeds)} seeds given for {episodes} episodes; give one per episode or an int")
    return [int(s) for s in seeds[:episodes]]


def _vector_env(
    make_env: Callable[[], gym.Env[Any, Any]] | VectorEnv[Any, Any, Any], num_envs: int
) -> tuple[SyncVectorEnv, bool]:
    """The vector env to run and whether ``collect`` owns (and must close) it."""
    if isinstance(make_env, SyncVectorEnv):
        return make_env, False
    if isinstance(make_env, VectorEnv):
        raise TypeError(
            f"collect needs in-process sub-envs because the policy and annotators read each one; got "
            f"{type(make_env).__name__}, pass a SyncVectorEnv or an env constructor"
        )
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    return SyncVectorEnv([make_env] * num_envs), True


def _has_vqa_pixels(extras: dict[str, Any]) -> bool:
    """Whether an episode's VQA pairs carry referent pixels (then ``point_camera`` names their camera)."""
    return any(VQAPair.coerce(p).points is not None for p in extras.get("vqa", []))
