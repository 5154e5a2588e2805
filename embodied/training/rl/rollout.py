"""On-policy experience from a gymnasium vector env, with batched model calls and exactly reproducible episodes.

The core never makes envs: the composition layer hands the collector a vector env built with
``autoreset_mode=DISABLED`` and an ``ActionDecoder`` (model outputs → env actions, e.g. pointer pixels →
primitive actions through the cameras of each sub-env's reset ``info``).

Episodes and seeds. A finished sub-env is reset at once, with an explicit seed: episode ``k`` of this process
gets ``seed + k · P + p`` (``P`` processes, this one ``p``), so every episode is a function of its seed and of
the actions taken in it. The collector keeps, per sub-env, the running episode's seed and actions: a checkpoint
stores them (``state_dict``) and a resume replays them (``load_state_dict``), so a run killed mid-episode goes on
from exactly the same env states — for any env that is deterministic given its seed (every ``embodied/`` env).

Two ways to collect:

- ``steps(T)`` (PPO): ``T`` steps of every sub-env; episodes carry over from one iteration to the next. At the
  end ``last_values = V(s_T)`` bootstraps the unfinished episodes; a truncated step records ``V(final obs)``.
- ``groups(G, count)`` (GRPO, RLOO): ``count`` groups of ``G`` episodes, the ``G`` sub-envs of a group reset
  from the same seed, run to their ends (``rollout_steps`` at most, then truncated). Steps after a sub-env's end
  are padding (``valid`` False).

What a step records: the single-env observation and its prompt (the update re-processes them with the same
processor: the update sees exactly the inputs the rollout saw), the sampled action (as the head stores it), its
log-prob, ``V(s)``, reward, ``terminated`` and ``truncated`` separately, the episode and group it belongs to.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from embodied.data.augment import perturb_words
from embodied.data.observations import prompts_for, unbatch
from embodied.training.errors import TrainingError
from embodied.training.rl.policy import ActorCritic
from embodied.training.rl.settings import RLSpec

__all__ = ["ActionDecoder", "Collector", "EpisodeStats", "Rollout"]

logger = logging.getLogger("embodied")


class ActionDecoder(Protocol):
    """Model outputs → env actions; made by the composition layer with the env."""

    def reset(self, info: dict[str, Any], rows: Sequence[int]) -> None:
        """Sub-envs ``rows`` were reset with this (batched) ``info``: keep what decoding needs (cameras ...)."""

    def __call__(self, outputs: dict[str, Any], rows: Sequence[int]) -> list[Any]:
        """One env action per row of ``outputs`` (``Acted.outputs``), for sub-envs ``rows``."""


@dataclass
class Rollout:
    """``[T, N]`` tensors (time × sub-env) and ``T·N`` per-step lists in time-major order (index ``t·N + i``)."""

    observations: list[dict[str, Any]]
    prompts: list[str]
    actions: list[torch.Tensor]
    log_probs: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_values: torch.Tensor
    valid: torch.Tensor
    episode: torch.Tensor
    group: torch.Tensor
    last_values: torch.Tensor
    #: set by the algorithm before the update
    advantages: torch.Tensor | None = None
    returns: torch.Tensor | None = None
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.rewards.shape[0]), int(self.rewards.shape[1])

    @staticmethod
    def concat(parts: Sequence[Rollout]) -> Rollout:
        """Rollouts of the same ``N`` one after another in time (group ids kept distinct)."""
        if len(parts) == 1:
            return parts[0]
        offset, groups = 0, []
        for part in parts:
            groups.append(torch.where(part.group >= 0, part.group + offset, part.group))
            offset += int(part.group.max()) + 1
        columns: dict[str, Any] = {
            name: torch.cat([getattr(p, name) for p in parts])
            for name in (
                "log_probs",
                "values",
                "rewards",
                "terminated",
                "truncated",
                "final_values",
                "valid",
                "episode",
            )
        }
        return Rollout(
            observations=[o for p in parts for o in p.observations],
            prompts=[q for p in parts for q in p.prompts],
            actions=[a for p in parts for a in p.actions],
            **columns,
            group=torch.cat(groups),
            last_values=parts[-1].last_values,
        )


@dataclass
class EpisodeStats:
    """Finished episodes' returns, lengths and successes (success only where the env reports it)."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)

    def summary(self, prefix: str = "") -> dict[str, float]:
        out: dict[str, float] = {f"{prefix}episodes": float(len(self.returns))}
        if self.returns:
            out[f"{prefix}episodic_return"] = float(np.mean(self.returns))
            out[f"{prefix}episode_length"] = float(np.mean(self.lengths))
        if self.successes:
            out[f"{prefix}success_rate"] = float(np.mean(self.successes))
        return out


def _jsonable(action: Any) -> Any:
    return action if isinstance(action, str) else np.asarray(action).tolist()


def _info_value(info: dict[str, Any], key: str, i: int) -> Any | None:
    """Sub-env ``i``'s entry of a vector env's batched ``info`` (``None`` where the mask says it is absent)."""
    if key not in info:
        return None
    mask = info.get(f"_{key}")
    if mask is not None and not bool(np.asarray(mask)[i]):
        return None
    return info[key][i]


class Collector:
    """Rolls ``policy`` out in ``envs`` (see the module docstring); one per process and stage."""

    def __init__(
        self,
        envs: Any,
        decoder: ActionDecoder,
        policy: ActorCritic,
        spec: RLSpec,
        prompt: str,
        process: tuple[int, int] = (0, 1),
        value_fn: Callable[[torch.Tensor], torch.Tensor | None] | None = None,
    ) -> None:
        self.envs, self.decoder, self.policy, self.spec, self.prompt = envs, decoder, policy, spec, prompt
        self.num_envs = int(envs.num_envs)
        self.process_index, self.num_processes = process
        self.generator = torch.Generator()
        self.generator.manual_seed(spec.seed * 7919 + self.process_index)
        self.episodes_started = 0
        self.seeds = [0] * self.num_envs
        self.logs: list[list[Any]] = [[] for _ in range(self.num_envs)]
        self.running = np.zeros(self.num_envs)  # return so far of each running episode
        self.obs: dict[str, Any] | None = None
        self.env_steps = 0
        self.finished = EpisodeStats()
        self.processor = policy.policy.processor  # one instance: it caches the prompts' token ids

    # ------------------------------------------------------------------------------------------ seeds, resets
    def next_seed(self) -> int:
        seed = self.spec.seed + self.episodes_started * self.num_processes + self.process_index
        self.episodes_started += 1
        return seed

    def _reset_envs(self, rows: Sequence[int], seeds: Sequence[int]) -> None:
        """Reset sub-envs ``rows`` with ``seeds`` (the others keep their state); updates ``self.obs``."""
        full: list[int | None] = [None] * self.num_envs
        mask = np.zeros(self.num_envs, dtype=bool)
        for i, s in zip(rows, seeds, strict=True):
            full[i], mask[i] = int(s), True
        everyone = bool(mask.all())
        obs, info = self.envs.reset(seed=full, options=None if everyone else {"reset_mask": mask})
        self.obs = obs
        self.decoder.reset(info, list(rows))

    def _begin(self, rows: Sequence[int], seeds: Sequence[int]) -> None:
        """Start new episodes in sub-envs ``rows`` (bookkeeping for replay and statistics, then the reset)."""
        for i, s in zip(rows, seeds, strict=True):
            self.seeds[i], self.logs[i], self.running[i] = int(s), [], 0.0
        self._reset_envs(rows, seeds)

    def start(self) -> None:
        """Reset every sub-env with fresh seeds (the first iteration of a stage)."""
        if self.obs is None:
            seeds = [self.next_seed() for _ in range(self.num_envs)]
            logger.info("rollouts of process %d/%d start from seeds %s", self.process_index, self.num_processes, seeds)
            self._begin(range(self.num_envs), seeds)

    # ------------------------------------------------------------------------------------------ one step
    def _decide(
        self, obs: dict[str, Any], greedy: bool
    ) -> tuple[list[dict[str, Any]], list[str], Any, torch.Tensor | None]:
        observations = unbatch(obs, range(self.num_envs), copy=True)
        prompts = prompts_for(observations, self.prompt)
        if self.spec.prompt_noise > 0 and not greedy:
            prompts = self._perturb(prompts)
        batch = self.batch(observations, prompts)
        acted, values = self.policy.act(batch, self.generator, greedy)
        return observations, prompts, acted, values

    def _perturb(self, prompts: list[str]) -> list[str]:
        """``rl.prompt_noise``: the instruct stage's word noise (``embodied.data.augment``) on sampled rollouts'
        prompts, drawn from the episode's seed and step (a group's episodes share their prompt; a resume draws the
        same), with replacement words from this step's prompts."""
        pool = sorted({w for q in prompts for w in q.split()})
        return [
            " ".join(
                perturb_words(
                    q.split(), self.spec.prompt_noise, pool, np.random.default_rng((self.seeds[i], len(self.logs[i])))
                )
            )
            for i, q in enumerate(prompts)
        ]

    def batch(self, observations: Sequence[dict[str, Any]], prompts: Sequence[str]) -> dict[str, Any]:
        """The processed model batch, on the policy's device (the update calls this too)."""
        processed = self.processor(list(observations), list(prompts), kinds=self.prompt)
        device = next(self.policy.parameters()).device
        return {k: _to(v, device) for k, v in processed.items()}

    def _env_step(self, actions: list[Any]) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        batched: Any = tuple(actions) if isinstance(actions[0], str) else np.stack(actions).astype(np.float32)
        obs, reward, terminated, truncated, info = self.envs.step(batched)
        self.env_steps += self.num_envs
        return obs, np.asarray(reward, np.float64), np.asarray(terminated, bool), np.asarray(truncated, bool), info

    def _reward(self, reward: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        if self.spec.reward == "env":
            return reward * self.spec.reward_scale
        key = self.spec.success_key
        if key not in info:
            keys = sorted(k for k in info if not k.startswith("_"))
            raise TrainingError(
                f"rl.reward is 'success' but the env's step info has no {key!r} (it has {keys}); "
                "set rl.success_key to the key that marks success, or rl.reward: env"
            )
        return np.array([float(bool(_info_value(info, key, i))) for i in range(self.num_envs)]) * self.spec.reward_scale

    def _success(self, info: dict[str, Any], i: int) -> float | None:
        value = _info_value(info, self.spec.success_key, i)
        return None if value is None else float(bool(value))

    def _values(self, obs: dict[str, Any], rows: Sequence[int]) -> torch.Tensor:
        """``V(s)`` of sub-envs ``rows`` of a batched observation (zeros without a critic)."""
        if self.policy.value_head is None or not rows:
            return torch.zeros(len(rows))
        observations = unbatch(obs, rows, copy=True)
        _, values = self.policy.act(self.batch(observations, prompts_for(observations, self.prompt)), None, True)
        assert values is not None
        return values.float().cpu()

    def _record_step(
        self, actions: list[Any], reward: np.ndarray, done: np.ndarray, info: dict[str, Any], rows: Sequence[int]
    ) -> None:
        """Action logs, running returns and finished episodes' statistics for sub-envs ``rows``."""
        for i in rows:
            self.logs[i].append(_jsonable(actions[i]))
            self.running[i] += reward[i]
            if done[i]:
                self.finished.returns.append(float(self.running[i]))
                self.finished.lengths.append(len(self.logs[i]))
                success = self._success(info, i)
                if success is not None:
                    self.finished.successes.append(success)

    # ------------------------------------------------------------------------------------------ collecting
    def steps(self, num_steps: int) -> Rollout:
        """``num_steps`` steps of every sub-env, episodes carried over (PPO's rollout)."""
        self.start()
        n, rec = self.num_envs, _Recorder(self.num_envs)
        for _ in range(num_steps):
            assert self.obs is not None
            observations, prompts, acted, values = self._decide(self.obs, greedy=False)
            actions = self.decoder(acted.outputs, range(n))
            obs, raw, terminated, truncated, info = self._env_step(actions)
            reward = self._reward(raw, info)
            done = terminated | truncated
            cut = [i for i in range(n) if truncated[i] and not terminated[i]]
            final = torch.zeros(n)
            final[cut] = self._values(obs, cut)
            self._record_step(actions, reward, done, info, range(n))
            rec.add(observations, prompts, acted, values, reward, terminated, truncated, final, self.seeds)
            self.obs = obs
            ended = [i for i in range(n) if done[i]]
            if ended:
                self._begin(ended, [self.next_seed() for _ in ended])
        assert self.obs is not None
        return rec.build(self._values(self.obs, range(n)))

    def episodes(
        self, seeds: Sequence[int], groups: Sequence[int], greedy: bool = False, max_steps: int | None = None
    ) -> Rollout:
        """Whole episodes from ``seeds`` (one per sub-env; group ids ``groups``), at most ``max_steps`` (default
        ``rl.rollout_steps``) steps each, then truncated. Steps after a sub-env's episode ended are padding
        (``valid`` False)."""
        cap = self.spec.rollout_steps if max_steps is None else max_steps
        n, rec = self.num_envs, _Recorder(self.num_envs, groups)
        if len(seeds) != n or len(groups) != n:
            raise ValueError(f"episodes() needs one seed and group per sub-env ({n}), got {len(seeds)}, {len(groups)}")
        self._begin(range(n), seeds)
        active = np.ones(n, dtype=bool)
        for t in range(cap):
            assert self.obs is not None
            observations, prompts, acted, values = self._decide(self.obs, greedy)
            actions = self.decoder(acted.outputs, range(n))
            obs, raw, terminated, truncated, info = self._env_step(actions)
            if t == cap - 1:
                truncated = truncated | (active & ~terminated)  # the step cap ends what is still running
            reward = self._reward(raw, info)
            done = terminated | truncated
            live = [i for i in range(n) if active[i]]
            self._record_step(actions, reward, done, info, live)
            rec.add(
                observations, prompts, acted, values, reward, terminated, truncated, torch.zeros(n), self.seeds, active
            )
            self.obs = obs
            active &= ~done
            if not active.any():
                break
            ended = [i for i in range(n) if done[i] or not active[i]]
            if ended:  # finished sub-envs restart from the same seed; their steps are padding
                self._reset_envs(ended, [self.seeds[i] for i in ended])
        return rec.build(torch.zeros(n))

    # ------------------------------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        """Plain JSON: seed position, counters and the running episodes (seed, actions so far, return)."""
        return {
            "episodes_started": self.episodes_started,
            "env_steps": self.env_steps,
            "started": self.obs is not None,
            "seeds": list(self.seeds),
            "logs": self.logs,
            "running": self.running.tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the counters and re-create every running episode by replaying its actions from its seed."""
        self.episodes_started, self.env_steps = int(state["episodes_started"]), int(state["env_steps"])
        if not state["started"]:
            return
        seeds, logs = [int(s) for s in state["seeds"]], json.loads(json.dumps(state["logs"]))
        self._replay(seeds, logs)
        self.seeds, self.logs = seeds, logs
        self.running = np.asarray(state["running"], dtype=np.float64)

    def _replay(self, seeds: list[int], logs: list[list[Any]]) -> None:
        """Reset each sub-env from its seed and replay its logged actions, all ending on the same step: sub-env
        ``i`` starts at step ``max(len) − len_i`` and is re-reset from its seed after every step before that."""
        self._reset_envs(range(self.num_envs), seeds)
        longest = max(len(log) for log in logs)
        if longest == 0:
            return
        fill = next(log[0] for log in logs if log)
        starts = [longest - len(log) for log in logs]
        for t in range(longest):
            actions = [logs[i][t - starts[i]] if t >= starts[i] else fill for i in range(self.num_envs)]
            if not isinstance(fill, str):
                actions = [np.asarray(a, dtype=np.float32) for a in actions]
            obs, *_ = self.envs.step(tuple(actions) if isinstance(fill, str) else np.stack(actions))
            self.obs = obs
            waiting = [i for i in range(self.num_envs) if starts[i] > t]
            if waiting:
                self._reset_envs(waiting, [seeds[i] for i in waiting])


def _to(value: Any, device: torch.device) -> Any:
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    return value.to(device) if isinstance(value, torch.Tensor) else value


class _Recorder:
    """Accumulates one rollout's steps; ``build`` stacks them into a ``Rollout``."""

    def __init__(self, num_envs: int, groups: Sequence[int] | None = None) -> None:
        self.n = num_envs
        self.groups = torch.tensor(list(groups) if groups is not None else [-1] * num_envs)
        self.observations: list[dict[str, Any]] = []
        self.prompts: list[str] = []
        self.actions: list[torch.Tensor] = []
        self.columns: dict[str, list[torch.Tensor]] = {
            k: []
            for k in ("log_probs", "values", "rewards", "terminated", "truncated", "final_values", "valid", "episode")
        }

    def add(
        self,
        observations: list[dict[str, Any]],
        prompts: list[str],
        acted: Any,
        values: torch.Tensor | None,
        reward: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        final_values: torch.Tensor,
        seeds: Sequence[int],
        valid: np.ndarray | None = None,
    ) -> None:
        self.observations += observations
        self.prompts += prompts
        self.actions += acted.actions
        c = self.columns
        c["log_probs"].append(acted.log_prob.float().cpu())
        c["values"].append(torch.zeros(self.n) if values is None else values.float().cpu())
        c["rewards"].append(torch.as_tensor(reward, dtype=torch.float32))
        c["terminated"].append(torch.as_tensor(terminated))
        c["truncated"].append(torch.as_tensor(truncated))
        c["final_values"].append(final_values.float())
        c["valid"].append(torch.ones(self.n, dtype=torch.bool) if valid is None else torch.as_tensor(valid.copy()))
        c["episode"].append(torch.tensor(list(seeds), dtype=torch.long))  # an episode is named by its seed

    def build(self, last_values: torch.Tensor) -> Rollout:
        stacked: dict[str, Any] = {k: torch.stack(v) for k, v in self.columns.items()}
        steps = stacked["rewards"].shape[0]
        return Rollout(
            self.observations,
            self.prompts,
            self.actions,
            group=self.groups.expand(steps, self.n).clone(),
            last_values=last_values.float(),
            **stacked,
        )
