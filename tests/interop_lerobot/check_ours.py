"""Step 3 (our venv): what LeRobot wrote, read with ``embodied.data.read_dataset``.

    .venv/bin/python tests/interop_lerobot/check_ours.py /tmp/interop

- ``ours_*_appended``: our datasets after LeRobot appended a two-task episode — every old episode unchanged
  (extras included), the new one equal to what LeRobot was given (video frames equal to LeRobot's own decode),
  ``validate_dataset`` clean;
- the edge cases (pointing targets, many files and chunks, no state, 30 fps) after LeRobot appended to them;
- ``ours_*_deleted`` / ``ours_*_merged``: LeRobot's ``delete_episodes`` and ``merge_datasets`` run on ours;
- ``lr_video`` / ``lr_image``: datasets LeRobot recorded itself (video RGB, depth video in uint16 millimetres,
  inline float-metre and uint16-millimetre depth cameras, a two-task episode) — values equal to what LeRobot was
  given and to what LeRobot decodes, each frame's own task, samples and prompts made from them.

Each check prints PASS/FAIL; the exit status is the number of failures.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from embodied.data import make_samples, read_dataset, validate_dataset  # noqa: E402

RESULTS: list[tuple[str, bool, str]] = []


@contextlib.contextmanager
def check(name: str) -> Iterator[None]:
    try:
        yield
    except Exception as err:  # every failure is reported, none stops the run
        detail = "".join(traceback.format_exception_only(type(err), err)).strip()
        RESULTS.append((name, False, detail))
        tail = traceback.format_exc().strip().splitlines()[-6:]
        print(f"FAIL {name}: {detail}\n    " + "\n    ".join(tail), flush=True)
    else:
        RESULTS.append((name, True, ""))
        print(f"PASS {name}", flush=True)


def appended(out: Path, ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> None:
    for name in ("ours_inline", "ours_video", "ours_h264"):
        root = out / f"{name}_appended"
        new = {k.removeprefix(f"{name}_appended/"): v for k, v in theirs.items() if k.startswith(f"{name}_appended/")}
        if not root.exists() or not new:
            RESULTS.append((f"{name}_appended: present", False, "check_lerobot.py did not append to it"))
            continue
        with check(f"{name}_appended: validate_dataset is clean"):
            problems = validate_dataset(root)
            assert problems == [], [str(p) for p in problems]
        with check(f"{name}_appended: our reader reads the old episodes unchanged and LeRobot's new one"):
            ds = read_dataset(root)
            old = len(ours["lengths"])
            assert ds.num_episodes == old + 1 and ds.num_frames == ours["lengths"].sum() + 5
            episodes = ds.episodes()
            np.testing.assert_array_equal(np.concatenate([e.actions for e in episodes[:old]]), ours["action"])
            assert episodes[old - 1].plan == "pick(red_cube)\nplace(red_cube, blue_bowl)"  # extras kept
            assert [e.task_at(t) for e in episodes[:old] for t in range(len(e))] == list(ours["tasks"])
            last = episodes[old]
            assert last.plan is None and last.captions == [] and last.vqa == []
            assert [last.task_at(t) for t in range(len(last))] == list(new["tasks"]), last.frame_tasks
            np.testing.assert_array_equal(last.actions, new["action"])
            np.testing.assert_array_equal(last.state, new["observation.state"])
            np.testing.assert_array_equal(last.rewards, new["next.reward"])
            np.testing.assert_array_equal(last.dones, new["next.done"])
            np.testing.assert_array_equal(last.depth["front"], new["depth"])
            if name == "ours_inline":
                np.testing.assert_array_equal(last.images["front"], new["front"])
                np.testing.assert_array_equal(last.images["wrist"], new["wrist"])
            else:
                diff = np.abs(last.images["front"].astype(int) - new["lerobot/front"]).max()
                print(f"    front: max |our decode - LeRobot's decode| = {diff}")
                assert diff <= 2, diff
            stats = json.loads((root / "meta/stats.json").read_text())
            assert {"q01", "q99"} <= set(stats["action"]) and stats["action"]["count"] == [int(ds.num_frames)]


def edge_cases(out: Path, ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> None:
    """The edge-case datasets after LeRobot appended a 3-frame episode of placeholder values."""
    for name in ("ours_points", "ours_split", "ours_stateless", "ours_names"):
        root = out / f"{name}_appended"
        with check(f"{name}_appended: validate_dataset is clean, our reader reads every episode"):
            problems = validate_dataset(root)
            assert problems == [], [str(p) for p in problems]
            episodes = read_dataset(root).episodes()
            lengths = ours[f"{name}/lengths"]
            assert [len(e) for e in episodes] == [*lengths, 3]
            np.testing.assert_array_equal(np.concatenate([e.actions for e in episodes[:-1]]), ours[f"{name}/action"])
            np.testing.assert_array_equal(episodes[-1].actions, theirs[f"{name}_appended/action"])
            assert episodes[-1].task == "a task LeRobot added"
            if f"{name}/points" in ours:  # LeRobot had to fill action.points: in the dataset's one point camera
                assert episodes[-1].point_camera == "front" and episodes[0].point_camera == "front"
                np.testing.assert_array_equal(episodes[-1].points, theirs[f"{name}_appended/points"])
            if name == "ours_stateless":
                assert episodes[-1].state.shape == (3, 0) and episodes[0].images == {}


def lerobot_tools(out: Path, ours: dict[str, np.ndarray]) -> None:
    """What LeRobot's delete_episodes / merge_datasets made of our datasets (new directories: no extras)."""
    starts = np.concatenate([[0], np.cumsum(ours["lengths"])])
    keep = np.concatenate([np.arange(starts[e], starts[e + 1]) for e in (0, 2, 3)])
    for name in ("ours_inline", "ours_video"):
        with check(f"{name}_deleted (LeRobot's delete_episodes([1])): our reader"):
            root = out / f"{name}_deleted"
            assert validate_dataset(root) == [], [str(p) for p in validate_dataset(root)]
            episodes = read_dataset(root).episodes()
            assert [len(e) for e in episodes] == [ours["lengths"][e] for e in (0, 2, 3)]
            np.testing.assert_array_equal(np.concatenate([e.actions for e in episodes]), ours["action"][keep])
            assert [e.task_at(t) for e in episodes for t in range(len(e))] == list(ours["tasks"][keep])
        with check(f"{name}_merged (LeRobot's merge_datasets): our reader"):
            root = out / f"{name}_merged"
            assert validate_dataset(root) == [], [str(p) for p in validate_dataset(root)]
            ds = read_dataset(root)
            assert ds.num_episodes == 9 and ds.num_frames == 2 * ours["lengths"].sum() + 5
            np.testing.assert_array_equal(ds.column("action")[: len(ours["action"])], ours["action"])
            assert ds.episode(8).task_at(0) == "a task LeRobot added"


def lerobot_made(out: Path, theirs: dict[str, np.ndarray]) -> None:
    for name in ("lr_video", "lr_image"):
        v = {k.removeprefix(f"{name}/"): val for k, val in theirs.items() if k.startswith(f"{name}/")}
        root = out / name
        if not v:
            RESULTS.append((f"{name}: present", False, "check_lerobot.py did not create it"))
            continue
        with check(f"{name}: validate_dataset is clean"):
            problems = validate_dataset(root)
            assert problems == [], [str(p) for p in problems]
        with check(f"{name}: our reader gets LeRobot's values"):
            ds = read_dataset(root)
            assert ds.num_episodes == len(v["lengths"]) and ds.num_frames == v["lengths"].sum()
            episodes = ds.episodes()
            assert [len(e) for e in episodes] == list(v["lengths"])
            assert [e.task_at(t) for e in episodes for t in range(len(e))] == list(v["tasks"])
            assert episodes[1].frame_tasks == ["pick the cup"] * 2 + ["place the cup"] * 2
            np.testing.assert_array_equal(np.concatenate([e.actions for e in episodes]), v["action"])
            np.testing.assert_array_equal(np.concatenate([e.state for e in episodes]), v["observation.state"])
            front = np.concatenate([e.images["front"] for e in episodes])
            depth = np.concatenate([e.depth["depth"] for e in episodes])
            assert set(episodes[0].images) == {"front"}, set(episodes[0].images)
            assert depth.dtype == np.float32 and front.dtype == np.uint8
            if name == "lr_image":
                np.testing.assert_array_equal(front, v["front"])
                np.testing.assert_array_equal(depth, v["depth_m"])
                wrist = np.concatenate([e.depth["wrist"] for e in episodes])
                np.testing.assert_allclose(wrist, v["depth_mm"] / 1000.0, rtol=1e-6)
                assert set(episodes[0].depth) == {"depth", "wrist"}
            else:
                diff = np.abs(front.astype(int) - v["lerobot/front"]).max()
                depth_diff = np.abs(depth - v["lerobot/depth_m"]).max()
                print(f"    front: max |ours - LeRobot's decode| = {diff}; depth: {depth_diff * 1e3:.6f} mm")
                assert diff <= 2, diff
                # LeRobot's metre output (its millimetre output is the same rounded to whole mm)
                np.testing.assert_allclose(depth, v["lerobot/depth_m"], rtol=1e-5)  # float64 vs float32 math
                np.testing.assert_array_equal(np.rint(depth * 1000.0), v["lerobot/depth"])
        with check(f"{name}: samples and prompts keep each frame's task"):
            samples = make_samples(read_dataset(root).episodes(), kinds=("action",))
            prompts = [s.prompt for s in samples]
            assert len(prompts) == v["lengths"].sum()
            assert "pick the cup" in prompts[5] and "place the cup" in prompts[7], prompts[5:9]


def main(out: Path) -> int:
    ours = dict(np.load(out / "ours_expected.npz"))
    theirs = dict(np.load(out / "lerobot_expected.npz"))
    appended(out, ours, theirs)
    edge_cases(out, ours, theirs)
    lerobot_tools(out, ours)
    lerobot_made(out, theirs)
    failures = [r for r in RESULTS if not r[1]]
    print(f"\n{len(RESULTS) - len(failures)} passed, {len(failures)} failed")
    for name, _, detail in failures:
        print(f"  FAIL {name}: {detail.splitlines()[0][:300]}")
    return len(failures)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/interop")))
