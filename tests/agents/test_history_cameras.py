"""Observation history (``GymAdapter(history=K)``) reaches the model as extra cameras and changes its output."""

from __future__ import annotations

import numpy as np
import torch

from embodied.envs.wrappers.adapter import GymAdapter
from embodied.models.config import MMLLMConfig
from embodied.models.mmllm import MMLLM
from tests.envs.test_adapter import MissionGrid
from tests.factory import tiny_spec


def test_a_model_listing_the_history_cameras_reads_the_previous_frame() -> None:
    env = GymAdapter(MissionGrid(), image_size=32, resize="nearest", history=2)
    env.reset(seed=0)
    obs, *_ = env.step(0)
    assert not np.array_equal(obs["images"]["front"], obs["images"]["front-1"])  # the agent moved
    torch.manual_seed(0)
    spec = {**tiny_spec(), "cameras": env.cameras, "state_dim": int(obs["state"].shape[0])}
    model = MMLLM(MMLLMConfig(spec=spec)).eval()
    batch = model.processor([obs], [obs["instruction"]], ["right"])
    assert set(batch["images"]) == {"front", "front-1"}
    still = {**obs, "images": {**obs["images"], "front-1": obs["images"]["front"]}}  # as if it had not moved
    with torch.no_grad():
        moved = model(**batch).loss
        unmoved = model(**model.processor([still], [obs["instruction"]], ["right"])).loss
    assert torch.isfinite(moved) and not torch.equal(moved, unmoved)
