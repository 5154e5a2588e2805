"""The env catalogue lists every registered ``embodied/`` id with what a user needs to pick one."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import embodied.envs
from embodied.envs.catalog import describe_envs


@pytest.fixture(scope="module")
def catalog() -> list[dict]:
    # ids other tests added with register_adapted (listed after these) are not the subject here
    return [entry for entry in describe_envs() if entry["id"].startswith("embodied/")]


def test_every_registered_id_is_described_once(catalog) -> None:
    ids = [entry["id"] for entry in catalog]
    assert ids == sorted(embodied.envs.ENV_IDS) == sorted(k for k in gym.registry if k.startswith("embodied/"))
    assert json.loads(json.dumps(catalog)) == catalog  # plain JSON for `embodied envs --json`


def test_entries_match_the_envs(catalog) -> None:
    for entry in catalog:
        env = gym.make(entry["id"], image_size=8)
        obs, _ = env.reset(seed=0)
        assert entry["observation_keys"] == sorted(obs)
        assert entry["cameras"] == sorted(obs["images"])
        assert entry["state_dim"] == obs["state"].shape[0] == 15
        assert entry["instruction_example"] == obs["instruction"] != ""
        assert set(entry["action_spaces"]) == set(entry["control_modes"])
        assert entry["task"] and entry["description"]
        env.close()


def test_tabletop_and_vqa_specifics(catalog) -> None:
    by_id = {entry["id"]: entry for entry in catalog}
    pick = by_id["embodied/PickPlace-v0"]
    assert pick["task"] == "pick_place" and pick["control_modes"] == ["primitive", "ee_delta"]
    assert pick["action_spaces"]["ee_delta"] == "Box(-1.0, 1.0, (4,), float32)"
    vqa = by_id["embodied/TabletopVQA-v0"]
    assert vqa["task"] == "vqa" and "question" in vqa["observation_keys"]
    assert vqa["question_example"].endswith("?") and list(vqa["action_spaces"]) == ["text"]
