"""Synthetic episodes for the data tests (random pixels, depth, extras), seeded for reproducibility."""

from __future__ import annotations

import numpy as np

from embodied.data import Episode, VQAPair

TASKS = ("put the red cube in the blue bowl", "stack the green block on the red cube")


def make_episodes(lengths: tuple[int, ...] = (3, 5, 2), size: int = 8, seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    episodes = []
    for i, length in enumerate(lengths):
        episodes.append(
            Episode(
                images={
                    cam: rng.integers(0, 256, (length, size, size, 3), dtype=np.uint8) for cam in ("front", "wrist")
                },
                state=rng.normal(size=(length, 15)).astype(np.float32),
                actions=rng.uniform(-1, 1, (length, 7)).astype(np.float32),
                task=TASKS[i % 2],
                rewards=rng.uniform(0, 1, length).astype(np.float32),
                dones=np.arange(length) == length - 1,
                depth={"front": rng.uniform(0.1, 3.0, (length, size, size)).astype(np.float32)},
                env_id="embodied/PickPlace-v0",
                seed=100 + i if i != 1 else None,
                success=i % 2 == 0,
                plan=f"pick(red_cube)\nplace(red_cube, blue_bowl) #{i}" if i != 2 else None,
                vqa=[VQAPair("how many red objects are there?", str(i), "count")] * (i % 2 + 1) if i != 1 else [],
                captions=[f"scene {i}: a red cube, a blue bowl"],
            )
        )
    return episodes
