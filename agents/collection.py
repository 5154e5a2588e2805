"""Expert demonstration datasets from an experiment's ``data:`` section (composition: envs + ``embodied.data``).

``collect_dataset(config, out_dir)`` runs every env id's scripted expert (``env.unwrapped.expert_action()``) —
or the user policy ``data.policy`` (``embodied collect --policy module:callable``, see
``embodied.agents.user_policy``) — for ``config.data.episodes`` episodes (seeds ``data.seed + k``) in a
``SyncVectorEnv`` of ``data.num_envs`` copies, records the annotations asked for in ``data.annotations`` from the
initial scene, and writes one LeRobot v3 dataset:

- ``plans``: ``env.unwrapped.plan_text()``;
- ``vqa``: one question per type in ``data.vqa_qtypes`` from the tabletop question generator, drawn with a
  generator seeded by ``data.seed``, with the pixels of the items each question refers to in the first camera;
- ``captions``: one sentence listing the items on the table, e.g. "a red cube, a blue bowl and a green sphere
  on the table.";
- ``points`` (primitive control): per frame, the expert action's pick and place points projected into the
  env's first camera (pixels (u, v)), the targets of a ``pointer`` head.
"""

from __future__ import annotations

import difflib
import multiprocessing
import queue
import shutil
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

import embodied.envs  # noqa: F401  (registers the embodied/ env ids)
from embodied.agents.user_policy import UserPolicies, load_policy_factory
from embodied.config import ConfigError, ExperimentConfig
from embodied.config.data import DataSpec
from embodied.data import Annotators, Episode, collect, read_dataset, write_dataset
from embodied.envs.adapted import is_registered
from embodied.envs.tabletop.control import decode_primitive
from embodied.envs.tabletop.vqa_env import question_generator, scene_facts
from embodied.envs.vector import make_vector_env
from embodied.models.heads.pointing_geometry import world_to_pixel

__all__ = [
    "annotators",
    "caption",
    "check_envs",
    "collect_dataset",
    "collect_episodes",
    "expert_policy",
    "item_pixels",
]


def expert_policy(obs: dict[str, Any], env: gym.Env[Any, Any]) -> np.ndarray:
    """The env's scripted expert action for its current state."""
    return np.asarray(env.unwrapped.expert_action())  # type: ignore[attr-defined]


def caption(env: gym.Env[Any, Any]) -> list[str]:
    """One caption listing the table's items: "a red cube, a blue bowl and a green sphere on the table."."""
    facts = scene_facts(env.unwrapped.scene)  # type: ignore[attr-defined]
    items = [f"{'an' if o.colour[0] in 'aeiou' else 'a'} {o.colour} {o.shape}" for o in facts.items]
    listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return [f"{listed} on the table."]


def _plan(env: gym.Env[Any, Any]) -> str | None:
    text: str | None = env.unwrapped.plan_text()  # type: ignore[attr-defined]
    return text


def _vqa_annotator(data: DataSpec) -> Any:
    """An annotator asking one question per type; one generator seeded by ``data.seed`` serves every call
    (``collect`` annotates episodes in a fixed order, so the questions are reproducible). Each pair carries the
    pixels of the items its question refers to in the first camera (a grounding model's look targets)."""
    rng = np.random.default_rng(data.seed)
    camera = first_camera(data)

    def vqa(env: gym.Env[Any, Any]) -> list[tuple[str, str, str, np.ndarray]]:
        scene = env.unwrapped.scene  # type: ignore[attr-defined]
        facts, generator = scene_facts(scene), question_generator(scene)
        pairs = []
        for qtype in data.vqa_qtypes:
            try:
                question = generator.generate(facts, rng, qtype)
            except ValueError:  # e.g. no shape question when every object's colour is shared: skip this type
                continue
            pairs.append((question.text, question.answer, question.qtype, item_pixels(env, question.objects, camera)))
        return pairs

    return vqa


def item_pixels(env: gym.Env[Any, Any], names: Sequence[str], camera: str) -> np.ndarray:
    """``[N, 2]`` pixels (u, v) in ``camera`` of the named items' base positions."""
    scene = env.unwrapped.scene  # type: ignore[attr-defined]
    if not names:
        return np.zeros((0, 2), np.float32)
    return _pixels(env, np.stack([scene.position(name) for name in names]), camera)


def first_camera(data: DataSpec) -> str:
    """The env's first camera (``env_kwargs["cameras"]``, default front): where annotations' pixels are."""
    cameras = list(data.env_kwargs.get("cameras", ["front"]))
    if not cameras:
        raise ValueError(f"data.annotations has {sorted(data.annotations)} but data.env_kwargs.cameras is empty")
    return str(cameras[0])


def point_camera(data: DataSpec) -> str:
    """The camera pointing targets are expressed in: the first of ``env_kwargs["cameras"]`` (default front)."""
    if data.env_kwargs.get("control", "primitive") != "primitive":
        raise ValueError(
            f"data.annotations has 'points' but data.env_kwargs.control is {data.env_kwargs.get('control')!r}; "
            "pointing targets are the arguments of primitive actions (control: primitive)"
        )
    return first_camera(data)


def action_points(env: gym.Env[Any, Any], action: np.ndarray, camera: str) -> np.ndarray:
    """``[2, 2]`` pixels (u, v) in ``camera`` of a primitive action's two points (pick and place)."""
    physical = decode_primitive(np.asarray(action, np.float64))
    lift = np.array([0.0, 0.0, env.unwrapped.scene.table_height])  # type: ignore[attr-defined]
    world = np.stack([physical[0:3], physical[3:6]]) + lift  # z in the action is above the table top
    return _pixels(env, world, camera)


def _pixels(env: gym.Env[Any, Any], world: np.ndarray, camera: str) -> np.ndarray:
    """World points ``[N, 3]`` → pixels (u, v) ``[N, 2]`` float32 in ``camera`` of the env."""
    params = env.unwrapped.camera_params()[camera]  # type: ignore[attr-defined]
    uv, _ = world_to_pixel(world, params["intrinsics"], params["extrinsics"])
    return uv.astype(np.float32)


def annotators(data: DataSpec) -> Annotators:
    """The annotators ``data.annotations`` asks for."""
    wanted = set(data.annotations)
    camera = point_camera(data) if "points" in wanted else ""
    return Annotators(
        plan=_plan if "plans" in wanted else None,
        vqa=_vqa_annotator(data) if "vqa" in wanted else None,
        captions=caption if "captions" in wanted else None,
        points=(lambda env, action: action_points(env, action, camera)) if camera else None,
        point_camera=camera or (first_camera(data) if "vqa" in wanted else ""),
    )


def collect_episodes(
    data: DataSpec, progress: bool = True, on_episode: Callable[[], None] | None = None
) -> tuple[list[Episode], int]:
    """Expert (or ``data.policy``) episodes of every env id in ``data`` and the frame rate of the (first) env."""
    episodes: list[Episode] = []
    fps = 10
    for index, env_id in enumerate(data.env_ids):
        envs = make_vector_env(env_id, data.num_envs, mode="sync", seed=data.seed, **data.env_kwargs)
        policy = UserPolicies(data.policy, "data.policy") if data.policy else expert_policy
        try:
            if index == 0:
                fps = int(envs.metadata.get("render_fps", fps))
            episodes += collect(
                envs,
                policy,
                data.episodes,
                data.seed,
                annotators=annotators(data),
                progress=progress,
                on_episode=on_episode,
            )
        finally:
            envs.close()
    return episodes, fps


def _registered(index: int, env_id: str) -> bool:
    """``env_id`` (maybe ``module:Id``, whose module is imported) is registered; ``ConfigError`` if unimportable."""
    try:
        return is_registered(env_id)
    except ValueError as err:
        raise ConfigError.single(f"data.env_ids.{index}", "a registered id or module:Id", str(err)) from None


def check_envs(data: DataSpec) -> None:
    """Every ``data.env_ids`` entry registered and buildable with ``data.env_kwargs``; else a ``ConfigError``
    naming the key (before any worker starts, so the mistake is one clear line, not a worker's traceback)."""
    for index, env_id in enumerate(data.env_ids):
        if not _registered(index, env_id):
            known = sorted(k for k in gym.registry if k.startswith("embodied/"))
            close = difflib.get_close_matches(env_id, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError.single(
                f"data.env_ids.{index}", f"a registered env id ({', '.join(known)}){hint}", repr(env_id)
            )
        try:
            env = gym.make(env_id, **data.env_kwargs)
        except (TypeError, ValueError, KeyError, gym.error.Error) as err:
            reason = (str(err).splitlines() or [type(err).__name__])[0]
            raise ConfigError.single(
                "data.env_kwargs", f"keyword arguments {env_id} accepts ({reason})", repr(data.env_kwargs)
            ) from None
        env.close()


def collect_dataset(config: ExperimentConfig, out_dir: str | Path, progress: bool = True) -> Path:
    """Collect ``config.data``'s expert episodes and write them as a LeRobot v3 dataset at ``out_dir``.

    With ``data.workers = W > 1`` the episodes are split into W contiguous blocks (seeds ``seed + start`` ...)
    collected by W spawned processes, each writing a shard dataset that is merged here (shards exchange only
    paths and parquet files). The dataset is a function of the config, ``workers`` included: each block's VQA
    questions are drawn from a generator seeded by the block's first seed.
    """
    data = config.data
    check_envs(data)
    if data.policy:  # a mistake in the name is one line here, not a worker's traceback
        load_policy_factory(data.policy, "data.policy")
    if data.workers == 1:
        episodes, fps = collect_episodes(data, progress)
    else:
        episodes, fps = _collect_parallel(data, Path(out_dir), progress)
    failed: Sequence[int] = [i for i, ep in enumerate(episodes) if not ep.success]
    if failed and not data.policy:  # a user policy's failures are data too (success is recorded per episode)
        raise RuntimeError(f"the scripted expert failed in episode(s) {list(failed)}; check data.env_kwargs")
    return write_dataset(episodes, out_dir, fps=fps)


def _blocks(data: DataSpec) -> list[DataSpec]:
    """``data`` split into ``data.workers`` contiguous blocks of episodes (empty blocks dropped)."""
    size, extra = divmod(data.episodes, data.workers)
    blocks, start = [], 0
    for w in range(data.workers):
        count = size + (1 if w < extra else 0)
        if count:
            blocks.append(data.model_copy(update={"episodes": count, "seed": data.seed + start, "workers": 1}))
        start += count
    return blocks


def collect_shard(data_json: str, out_dir: str, finished: Any = None) -> str:
    """One worker's block: collect ``DataSpec`` (as JSON) and write it as a dataset at ``out_dir``; a ``1`` goes
    to the ``finished`` queue (the parent's progress bar) after each episode."""
    data = DataSpec.model_validate_json(data_json)
    tick = (lambda: finished.put(1)) if finished is not None else None
    episodes, fps = collect_episodes(data, progress=False, on_episode=tick)
    write_dataset(episodes, out_dir, fps=fps)
    return out_dir


def _collect_parallel(data: DataSpec, out_dir: Path, progress: bool) -> tuple[list[Episode], int]:
    """Collect the blocks in spawned processes (one progress bar over every episode, fed by a queue the workers
    write to), then read the shards back in block order."""
    shards = out_dir.parent / f".{out_dir.name}.shards-{uuid.uuid4().hex[:8]}"
    blocks = _blocks(data)
    try:
        context = multiprocessing.get_context("spawn")
        with (
            context.Manager() as manager,
            ProcessPoolExecutor(max_workers=len(blocks), mp_context=context) as pool,
            tqdm(total=data.episodes, desc="collect", unit="episode", disable=not progress) as bar,
        ):
            finished = manager.Queue()
            futures = [
                pool.submit(collect_shard, b.model_dump_json(), str(shards / f"{i:03d}"), finished)
                for i, b in enumerate(blocks)
            ]
            _follow(futures, finished, bar)
        datasets = [read_dataset(shards / f"{i:03d}") for i in range(len(blocks))]
        return [ep for ds in datasets for ep in ds.episodes()], int(datasets[0].fps)
    finally:
        shutil.rmtree(shards, ignore_errors=True)


def _follow(futures: list[Future[str]], finished: Any, bar: tqdm) -> None:
    """Advance ``bar`` once per episode a worker reports until every worker is done; a worker's error re-raised."""
    while True:
        done = all(f.done() for f in futures)
        try:
            while True:
                bar.update(finished.get(timeout=0.0 if done else 0.2))
        except queue.Empty:
            pass
        if done:
            break
    for future in as_completed(futures):
        future.result()
