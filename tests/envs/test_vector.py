"""Vector envs from ids: per-env seeds (seed + i), NEXT_STEP autoreset, async with the spawn start method."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from embodied.envs.vector import env_fns, make_vector_env


def _single_rollout(env_id: str, seed: int, steps: int) -> list[np.ndarray]:
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, *_ = env.step(0)
        out.append(obs)
    return out


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sub_env_i_replays_a_single_env_seeded_with_seed_plus_i(mode: str) -> None:
    envs = make_vector_env("CartPole-v1", 3, mode=mode, seed=10, context="spawn" if mode == "async" else None)
    try:
        obs, _ = envs.reset(seed=10)
        batch = [obs]
        for _ in range(4):
            obs, *_ = envs.step(np.zeros(3, dtype=np.int64))
            batch.append(obs)
    finally:
        envs.close()
    for i in range(3):
        expected = _single_rollout("CartPole-v1", 10 + i, 4)
        np.testing.assert_array_equal(np.stack([b[i] for b in batch]), np.stack(expected))
    assert not np.array_equal(batch[0][0], batch[0][1])  # different seeds, different starts


def test_next_step_autoreset_ignores_the_action_after_done() -> None:
    envs = make_vector_env("CartPole-v1", 2, seed=0)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = envs.reset(seed=0)
    ended_at = None
    for t in range(200):
        obs, reward, terminated, truncated, _ = envs.step(np.zeros(2, dtype=np.int64))
        if terminated[0] or truncated[0]:
            ended_at = t
            break
    assert ended_at is not None and terminated[0]
    obs, reward, terminated, truncated, _ = envs.step(np.zeros(2, dtype=np.int64))
    # Sub-env 0 was reset: reward 0, flags cleared, the observation is within CartPole's ±0.05 start range.
    assert reward[0] == 0.0 and not terminated[0] and not truncated[0]
    assert np.all(np.abs(obs[0]) <= 0.05)
    envs.close()


def test_action_space_sampling_is_seeded() -> None:
    a = make_vector_env("CartPole-v1", 2, seed=4)
    b = make_vector_env("CartPole-v1", 2, seed=4)
    samples_a = [a.action_space.sample() for _ in range(20)]
    samples_b = [b.action_space.sample() for _ in range(20)]
    np.testing.assert_array_equal(samples_a, samples_b)
    for i, fn in enumerate(env_fns("CartPole-v1", 2, seed=4)):
        reference = gym.make("CartPole-v1").action_space
        reference.seed(4 + i)
        space = fn().action_space
        assert [space.sample() for _ in range(20)] == [reference.sample() for _ in range(20)]
    a.close()
    b.close()


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="num_envs"):
        env_fns("CartPole-v1", 0)
    with pytest.raises(ValueError, match="context"):
        make_vector_env("CartPole-v1", 2, mode="sync", context="spawn")
    with pytest.raises(ValueError, match="shared_memory"):
        make_vector_env("CartPole-v1", 2, mode="sync", shared_memory=True)
    with pytest.raises(ValueError, match="vector mode"):
        make_vector_env("CartPole-v1", 2, mode="threads")  # type: ignore[arg-type]


def test_env_fns_are_plain_partials_of_a_module_function() -> None:
    """What spawn needs: picklable by reference, no closures over the parent's state."""
    fn = env_fns("CartPole-v1", 2, seed=1)[1]
    assert isinstance(fn, functools.partial) and fn.func.__module__ == "embodied.envs.vector"
    assert fn.args[0] == "CartPole-v1" and fn.args[2] == 2


VQA = "embodied/TabletopVQA-v0"
VQA_KWARGS = {"image_size": 8, "cameras": ("front",)}


def _single_vqa(seed: int) -> tuple[dict, dict]:
    """A single env's first observation (seed) and the one after its first answer and a plain reset()."""
    env = gym.make(VQA, **VQA_KWARGS)
    first, _ = env.reset(seed=seed)
    env.step("yes")
    second, _ = env.reset()
    env.close()
    return first, second


def test_async_spawn_from_the_public_id_alone() -> None:
    """Fresh interpreters get nothing but the id: the module prefix makes gymnasium import embodied.envs."""
    fn = functools.partial(gym.make, "embodied.envs:" + VQA, **VQA_KWARGS)
    # shared_memory=False: gymnasium's shared-memory path freezes Text observations (see embodied.envs.vector).
    envs = gym.vector.AsyncVectorEnv([fn, fn], context="spawn", shared_memory=False)
    try:
        obs, _ = envs.reset(seed=5)
    finally:
        envs.close()
    for i in range(2):
        expected, _ = _single_vqa(5 + i)
        assert obs["question"][i] == expected["question"]
        assert obs["images"]["front"][i].tobytes() == expected["images"]["front"].tobytes()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vqa_vector_env_autoresets_on_the_next_step(mode: str) -> None:
    envs = make_vector_env(VQA, 2, mode=mode, seed=7, context="spawn" if mode == "async" else None, **VQA_KWARGS)
    try:
        obs, _ = envs.reset(seed=7)
        _, reward, terminated, truncated, info = envs.step(("yes", "no"))
        assert terminated.all() and not truncated.any()  # one question per episode
        assert set(np.asarray(reward).tolist()) <= {0.0, 1.0} and len(info["answer"]) == 2
        after, reward, terminated, truncated, _ = envs.step(("ignored", "ignored"))
    finally:
        envs.close()
    assert reward.tolist() == [0.0, 0.0] and not terminated.any() and not truncated.any()
    for i in range(2):
        first, second = _single_vqa(7 + i)
        assert obs["question"][i] == first["question"]
        assert after["question"][i] == second["question"]  # the reset drew from the sub-env's own generator
        assert after["images"]["front"][i].tobytes() == second["images"]["front"].tobytes()
