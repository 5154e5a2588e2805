"""Evaluation rollouts (composition: envs + agents → per-episode outcomes for ``embodied.eval``).

Episodes run in *waves* on a ``SyncVectorEnv`` of ``N`` sub-envs: wave ``w`` resets every sub-env with explicit
seeds ``seed + w·N + i``, so episode ``k`` always has seed ``seed + k`` whatever ``N`` is, and every agent sees the
same scenes. A sub-env's episode ends at its first ``terminated or truncated``; the vector env's ``NEXT_STEP``
autoreset then starts an unseeded episode there, which the wave keeps stepping (the batched ``act`` needs every
row) but never records, until the wave's last episode ends. The final wave pads its unused sub-envs the same way.

- ``evaluate_agent``: success (``info["success"]`` at the final step, else reward >= 1), length, decision latency
  (``agent.decision_seconds``, one entry per batched ``act`` call) and frames of the first ``video_episodes``
  episodes: the env's own RGB render where it has one (tabletop: the front camera at 256×256, larger than the
  model's input), else the first camera of the observation;
- ``evaluate_vqa``: one question per episode on ``embodied/TabletopVQA-v0`` → ``VQARecord`` (qtype, normalised
  answer and prediction, correct iff the env rewarded it);
- ``evaluate_plans``: a planner (``plans`` / ``plan_checks`` / ``replans`` per sub-env, as ``PlannerAgent``) → the
  first plan generated for each episode, its validity (``env.check_plan`` at generation) and the episode's success.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
from gymnasium.vector import VectorEnv

from embodied.agents.base import Agent
from embodied.envs.tabletop.objects import COLOURS, RECEPTACLES, SHAPES
from embodied.envs.tabletop.plans import PlanError, parse_plan
from embodied.envs.tabletop.vqa_env import OBJECT_COUNT_RANGE, scene_facts
from embodied.envs.vector import make_vector_env
from embodied.eval.results import PlanRecord
from embodied.eval.vqa_scores import VQARecord

__all__ = [
    "VQA_ENV_ID",
    "EpisodeRecord",
    "EpisodeStats",
    "PlanOutcome",
    "evaluate_agent",
    "evaluate_plans",
    "evaluate_vqa",
    "run_episodes",
    "vqa_answer_space",
    "wave_seeds",
]

VQA_ENV_ID = "embodied/TabletopVQA-v0"

#: an agent, or a function building one for the vector env (scripted and planner agents read the sub-envs)
AgentSource: TypeAlias = Agent | Callable[[VectorEnv], Agent]
#: called after every ``act`` with the agent and the step index within the wave
ActHook: TypeAlias = Callable[[Agent, int], None]
#: called when sub-env ``i`` ends its episode (before ``agent.episode_done(i)``); returns extras for the record
DoneHook: TypeAlias = Callable[[Agent, int], dict[str, Any]]


@dataclass
class EpisodeRecord:
    """One recorded episode: its seed, outcome, length, the final step's info row and (maybe) its frames."""

    seed: int
    success: bool
    length: int
    reward: float
    final_info: dict[str, Any]
    frames: list[np.ndarray] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class EpisodeStats:
    """Every episode one agent ran, in seed order, and its decision times."""

    agent: str
    env_id: str
    num_envs: int
    episodes: list[EpisodeRecord]
    decision_seconds: list[float]
    renderer: str | None = None

    @property
    def seeds(self) -> list[int]:
        return [e.seed for e in self.episodes]

    @property
    def successes(self) -> list[bool]:
        return [e.success for e in self.episodes]

    @property
    def lengths(self) -> list[int]:
        return [e.length for e in self.episodes]

    @property
    def frames(self) -> list[list[np.ndarray]]:
        """Frames of the recorded episodes (the first ``video_episodes``)."""
        return [e.frames for e in self.episodes if e.frames]


def wave_seeds(seed: int, episodes: int, num_envs: int) -> list[list[int]]:
    """Episode seeds per wave: ``[[seed, ..., seed + N - 1], ...]``, the last wave possibly shorter."""
    if episodes < 0 or num_envs < 1:
        raise ValueError(f"need episodes >= 0 and num_envs >= 1, got {episodes} and {num_envs}")
    seeds = list(range(seed, seed + episodes))
    return [seeds[k : k + num_envs] for k in range(0, episodes, num_envs)]


def _info_row(info: dict[str, Any], i: int) -> dict[str, Any]:
    """Sub-env ``i``'s entries of a batched info dict (flat keys only; nested dicts such as cameras are skipped)."""
    row = {}
    for key, value in info.items():
        mask = info.get(f"_{key}")
        if key.startswith("_") or isinstance(value, dict) or (mask is not None and not mask[i]):
            continue
        row[key] = value[i].item() if isinstance(value[i], np.generic) else value[i]
    return row


def env_renderer(envs: VectorEnv) -> str | None:
    """The renderer of the first sub-env's scene (tabletop envs), else ``None``."""
    subs = getattr(envs, "envs", None)
    scene = getattr(subs[0].unwrapped, "scene", None) if subs else None
    renderer = getattr(scene, "renderer", None)
    return None if renderer is None else str(renderer)


def _render(envs: VectorEnv, i: int) -> np.ndarray | None:
    """Sub-env ``i``'s own render (tabletop envs: the front camera at ``render_size``, 256×256 by default), so a
    video shows the scene larger than the model's input; ``None`` for envs without an RGB render."""
    subs = getattr(envs, "envs", None)
    if not subs:
        return None
    env = subs[i]
    if getattr(env.unwrapped, "render_size", None) is None and getattr(env, "render_mode", None) != "rgb_array":
        return None
    frame = env.render()
    ok = isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[-1] == 3
    return np.array(frame) if ok else None


def _frame(obs: dict[str, Any], i: int) -> np.ndarray | None:
    images = obs.get("images")
    return np.array(next(iter(images.values()))[i]) if images else None


@dataclass
class _Wave:
    """Book-keeping of one wave: which rows still run and what they recorded."""

    seeds: list[int]
    record_video: list[bool]
    active: list[bool]
    lengths: list[int]
    frames: list[list[np.ndarray]]
    done: dict[int, EpisodeRecord] = field(default_factory=dict)

    @classmethod
    def start(cls, seeds: list[int], num_envs: int, first_episode: int, video_episodes: int) -> _Wave:
        m = len(seeds)
        return cls(
            seeds=seeds,
            record_video=[first_episode + i < video_episodes for i in range(m)],
            active=[i < m for i in range(num_envs)],
            lengths=[0] * m,
            frames=[[] for _ in range(m)],
        )

    def add_frames(self, obs: dict[str, Any], envs: VectorEnv) -> None:
        for i, record in enumerate(self.record_video):
            if not (record and self.active[i]):
                continue
            frame = _render(envs, i)
            frame = _frame(obs, i) if frame is None else frame
            if frame is not None:
                self.frames[i].append(frame)


def _run_wave(
    agent: Agent,
    envs: VectorEnv,
    wave: _Wave,
    max_steps: int | None,
    on_act: ActHook | None,
    on_done: DoneHook | None,
) -> list[EpisodeRecord]:
    """Step ``envs`` until every recorded episode of ``wave`` has ended (or ``max_steps``: a failure)."""
    n, m = envs.num_envs, len(wave.seeds)
    padded = wave.seeds + [wave.seeds[-1] + 1 + j for j in range(n - m)]  # unrecorded rows of a short wave
    obs, info = envs.reset(seed=padded)  # type: ignore[arg-type]  # vector envs take one seed per sub-env
    agent.reset(n, padded)
    wave.add_frames(obs, envs)
    step = 0
    while any(wave.active):
        action = agent.act(obs, info)
        if on_act is not None:
            on_act(agent, step)
        obs, reward, terminated, truncated, info = envs.step(action)
        step += 1
        wave.add_frames(obs, envs)
        for i in (i for i in range(m) if wave.active[i]):
            wave.lengths[i] += 1
            limit = max_steps is not None and step >= max_steps
            if terminated[i] or truncated[i] or limit:
                row = _info_row(info, i)
                success = bool(row.get("success", reward[i] >= 1.0)) and not (limit and not terminated[i])
                extras = on_done(agent, i) if on_done is not None else {}
                wave.done[i] = EpisodeRecord(
                    wave.seeds[i], success, wave.lengths[i], float(reward[i]), row, wave.frames[i], extras
                )
                wave.active[i] = False
                agent.episode_done(i)
        if max_steps is not None and step >= max_steps:
            wave.active = [False] * n
    return [wave.done[i] for i in range(m)]


def run_episodes(
    agent: Agent,
    envs: VectorEnv,
    episodes: int,
    seed: int,
    *,
    env_id: str = "",
    video_episodes: int = 0,
    max_steps: int | None = None,
    on_act: ActHook | None = None,
    on_done: DoneHook | None = None,
) -> EpisodeStats:
    """Run ``episodes`` episodes (seeds ``seed, seed + 1, ...``) of ``agent`` on the sync vector env ``envs``."""
    start = len(agent.decision_seconds)
    records: list[EpisodeRecord] = []
    for seeds in wave_seeds(seed, episodes, envs.num_envs):
        wave = _Wave.start(seeds, envs.num_envs, len(records), video_episodes)
        records += _run_wave(agent, envs, wave, max_steps, on_act, on_done)
    return EpisodeStats(
        agent=agent.name,
        env_id=env_id,
        num_envs=envs.num_envs,
        episodes=records,
        decision_seconds=list(agent.decision_seconds[start:]),
        renderer=env_renderer(envs),
    )


def _with_envs(
    agent: AgentSource,
    env_id: str,
    env_kwargs: dict[str, Any] | None,
    episodes: int,
    seed: int,
    num_envs: int,
    **run_kwargs: Any,
) -> EpisodeStats:
    """Make a sync vector env of ``min(num_envs, episodes)`` sub-envs, run the episodes, close it."""
    envs = make_vector_env(env_id, max(1, min(num_envs, episodes)), mode="sync", seed=seed, **(env_kwargs or {}))
    try:
        actor = agent if isinstance(agent, Agent) else agent(envs)
        return run_episodes(actor, envs, episodes, seed, env_id=env_id, **run_kwargs)
    finally:
        envs.close()


def evaluate_agent(
    agent: AgentSource,
    env_id: str,
    env_kwargs: dict[str, Any] | None,
    episodes: int,
    seed: int,
    num_envs: int = 1,
    *,
    video_episodes: int = 0,
    max_steps: int | None = None,
) -> EpisodeStats:
    """``episodes`` episodes of ``agent`` on ``env_id`` (see the module docstring); ``agent`` may be a factory."""
    return _with_envs(
        agent, env_id, env_kwargs, episodes, seed, num_envs, video_episodes=video_episodes, max_steps=max_steps
    )


def evaluate_vqa(
    agent: Agent,
    episodes: int,
    seed: int,
    num_envs: int = 1,
    env_kwargs: dict[str, Any] | None = None,
    env_id: str = VQA_ENV_ID,
) -> list[VQARecord]:
    """One question per episode (seeds ``seed, seed + 1, ...``) answered by ``agent`` (text actions)."""
    stats = _with_envs(agent, env_id, env_kwargs, episodes, seed, num_envs)
    return [
        VQARecord(
            qtype=str(e.final_info["qtype"]),
            question=str(e.final_info["question"]),
            answer=str(e.final_info["answer"]),
            prediction=str(e.final_info["prediction"]),
            correct=e.reward >= 1.0,
            seed=e.seed,
            absent=names_absent(str(e.final_info["prediction"]), e.final_info.get("items", ())),
        )
        for e in stats.episodes
    ]


def names_absent(answer: str, items: Sequence[str]) -> bool:
    """Whether a normalised ``answer`` is a colour or a shape that none of ``items`` ("red cube", ...) has."""
    colours = {item.split(" ", 1)[0] for item in items}
    shapes = {item.split(" ", 1)[-1] for item in items}
    return (answer in COLOURS and answer not in colours) or (answer in SHAPES + RECEPTACLES and answer not in shapes)


def vqa_answer_space() -> dict[str, list[str]]:
    """Every answer each question type of the VQA env allows (the chance baseline is one over their number)."""
    yes_no = ["yes", "no"]
    return {
        "count": [str(k) for k in range(OBJECT_COUNT_RANGE[1] + 1)],  # receptacles count at most 1
        "colour": sorted(COLOURS),
        "shape": list(SHAPES),  # shape questions name movable objects only
        "spatial": yes_no,
        "existence": yes_no,
        "progress": yes_no,
    }


@dataclass
class PlanOutcome:
    """A planner's episodes and the first plan of each."""

    stats: EpisodeStats
    records: list[PlanRecord]


def _plan_hooks() -> tuple[ActHook, DoneHook]:
    """Hooks that keep each episode's first plan (generated at the wave's first step), the items it names that
    are not on the table, and its replan count."""
    first: dict[int, tuple[str | None, Any, list[str]]] = {}

    def on_act(agent: Agent, step: int) -> None:
        if step == 0:
            plans: Sequence[str | None] = agent.plans  # type: ignore[attr-defined]
            checks: Sequence[Any] = agent.plan_checks  # type: ignore[attr-defined]
            sims: Sequence[Any] = agent.sims  # type: ignore[attr-defined]
            first.clear()
            for i, plan in enumerate(plans):
                items = {f.phrase for f in scene_facts(sims[i].scene).items}
                first[i] = (plan, checks[i], plan_absent_items(plan, items))

    def on_done(agent: Agent, i: int) -> dict[str, Any]:
        plan, check, absent = first.get(i, (None, None, []))
        valid, reason = (False, "no plan") if check is None else (bool(check.valid), str(check.reason))
        replans = int(agent.replans[i])  # type: ignore[attr-defined]
        return {"plan": plan, "valid": valid, "reason": reason, "replans": replans, "absent": absent}

    return on_act, on_done


def plan_absent_items(plan: str | None, items: set[str]) -> list[str]:
    """The items a plan's steps name that are not among ``items`` (an unparseable plan names none)."""
    try:
        steps = parse_plan(plan or "")
    except PlanError:
        return []
    return sorted({arg for step in steps for arg in step.args if arg not in items})


def evaluate_plans(
    planner: AgentSource,
    env_id: str,
    env_kwargs: dict[str, Any] | None,
    episodes: int,
    seed: int,
    num_envs: int = 1,
    *,
    video_episodes: int = 0,
) -> PlanOutcome:
    """Run a planner (factory: it needs the vector env) and keep the first plan of every episode."""
    on_act, on_done = _plan_hooks()
    hooks = {"on_act": on_act, "on_done": on_done}
    stats = _with_envs(planner, env_id, env_kwargs, episodes, seed, num_envs, video_episodes=video_episodes, **hooks)
    records = [PlanRecord(seed=e.seed, success=e.success, **e.extras) for e in stats.episodes]
    return PlanOutcome(stats, records)
