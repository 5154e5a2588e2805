"""Expert demonstration datasets from an experiment's ``data:`` section (composition: envs + ``embodied.data``).

``collect_dataset(config, out_dir)`` runs every env id's scripted expert (``env.unwrapped.expert_action()``)
for ``config.data.episodes`` episodes (seeds ``data.seed + k``) in a ``SyncVectorEnv`` of ``data.num_envs``
copies, records the annotations asked for in ``data.annotations`` from the initial scene, and writes one
LeRobot v3 dataset:

- ``plans``: ``env.unwrapped.plan_text()``;
- ``vqa``: one question per type in ``data.vqa_qtypes`` from the tabletop question generator, drawn with a
  generator seeded by ``data.seed``;
- ``captions``: one sentence listing the items on the table, e.g. "a red cube, a blue bowl and a green sphere
  on the table."
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import embodied.envs  # noqa: F401  (registers the embodied/ env ids)
from embodied.config import ExperimentConfig
from embodied.config.data import DataSpec
from embodied.data import Annotators, Episode, collect, write_dataset
from embodied.envs.tabletop.vqa_env import question_generator, scene_facts
from embodied.envs.vector import make_vector_env

__all__ = ["annotators", "caption", "collect_dataset", "collect_episodes", "expert_policy"]


def expert_policy(obs: dict[str, Any], env: gym.Env[Any, Any]) -> np.ndarray:
    """The env's scripted expert action for its current state."""
    return np.asarray(env.unwrapped.expert_action())  # type: ignore[attr-defined]


def caption(env: gym.Env[Any, Any]) -> list[str]:
    """One caption listing the table's items: "a red cube, a blue bowl and a green sphere on the table."."""
    items = [f"a {o.colour} {o.shape}" for o in scene_facts(env.unwrapped.scene).items]  # type: ignore[attr-defined]
    listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return [f"{listed} on the table."]


def _plan(env: gym.Env[Any, Any]) -> str | None:
    text: str | None = env.unwrapped.plan_text()  # type: ignore[attr-defined]
    return text


def _vqa_annotator(data: DataSpec) -> Any:
    """An annotator asking one question per type; one generator seeded by ``data.seed`` serves every call
    (``collect`` annotates episodes in a fixed order, so the questions are reproducible)."""
    rng = np.random.default_rng(data.seed)

    def vqa(env: gym.Env[Any, Any]) -> list[tuple[str, str, str]]:
        scene = env.unwrapped.scene  # type: ignore[attr-defined]
        facts, generator = scene_facts(scene), question_generator(scene)
        questions = [generator.generate(facts, rng, qtype) for qtype in data.vqa_qtypes]
        return [(q.text, q.answer, q.qtype) for q in questions]

    return vqa


def annotators(data: DataSpec) -> Annotators:
    """The annotators ``data.annotations`` asks for."""
    wanted = set(data.annotations)
    return Annotators(
        plan=_plan if "plans" in wanted else None,
        vqa=_vqa_annotator(data) if "vqa" in wanted else None,
        captions=caption if "captions" in wanted else None,
    )


def collect_episodes(data: DataSpec, progress: bool = True) -> tuple[list[Episode], int]:
    """Expert episodes of every env id in ``data`` and the frame rate of the (first) env."""
    episodes: list[Episode] = []
    fps = 10
    for index, env_id in enumerate(data.env_ids):
        envs = make_vector_env(env_id, data.num_envs, mode="sync", seed=data.seed, **data.env_kwargs)
        try:
            if index == 0:
                fps = int(envs.metadata.get("render_fps", fps))
            episodes += collect(
                envs, expert_policy, data.episodes, data.seed, annotators=annotators(data), progress=progress
            )
        finally:
            envs.close()
    return episodes, fps


def collect_dataset(config: ExperimentConfig, out_dir: str | Path, progress: bool = True) -> Path:
    """Collect ``config.data``'s expert episodes and write them as a LeRobot v3 dataset at ``out_dir``."""
    episodes, fps = collect_episodes(config.data, progress)
    failed: Sequence[int] = [i for i, ep in enumerate(episodes) if not ep.success]
    if failed:
        raise RuntimeError(f"the scripted expert failed in episode(s) {list(failed)}; check data.env_kwargs")
    return write_dataset(episodes, out_dir, fps=fps)
