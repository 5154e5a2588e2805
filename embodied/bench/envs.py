"""Env throughput benchmark: steps/s of one env vs ``SyncVectorEnv`` vs ``AsyncVectorEnv`` and render FPS.

Everything is measured in one run so the ratios compare like with like on the same machine and load.
Envs are built from their public ids with the module prefix (``"embodied.envs:embodied/..."``), so the core
package imports no simulation code and nothing happens at import time; ``run()`` does all the work.

* ``step``: ``control="ee_delta"`` steps of a manipulation task (physics + camera images) with random actions
  drawn from a seeded action space; vector numbers count env-steps summed over the sub-envs, so
  ``async_speedup = async_steps_per_s / single_steps_per_s`` is the gain from a second core (minus IPC).
* ``render``: frames/s of the front camera with pybullet's TinyRenderer (CPU) at 64², 128² and 224²,
  timed through the public ``env.render()`` of ``embodied/TabletopVQA-v0`` (it renders at ``image_size``).
"""

from __future__ import annotations

import time
from typing import Any

STEP_ENV = "embodied.envs:embodied/PickPlace-v0"
STEP_KWARGS: dict[str, Any] = {"control": "ee_delta", "image_size": 64}
RENDER_ENV = "embodied.envs:embodied/TabletopVQA-v0"
RENDER_SIZES = (64, 128, 224)
NUM_ENVS = 2


def _single_steps_per_s(steps: int, seed: int) -> float:
    import gymnasium as gym

    env = gym.make(STEP_ENV, **STEP_KWARGS)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def _vector_steps_per_s(mode: str, steps: int, seed: int) -> float:
    import gymnasium as gym

    # Pipes, not shared memory: gymnasium 1.4 freezes Text observations in shared memory (embodied.envs.vector).
    vector_kwargs = {"context": "spawn", "shared_memory": False} if mode == "async" else {}
    envs = gym.make_vec(
        STEP_ENV, num_envs=NUM_ENVS, vectorization_mode=mode, vector_kwargs=vector_kwargs, **STEP_KWARGS
    )
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    envs.step(envs.action_space.sample())  # the first step pays for worker warm-up; not timed
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(envs.action_space.sample())  # NEXT_STEP autoreset handles finished episodes
    elapsed = time.perf_counter() - start
    envs.close()
    return steps * NUM_ENVS / elapsed


def _render_fps(size: int, frames: int, seed: int) -> float:
    import gymnasium as gym

    env = gym.make(RENDER_ENV, image_size=size, cameras=("front",), render_mode="rgb_array")
    env.reset(seed=seed)
    env.render()  # warm-up
    start = time.perf_counter()
    for _ in range(frames):
        env.render()
    elapsed = time.perf_counter() - start
    env.close()
    return frames / elapsed


def run(quick: bool = False) -> dict[str, Any]:
    """Measure and return steps/s, render FPS and their ratios (``quick``: fewer steps, same keys)."""
    steps, frames, seed = (20, 10, 0) if quick else (200, 60, 0)
    single = _single_steps_per_s(steps, seed)
    sync = _vector_steps_per_s("sync", steps // NUM_ENVS, seed)
    async_ = _vector_steps_per_s("async", steps // NUM_ENVS, seed)
    render = {f"{s}x{s}": _render_fps(s, frames, seed) for s in RENDER_SIZES}
    return {
        "env": STEP_ENV.split(":", 1)[1],
        "env_kwargs": dict(STEP_KWARGS),
        "num_envs": NUM_ENVS,
        "single_steps_per_s": single,
        "sync_steps_per_s": sync,
        "async_steps_per_s": async_,
        "sync_speedup": sync / single,
        "async_speedup": async_ / single,
        "renderer": "tiny",
        "render_fps": render,
        "render_224_vs_64": render["224x224"] / render["64x64"],
    }
