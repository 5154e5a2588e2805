"""``MMLLMAgent``: chunk queues, episode ends, temporal ensembling, seeding, and every head kind on real envs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from embodied.agents.mmllm import MMLLMAgent
from embodied.agents.pointing import per_env_camera_params, pixels_to_primitive
from embodied.data.samples import action_prompt
from embodied.envs.vector import make_vector_env
from tests.agents.support import env_model, head

CHUNK = 4


@pytest.fixture(scope="module")
def token_model() -> Any:
    return env_model({"act": head("action-tokens", chunk=CHUNK)})


@pytest.mark.parametrize("steps", [1, 4, 5, 10])
def test_queue_queries_once_per_chunk(token_model: Any, reset: tuple, steps: int) -> None:
    obs, info = reset
    agent = MMLLMAgent(token_model, "act")
    agent.reset(2)
    actions = [agent.act(obs, info if t == 0 else {}) for t in range(steps)]
    assert agent.queries == math.ceil(steps / CHUNK)
    assert agent.queried_rows == 2 * math.ceil(steps / CHUNK)
    assert len(agent.decision_seconds) == steps
    chunk = agent.predict_chunks(obs, [0, 1])  # greedy on the same observation: the same chunk every query
    for t, action in enumerate(actions):
        assert action.shape == (2, 7) and action.dtype == np.float32
        np.testing.assert_array_equal(action, chunk[:, t % CHUNK])


def test_episode_done_clears_only_that_envs_queue(token_model: Any, reset: tuple) -> None:
    obs, info = reset
    agent = MMLLMAgent(token_model, "act")
    agent.reset(2)
    agent.act(obs, info)
    assert [agent.queue_length(0), agent.queue_length(1)] == [CHUNK - 1, CHUNK - 1]
    agent.episode_done(1)
    assert [agent.queue_length(0), agent.queue_length(1)] == [CHUNK - 1, 0]
    agent.act(obs, {})
    assert (agent.queries, agent.queried_rows) == (2, 3)  # only env 1 was queried again
    assert [agent.queue_length(0), agent.queue_length(1)] == [CHUNK - 2, CHUNK - 1]


def test_a_sub_env_that_autoresets_drops_its_queue(token_model: Any, reset: tuple) -> None:
    """The step that autoresets env 1 sends its reset info (camera_params masked to env 1): stale chunks go."""
    obs, info = reset
    agent = MMLLMAgent(token_model, "act")
    agent.reset(2)
    agent.act(obs, info)
    step_info = {"success": np.array([False, False]), "camera_params": info["camera_params"]}
    step_info["_camera_params"] = np.array([False, True])
    agent.act(obs, step_info)
    assert (agent.queries, agent.queried_rows) == (2, 3)
    assert [agent.queue_length(0), agent.queue_length(1)] == [CHUNK - 2, CHUNK - 1]


def test_without_queue_every_step_queries_and_runs_the_first_action(token_model: Any, reset: tuple) -> None:
    obs, info = reset
    agent = MMLLMAgent(token_model, "act", chunk_queue=False)
    agent.reset(2)
    first = agent.predict_chunks(obs, [0, 1])[:, 0]
    for _ in range(3):
        np.testing.assert_array_equal(agent.act(obs, info), first)
    assert agent.queries == 1 + 3


def test_temporal_ensemble_averages_overlapping_chunks(token_model: Any, reset: tuple, monkeypatch: Any) -> None:
    """Query t returns 10·t + j for step t + j; k = 0.5 weighs the oldest prediction most (ACT)."""
    obs, info = reset
    agent = MMLLMAgent(token_model, "act", temporal_ensemble=0.5)
    agent.reset(2)
    calls = iter(range(100))

    def fake(obs: dict[str, Any], rows: list[int]) -> np.ndarray:
        t = next(calls)
        return np.tile((10.0 * t + np.arange(CHUNK, dtype=np.float32))[None, :, None], (len(rows), 1, 7))

    monkeypatch.setattr(agent, "predict_chunks", fake)
    w1, w2 = math.exp(-0.5), math.exp(-1.0)
    expected = [0.0, (1 + 10 * w1) / (1 + w1), (2 + 11 * w1 + 20 * w2) / (1 + w1 + w2)]
    for t, value in enumerate(expected):
        np.testing.assert_allclose(agent.act(obs, info if t == 0 else {}), np.full((2, 7), value), rtol=1e-6)
    agent.episode_done(0)  # env 0 forgets its chunks in flight: its next action is the fresh chunk's first
    out = agent.act(obs, {})
    assert out[0, 0] == pytest.approx(30.0)
    assert out[1, 0] == pytest.approx((3 + 12 * w1 + 21 * w2 + 30 * math.exp(-1.5)) / (1 + w1 + w2 + math.exp(-1.5)))


def test_temporal_ensemble_queries_the_model_every_step(token_model: Any, reset: tuple) -> None:
    obs, info = reset
    agent = MMLLMAgent(token_model, "act", temporal_ensemble=0.0)
    agent.reset(2)
    chunk = agent.predict_chunks(obs, [0, 1])
    actions = [agent.act(obs, info if t == 0 else {}) for t in range(3)]
    assert agent.queries == 1 + 3
    np.testing.assert_allclose(actions[2], chunk[:, :3].mean(axis=1), rtol=1e-5)  # k = 0: the plain mean


def test_sampling_is_reproducible_for_a_seed(token_model: Any, reset: tuple) -> None:
    obs, info = reset

    def rollout(seed: int) -> np.ndarray:
        agent = MMLLMAgent(token_model, "act", do_sample=True, seed=seed, chunk_queue=False)
        agent.reset(2)
        return np.stack([agent.act(obs, info if t == 0 else {}) for t in range(3)])

    np.testing.assert_array_equal(rollout(0), rollout(0))
    assert not np.array_equal(rollout(0), rollout(1))


def test_parallel_heads_return_unnormalised_chunks(reset: tuple) -> None:
    obs, info = reset
    low, high = [-2.0] * 7, [0.0] * 7
    model = env_model({"cont": head("continuous"), "diff": head("diffusion")}, action_low=low, action_high=high)
    for name in ("cont", "diff"):
        agent = MMLLMAgent(model, name)
        agent.reset(2)
        action = agent.act(obs, info)
        assert action.shape == (2, 7) and np.all(action >= -2.0) and np.all(action <= 0.0)
        assert agent.queue_length(0) == model.head_map[name].chunk_length - 1
    agent = MMLLMAgent(model, "cont")
    agent.reset(2)
    batch = model.processor(
        [{"images": {"top": obs["images"]["top"][i]}, "state": obs["state"][i]} for i in (0, 1)],
        [action_prompt(t) for t in obs["instruction"]],
    )
    expected = (model.predict(batch, "cont")[:, 0].numpy() + 1.0) / 2.0 * 2.0 - 2.0
    np.testing.assert_allclose(agent.act(obs, info), expected, atol=1e-5)


def test_pointer_head_acts_with_primitives_from_its_pixels(reset: tuple) -> None:
    obs, info = reset
    model = env_model({"ptr": head("pointer")})
    agent = MMLLMAgent(model, "ptr")
    agent.reset(2)
    with pytest.raises(ValueError, match="camera_params"):
        agent.act(obs, {})
    action = agent.act(obs, info)
    assert action.shape == (2, 7) and np.all(np.abs(action) <= 1.0) and np.all(action[:, 6] == 0.0)
    assert agent.queue_length(0) == 0  # one primitive per query
    batch = model.processor(
        [{"images": {"top": obs["images"]["top"][i]}, "state": obs["state"][i]} for i in (0, 1)],
        [action_prompt(t) for t in obs["instruction"]],
    )
    out = model.predict(batch, "ptr")
    params = per_env_camera_params(info, 2)
    expected = pixels_to_primitive(out.pixels.numpy(), [["top", "top"]] * 2, [params[0], params[1]])
    np.testing.assert_allclose(agent.act(obs, {}), expected, atol=1e-6)  # parameters kept from reset


def test_text_head_answers_vqa_questions() -> None:
    envs = make_vector_env("embodied/TabletopVQA-v0", 2, seed=0, image_size=32, cameras=("top",))
    try:
        obs, info = envs.reset(seed=0)
        agent = MMLLMAgent(env_model({"text": head("text")}), "text", prompt="vqa")
        agent.reset(2)
        answers = agent.act(obs, info)
        assert isinstance(answers, tuple) and len(answers) == 2 and all(isinstance(a, str) for a in answers)
        _, reward, terminated, _, _ = envs.step(answers)
        assert terminated.all() and reward.shape == (2,)
    finally:
        envs.close()


def test_prompt_must_fit_the_head(token_model: Any) -> None:
    with pytest.raises(ValueError, match="prompt='action'"):
        MMLLMAgent(token_model, "act", prompt="vqa")
    with pytest.raises(ValueError, match="unknown prompt"):
        MMLLMAgent(token_model, "act", prompt="poem")
    with pytest.raises(KeyError, match="no head 'nope'"):
        MMLLMAgent(token_model, "nope")
    text = env_model({"text": head("text")})
    with pytest.raises(ValueError, match="prompt='vqa' or prompt='plan'"):
        MMLLMAgent(text, "text")


def test_agent_runs_in_eval_mode_without_gradients(token_model: Any, reset: tuple) -> None:
    token_model.train()
    agent = MMLLMAgent(token_model, "act")
    assert not token_model.training
    seen: list[bool] = []
    hook = token_model.backbone.register_forward_hook(lambda m, i, o: seen.append(torch.is_grad_enabled()))
    try:
        agent.act(*reset)
    finally:
        hook.remove()
    assert seen and not any(seen)
