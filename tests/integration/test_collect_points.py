"""Pointing targets recorded by the expert collection, and collection split over worker processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embodied.agents.collection import collect_dataset, collect_episodes
from embodied.config import ExperimentConfig
from embodied.config.data import DataSpec
from embodied.data import read_dataset
from embodied.models.heads.pointing_geometry import world_to_pixel

KWARGS = {"control": "primitive", "image_size": 64, "cameras": ["top"]}


def test_points_are_the_expert_action_in_the_first_camera() -> None:
    import gymnasium as gym

    from embodied.envs.tabletop.control import decode_primitive

    data = DataSpec(env_kwargs=KWARGS, episodes=3, seed=5, num_envs=1, annotations=["points"])
    episodes, _ = collect_episodes(data, progress=False)
    env = gym.make("embodied/PickPlace-v0", **KWARGS)
    for k, episode in enumerate(episodes):
        assert episode.point_camera == "top" and episode.points is not None
        _, info = env.reset(seed=5 + k)
        physical = decode_primitive(episode.actions[0].astype(np.float64))
        world = np.stack([physical[:3], physical[3:6]]) + np.array([0, 0, env.unwrapped.scene.table_height])
        params = info["camera_params"]["top"]
        uv, _ = world_to_pixel(world, params["intrinsics"], params["extrinsics"])
        np.testing.assert_allclose(episode.points[0], uv, atol=1e-4)
        assert ((episode.points >= 0) & (episode.points <= 63)).all()  # the top camera sees the workspace
    env.close()


def test_points_need_primitive_control() -> None:
    data = DataSpec(env_kwargs={"control": "ee_delta"}, episodes=1, annotations=["points"])
    with pytest.raises(ValueError, match="primitive"):
        collect_episodes(data, progress=False)


@pytest.mark.slow
def test_workers_split_the_seeds_and_merge_in_order(tmp_path: Path) -> None:
    data = {"env_kwargs": {**KWARGS, "image_size": 32}, "episodes": 5, "seed": 7, "annotations": ["points", "plans"]}
    one = ExperimentConfig(data=DataSpec(**data, workers=1))
    two = ExperimentConfig(data=DataSpec(**data, workers=2))
    a = read_dataset(collect_dataset(one, tmp_path / "one", progress=False)).episodes()
    b = read_dataset(collect_dataset(two, tmp_path / "two", progress=False)).episodes()
    assert [e.seed for e in b] == [7, 8, 9, 10, 11]
    for x, y in zip(a, b, strict=True):
        assert x.task == y.task and x.plan == y.plan
        np.testing.assert_array_equal(x.actions, y.actions)
        np.testing.assert_array_equal(x.images["top"], y.images["top"])
        np.testing.assert_array_equal(x.points, y.points)
    assert not list(tmp_path.glob(".*shards*"))  # the shard datasets are removed


def test_vqa_pairs_carry_their_referents_pixels_in_the_first_camera() -> None:
    data = DataSpec(env_kwargs=KWARGS, episodes=3, seed=2, num_envs=1, annotations=["vqa"],
                    vqa_qtypes=["count", "colour", "existence"])  # fmt: skip
    episodes, _ = collect_episodes(data, progress=False)
    seen = set()
    for episode in episodes:
        assert episode.point_camera == "top"
        for pair in episode.vqa:
            assert pair.points is not None and all(0 <= c <= 63 for p in pair.points for c in p)
            seen.add((pair.qtype, len(pair.points)))
            if pair.qtype == "count":
                assert len(pair.points) == int(pair.answer)  # every item counted
            if pair.qtype == "colour":
                assert len(pair.points) == 1  # the item asked about
            if pair.qtype == "existence":
                assert len(pair.points) == (1 if pair.answer == "yes" else 0)
    assert {q for q, _ in seen} == {"count", "colour", "existence"}
