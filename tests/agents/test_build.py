"""``load_agent`` (default head, saved weights, int8 dynamic quantization) and ``make_baseline``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear

from embodied.agents.build import default_action_head, load_agent, make_baseline, quantize_model
from embodied.agents.mmllm import MMLLMAgent
from embodied.agents.random import RandomAgent
from embodied.agents.scripted import ScriptedAgent
from embodied.data.samples import action_prompt
from tests.agents.support import env_model, head, vector_env

CHUNK = 2


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: Any, reset: tuple) -> tuple[Path, np.ndarray]:
    """A tiny model fitted (120 Adam steps) to one action chunk per env, saved; returns (dir, target chunks)."""
    obs, _ = reset
    model = env_model({"act": head("action-tokens", chunk=CHUNK), "cont": head("continuous", chunk=CHUNK)}).train()
    targets = np.random.default_rng(0).uniform(-0.9, 0.9, (2, CHUNK, 7)).astype(np.float32)
    ids = model.head_map["act"].encode(torch.as_tensor(targets))
    singles = [{"images": {"top": obs["images"]["top"][i]}, "state": obs["state"][i]} for i in (0, 1)]
    prompts = [action_prompt(t) for t in obs["instruction"]]
    batch = model.processor(singles, prompts, [row.tolist() for row in ids], actions=targets)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(120):
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out = tmp_path_factory.mktemp("model")
    model.save_pretrained(out)
    return out, targets


def test_default_head_prefers_pointer_then_tokens_then_continuous_then_diffusion() -> None:
    every = {"text": head("text"), "diff": head("diffusion"), "cont": head("continuous"), "act": head("action-tokens")}
    assert default_action_head(env_model({**every, "ptr": head("pointer")})) == "ptr"
    assert default_action_head(env_model(every)) == "act"
    assert default_action_head(env_model({"diff": head("diffusion"), "cont": head("continuous")})) == "cont"
    with pytest.raises(ValueError, match="no action head"):
        default_action_head(env_model({"text": head("text")}))


def test_load_agent_acts_with_the_saved_weights(trained_dir: tuple, reset: tuple) -> None:
    path, targets = trained_dir
    agent = load_agent(path, seed=0)
    assert isinstance(agent, MMLLMAgent) and agent.head_name == "act" and agent.chunk_queue
    agent.reset(2)
    obs, info = reset
    actions = np.stack([agent.act(obs, info if t == 0 else {}) for t in range(CHUNK)], axis=1)  # [2, H, 7]
    bin_width = 2.0 / 32
    assert np.abs(actions - targets).max() <= bin_width / 2 + 1e-6  # the fitted chunk, at its bin centres
    assert load_agent(path, "cont", temporal_ensemble=0.1).temporal_ensemble == 0.1


def test_int8_agent_matches_fp32_on_a_trained_tiny_model(trained_dir: tuple, reset: tuple) -> None:
    path, _ = trained_dir
    obs, info = reset
    for name, tolerance in (("act", 0.0), ("cont", 0.05)):
        fp32, int8 = load_agent(path, name), load_agent(path, name, quantize="int8")
        assert sum(isinstance(m, QuantizedLinear) for m in int8.model.modules()) > 10
        assert not any(type(m) is torch.nn.Linear for m in int8.model.backbone.modules())
        fp32.reset(2)
        int8.reset(2)
        for t in range(CHUNK):
            a, b = fp32.act(obs, info if t == 0 else {}), int8.act(obs, info if t == 0 else {})
            assert np.abs(a - b).max() <= tolerance + 1e-6, name


def test_int8_quantization_keeps_lora_models_working(reset: tuple) -> None:
    obs, info = reset
    lora = {"encoders": "full", "projector": "lora", "backbone": {"method": "lora", "r": 4}, "heads": "full"}
    model = env_model({"cont": head("continuous")}, trainable=lora)
    reference = MMLLMAgent(model, "cont").act(obs, info)
    quantized = quantize_model(model, "int8")  # merges the backbone's adapters; the projector's stay float
    assert type(quantized.backbone.model).__name__ == "Qwen2ForCausalLM"
    np.testing.assert_allclose(MMLLMAgent(quantized, "cont").act(obs, info), reference, atol=0.05)
    with pytest.raises(ValueError, match="quantize must be one of"):
        quantize_model(model, "int4")


def test_baselines() -> None:
    envs = vector_env(n=2, seed=0)
    try:
        obs, info = envs.reset(seed=0)
        random_agent = make_baseline("random", envs, seed=3)
        assert isinstance(random_agent, RandomAgent)
        first = random_agent.act(obs, info)
        assert first.shape == (2, 7) and np.all(np.abs(first) <= 1.0)
        np.testing.assert_array_equal(make_baseline("random", envs, seed=3).act(obs, info), first)
        scripted = make_baseline("scripted", envs)
        assert isinstance(scripted, ScriptedAgent)
        np.testing.assert_array_equal(scripted.act(obs, info), np.stack(envs.call("expert_action")))
        with pytest.raises(ValueError, match="unknown baseline"):
            make_baseline("oracle", envs)
    finally:
        envs.close()
