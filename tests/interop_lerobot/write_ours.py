"""Step 1 (our venv): write small datasets with ``embodied.data.write_dataset`` and export what we wrote.

    .venv/bin/python tests/interop_lerobot/write_ours.py /tmp/interop

Writes ``ours_inline`` (PNG images inline), ``ours_video`` (AV1, LeRobot's default codec) and ``ours_h264``
(H.264 video) under OUT, each with two RGB cameras, one depth camera (float metres) and a two-task episode; the
edge cases ``ours_points`` (``action.points`` pointing targets), ``ours_split`` (H.264, every episode in its own
data and video file, two files per chunk directory), ``ours_stateless`` (no cameras, no state) and
``ours_names`` (30 fps, named dimensions); plus ``ours_expected.npz``: the values written (for
``check_lerobot.py``) and the frames our reader decodes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from embodied.data import Episode, read_dataset, write_dataset  # noqa: E402
from tests.unit.data.helpers import make_episodes  # noqa: E402

SIZE = 32  # SVT-AV1 and x264 need frames of a few macroblocks
FPS = 10
DATASETS: dict[str, dict[str, Any]] = {
    "ours_inline": {},
    "ours_video": {"video": True},
    "ours_h264": {"video": True, "video_codec": "libx264"},
}
SPLIT: dict[str, Any] = {
    "video": True,
    "video_codec": "libx264",
    "data_file_mb": 1e-6,
    "video_file_mb": 1e-6,
    "chunks_size": 2,
}


def smooth(frames: np.ndarray) -> np.ndarray:
    """Random pixels do not survive lossy video; blocks of 8x8 constant colour do (and stay distinct)."""
    blocks = frames[:, :: SIZE // 4, :: SIZE // 4]
    return np.repeat(np.repeat(blocks, SIZE // 4, 1), SIZE // 4, 2)


def episodes() -> list[Episode]:
    eps = make_episodes((4, 5, 3), size=SIZE)
    base = make_episodes((6,), size=SIZE, seed=5)[0]
    tasks = ["pick up the red cube."] * 3 + ["place it in the blue bowl."] * 3
    eps.append(
        Episode(
            images=base.images,
            state=base.state,
            actions=base.actions,
            task=tasks[0],
            depth=base.depth,
            frame_tasks=tasks,
            plan="pick(red_cube)\nplace(red_cube, blue_bowl)",
        )
    )
    for ep in eps:
        ep.images = {cam: smooth(v) for cam, v in ep.images.items()}
    return eps


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    eps = episodes()
    export: dict[str, np.ndarray] = {
        "lengths": np.array([len(ep) for ep in eps]),
        "tasks": np.array([ep.task_at(t) for ep in eps for t in range(len(ep))]),
        "action": np.concatenate([ep.actions for ep in eps]),
        "observation.state": np.concatenate([ep.state for ep in eps]),
        "next.reward": np.concatenate([ep.rewards for ep in eps]),  # type: ignore[misc]
        "next.done": np.concatenate([ep.dones for ep in eps]),  # type: ignore[misc]
        "front": np.concatenate([ep.images["front"] for ep in eps]),
        "wrist": np.concatenate([ep.images["wrist"] for ep in eps]),
        "depth": np.concatenate([ep.depth["front"] for ep in eps]),
    }
    for name, options in DATASETS.items():
        root = write_dataset(eps, out / name, fps=FPS, robot_type="panda", overwrite=True, **options)
        ds = read_dataset(root)
        export[f"{name}/front"] = ds.images("observation.images.front")
        export[f"{name}/wrist"] = ds.images("observation.images.wrist")
        print(f"wrote {root}: {ds.num_episodes} episodes, {ds.num_frames} frames")
    for name, (eps_, fps, options) in edge_cases(eps).items():
        root = write_dataset(eps_, out / name, fps=fps, overwrite=True, **options)
        export[f"{name}/lengths"] = np.array([len(ep) for ep in eps_])
        export[f"{name}/action"] = np.concatenate([ep.actions for ep in eps_])
        if eps_[0].points is not None:
            export[f"{name}/points"] = np.concatenate([ep.points for ep in eps_])  # type: ignore[misc]
        print(f"wrote {root}: {len(eps_)} episodes, {sum(map(len, eps_))} frames")
    np.savez(out / "ours_expected.npz", **export)  # type: ignore[arg-type]


def edge_cases(eps: list[Episode]) -> dict[str, tuple[list[Episode], int, dict[str, Any]]]:
    rng = np.random.default_rng(3)
    pointing = make_episodes((4, 5, 3), size=SIZE)
    for ep in pointing:
        ep.points = rng.uniform(0, SIZE, (len(ep), 2, 2)).astype(np.float32)
        ep.point_camera = "front"
    stateless = [
        Episode(images={}, state=np.zeros((n, 0), np.float32), actions=rng.normal(size=(n, 3)), task="reach")
        for n in (3, 4)
    ]
    names = {"action": [f"a{i}" for i in range(7)], "observation.state": [f"s{i}" for i in range(15)]}
    return {
        "ours_points": (pointing, FPS, {}),
        "ours_split": (eps, FPS, SPLIT),
        "ours_stateless": (stateless, FPS, {}),
        "ours_names": (eps, 30, {"names": names}),
    }


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/interop"))
