"""Tiny models and envs for the RL tests: one case per head kind that RL trains."""

from __future__ import annotations

from typing import Any

import torch

from embodied.models import MMLLM, MMLLMConfig
from embodied.training.rl.policy import ActorCritic
from embodied.training.rl.rollout import Collector
from embodied.training.rl.settings import RLSpec
from tests.factory import HEAD_SPECS, tiny_spec

CARTPOLE = {"env": "CartPole-v1", "adapter": {"discrete_mode": "bins", "instruction": "balance the pole"}}
PICKPLACE = {
    "env": "embodied/PickPlace-v0",
    "env_kwargs": {"control": "primitive", "image_size": 32, "cameras": ["top"]},
}
VQA = {"env": "embodied/TabletopVQA-v0", "env_kwargs": {"image_size": 32, "cameras": ["top"], "qtypes": ["count"]}}


def state_model(head: dict[str, Any], seed: int = 0) -> MMLLM:
    """A state-only tiny model for CartPole (4-d state, 1-d action)."""
    spec = tiny_spec(encoders={"state": {"kind": "proprio"}}, heads={"act": head})
    spec.update(state_dim=4, action_dim=1, cameras=["front"])
    torch.manual_seed(seed)
    return MMLLM(MMLLMConfig(spec=spec))


def image_model(heads: dict[str, Any], seed: int = 0) -> MMLLM:
    """A 32×32 top-camera tiny model (dense map at stride 1 for pointing) for the tabletop envs."""
    spec = tiny_spec(encoders={"image": {"kind": "cnn", "stride": 1, "channels": [8, 8]}}, heads=heads)
    spec.update(state_dim=15, action_dim=7, cameras=["top"])
    torch.manual_seed(seed)
    return MMLLM(MMLLMConfig(spec=spec))


#: name → (model builder, env settings, head name)
CASES: dict[str, tuple[Any, dict[str, Any], str]] = {
    "action-tokens": (lambda: state_model({"kind": "action-tokens", "bins": 2}), CARTPOLE, "act"),
    "continuous": (lambda: state_model(dict(HEAD_SPECS["continuous"])), CARTPOLE, "act"),
    "pointer": (lambda: image_model({"pointer": dict(HEAD_SPECS["pointer"])}), PICKPLACE, "pointer"),
    "text": (lambda: image_model({"text": dict(HEAD_SPECS["text"])}), VQA, "text"),
}


def collector_for(case: str, num_envs: int = 3, critic: bool = True, **rl: Any) -> Collector:
    from embodied.agents.rl_envs import make_rl_envs

    build, env, head = CASES[case]
    model = build()
    spec = RLSpec(**{**env, "num_envs": num_envs, "rollout_steps": 4, **rl})
    policy = ActorCritic(model, head, spec.temperature, 16 if critic else None)
    envs, decoder = make_rl_envs(spec, num_envs, model, head)
    prompt = "vqa" if case == "text" else "action"
    return Collector(envs, decoder, policy, spec, prompt)
