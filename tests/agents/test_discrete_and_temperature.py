"""Discrete models (``discrete_actions: n`` + an ``action-tokens`` head with ``bins: n``) and sampling temperature.

Index ``k`` is the centre of bin ``k`` after the processor's normalisation, so the head's tokens map one-to-one to
the indices and back (issue 14); the agent steps a ``Discrete`` space with int64 indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from embodied.agents.mmllm import MMLLMAgent
from embodied.config import ModelSpec
from tests.agents.support import env_model, head

N = 7


@pytest.fixture(scope="module")
def discrete_model() -> Any:
    return env_model({"act": head("action-tokens", bins=N)}, action_dim=1, discrete_actions=N)


def test_indices_map_one_to_one_to_bins_and_back(discrete_model: Any) -> None:
    processor, token_head = discrete_model.processor, discrete_model.head_map["act"]
    indices = np.arange(N, dtype=np.float32)[:, None]  # [N, 1]
    normalised = processor.normalize_actions(indices)
    bins = token_head.to_bins(torch.as_tensor(normalised))
    assert bins[:, 0].tolist() == list(range(N))  # index k is bin k
    decoded = token_head.decode(token_head.encode(torch.as_tensor(normalised)[:, None]))  # [N, 1, 1]
    np.testing.assert_array_equal(processor.unnormalize_actions(decoded[:, 0].numpy()), indices)
    assert processor.env_actions(decoded[:, 0].numpy()).tolist() == list(range(N))


def test_log_prob_of_every_index_is_a_distribution(discrete_model: Any) -> None:
    token_head = discrete_model.head_map["act"]
    hidden = torch.randn(1, 1, discrete_model.backbone.embed_dim).expand(N, 1, -1)
    actions = torch.as_tensor(discrete_model.processor.normalize_actions(np.arange(N, dtype=np.float32)[:, None]))
    log_p = token_head.log_prob(actions[:, None], hidden)  # [N]: every index under the same state
    assert torch.isclose(log_p.exp().sum(), torch.tensor(1.0), atol=1e-5)


def test_the_agent_steps_with_int64_indices(discrete_model: Any, reset: tuple) -> None:
    obs, info = reset
    agent = MMLLMAgent(discrete_model, "act", do_sample=True, seed=3)
    agent.reset(2)
    action = agent.act(obs, info)
    assert action.shape == (2,) and action.dtype == np.int64 and np.all((action >= 0) & (action < N))


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"action_dim": 2}, "action_dim 1"),
        ({"heads": {"act": {"kind": "action-tokens", "bins": 8}}}, "heads.act.bins is 8"),
        ({"action_low": [0.0], "action_high": [6.0]}, "leave action_low/action_high unset"),
    ],
)
def test_discrete_actions_cross_checks(spec: dict[str, Any], needle: str) -> None:
    base = {"action_dim": 1, "discrete_actions": N, "heads": {"act": {"kind": "action-tokens", "bins": N}}}
    with pytest.raises(ValidationError, match=needle):
        ModelSpec(**(base | spec))


def test_temperature_scales_samples_and_a_seed_repeats_them(reset: tuple) -> None:
    """On a continuous head (Laplace scale × T): near T = 0 a sample is the mean, at T = 1 it is not; the same seed
    repeats the same samples. (A fresh model's new action tokens share one embedding, so their logits tie and
    the token head's temperature cannot show here; the generator's ``_pick`` divides logits by T.)"""
    obs, info = reset
    model = env_model({"act": head("continuous", chunk=1)})

    def rollout(temperature: float, sample: bool = True, seed: int = 0) -> np.ndarray:
        agent = MMLLMAgent(model, "act", do_sample=sample, temperature=temperature, seed=seed, chunk_queue=False)
        agent.reset(2)
        return np.stack([agent.act(obs, info if t == 0 else {}) for t in range(4)])

    mode = rollout(1.0, sample=False)
    np.testing.assert_array_equal(rollout(0.5), rollout(0.5))
    np.testing.assert_allclose(rollout(1e-4), mode, atol=1e-3)
    assert np.abs(rollout(1.0) - mode).max() > 10 * np.abs(rollout(1e-4) - mode).max()
    with pytest.raises(ValueError, match="temperature must be > 0"):
        MMLLMAgent(model, "act", temperature=0.0)
