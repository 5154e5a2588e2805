"""Optional: our datasets through LeRobot itself — load, quantile-normalise, append one episode, reload both ways.

LeRobot (0.6: ``lerobot.datasets.lerobot_dataset.LeRobotDataset``) needs Python >= 3.12 and torch < 2.12, so it
rarely shares this environment; the test runs wherever it is importable and is skipped otherwise. The same
rules are checked without LeRobot in ``test_lerobot_conventions.py`` (schemas, stats shapes, a simulated append).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from embodied.data import read_dataset, write_dataset
from tests.unit.data.helpers import make_episodes

pytest.importorskip(
    "lerobot",
    reason="LeRobot is not importable here (it needs Python >= 3.12 and torch < 2.12); "
    "the interop rules are also checked without it in test_lerobot_conventions.py",
)

from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.processor import NormalizerProcessorStep, TransitionKey, create_transition


def test_lerobot_loads_normalises_appends_and_both_reload(tmp_path: Path) -> None:
    episodes = make_episodes((4, 5, 3))
    root = write_dataset(episodes, tmp_path / "ours", fps=10, robot_type="panda")

    theirs = LeRobotDataset("local/ours", root=root)
    assert theirs.num_episodes == 3 and theirs.num_frames == 12
    frame = theirs[5]  # episode 1, frame 1
    assert frame["task"] == episodes[1].task
    np.testing.assert_allclose(frame["action"].numpy(), episodes[1].actions[1])
    np.testing.assert_allclose(
        frame["observation.images.front"].numpy(), episodes[1].images["front"][1].transpose(2, 0, 1) / 255.0, atol=1e-6
    )
    np.testing.assert_allclose(
        frame["observation.images.front_depth"].numpy()[0], episodes[1].depth["front"][1] * 1000.0, rtol=1e-6
    )  # LeRobot returns millimetres

    features = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(7,))}
    normalizer = NormalizerProcessorStep.from_lerobot_dataset(
        theirs, features, {FeatureType.ACTION: NormalizationMode.QUANTILES}
    )
    normalised = normalizer(create_transition(action=frame["action"][None]))[TransitionKey.ACTION]
    q01, q99 = theirs.meta.stats["action"]["q01"], theirs.meta.stats["action"]["q99"]
    expected = 2 * (frame["action"].numpy() - q01) / (q99 - q01) - 1
    np.testing.assert_allclose(normalised[0].numpy(), expected, rtol=1e-5, atol=1e-6)

    appender = LeRobotDataset.resume("local/ours", root=root)
    extra = make_episodes((2,), seed=9)[0]
    for t in range(len(extra)):
        appender.add_frame(
            {
                "observation.images.front": extra.images["front"][t],
                "observation.images.wrist": extra.images["wrist"][t],
                "observation.images.front_depth": extra.depth["front"][t][..., None],
                "observation.state": extra.state[t],
                "action": extra.actions[t],
                "next.reward": np.array([extra.rewards[t]], np.float32),
                "next.done": np.array([extra.dones[t]]),
                "task": "a task LeRobot added",
            }
        )
    appender.save_episode()
    appender.finalize()

    reloaded = LeRobotDataset("local/ours", root=root)
    assert reloaded.num_episodes == 4 and reloaded.num_frames == 14
    assert reloaded[13]["task"] == "a task LeRobot added"
    assert torch.isfinite(reloaded[13]["action"]).all()
    ours = read_dataset(root)
    assert ours.num_episodes == 4 and ours.episode(3).task == "a task LeRobot added"
    np.testing.assert_allclose(ours.episode(3).actions, extra.actions)
    assert ours.episode(0).plan == episodes[0].plan and ours.episode(3).plan is None
