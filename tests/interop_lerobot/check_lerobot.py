"""Step 2 (LeRobot env, Python >= 3.12): our datasets through LeRobot itself, and datasets made by LeRobot.

    /tmp/lerobot-env/bin/python tests/interop_lerobot/check_lerobot.py /tmp/interop [--backend pyav]

For each dataset ``write_ours.py`` wrote: load it with ``LeRobotDataset(repo_id, root=...)``, compare counts,
episode boundaries, per-frame tasks, numeric columns, decoded images and depth and ``stats.json`` to
``ours_expected.npz``; normalise with LeRobot's ``NormalizerProcessorStep`` (``QUANTILES`` for state and
action, ``MEAN_STD`` for images); append one two-task episode to a copy with ``LeRobotDataset.resume`` /
``add_frame`` / ``save_episode`` / ``finalize`` and reload it with LeRobot. Then create ``lr_video`` (video RGB +
depth video camera, uint16 millimetres) and ``lr_image`` (inline RGB, float-metre and uint16-millimetre depth
cameras) with ``LeRobotDataset.create``. Everything ``check_ours.py`` compares against goes to
``lerobot_expected.npz``; each check prints PASS/FAIL and the exit status is the number of failures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature
from lerobot.configs.video import DepthEncoderConfig
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.processor import NormalizerProcessorStep, TransitionKey, create_transition

OURS = ("ours_inline", "ours_video", "ours_h264")
EDGE = ("ours_points", "ours_split", "ours_stateless", "ours_names")
FPS = 10
NEW_TASK = "a task LeRobot added"
OLD_TASK = "put the red cube in the blue bowl"  # already in our tasks.parquet (task_index 0)
RESULTS: list[tuple[str, bool, str]] = []
DEPTH_ENCODER = DepthEncoderConfig(depth_min=0.2, depth_max=5.0, use_log=False)


@contextlib.contextmanager
def check(name: str) -> Iterator[None]:
    """Run one check; record PASS or FAIL (with the error's last lines) and carry on."""
    try:
        yield
    except Exception as err:  # every failure is reported, none stops the run
        detail = "".join(traceback.format_exception_only(type(err), err)).strip()
        tail = traceback.format_exc().strip().splitlines()[-6:]
        RESULTS.append((name, False, detail))
        print(f"FAIL {name}: {detail}\n    " + "\n    ".join(tail), flush=True)
    else:
        RESULTS.append((name, True, ""))
        print(f"PASS {name}", flush=True)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """LeRobot's CHW frame (float [0, 1], or uint8 with ``return_uint8``) → HWC uint8."""
    hwc = image.permute(1, 2, 0).numpy()
    return hwc if hwc.dtype == np.uint8 else (hwc * 255.0).round().astype(np.uint8)


def assert_frame_exact(decoded: np.ndarray, originals: np.ndarray) -> float:
    """Lossy video: each decoded frame is nearest to its own original among all of them; returns the mean error."""
    distance = np.abs(decoded[:, None].astype(np.int16) - originals[None]).mean(axis=(2, 3, 4))
    np.testing.assert_array_equal(distance.argmin(1), np.arange(len(originals)))
    error = float(np.abs(decoded.astype(int) - originals).mean())
    assert error < 12.0, error  # crf 30 on 32x32 random blocks; frames differ by ~85 levels
    return error


def items(ds: LeRobotDataset) -> list[dict[str, Any]]:
    return [ds[i] | {"_repo_id": ds.repo_id, "_root": ds.root} for i in range(len(ds))]


def column(frames: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.stack([np.asarray(f[key]) for f in frames])


def compare_frames(name: str, frames: list[dict[str, Any]], exp: dict[str, np.ndarray], video: bool) -> None:
    """Tasks, numeric columns, images and depth of LeRobot's frames against what we wrote."""
    with check(f"{name}: per-frame tasks"):
        assert [f["task"] for f in frames] == list(exp["tasks"]), [f["task"] for f in frames]
    with check(f"{name}: numeric columns equal"):
        for key in ("action", "observation.state", "next.reward", "next.done"):
            got = column(frames, key).reshape(exp[key].shape)
            np.testing.assert_array_equal(got, exp[key], err_msg=key)
        starts = np.concatenate([[0], np.cumsum(exp["lengths"])[:-1]])
        frame_index = np.concatenate([np.arange(n) for n in exp["lengths"]])
        np.testing.assert_array_equal(column(frames, "frame_index"), frame_index)
        np.testing.assert_allclose(column(frames, "timestamp"), frame_index / FPS, atol=1e-6)
        np.testing.assert_array_equal(
            column(frames, "episode_index"), np.repeat(np.arange(len(starts)), exp["lengths"])
        )
    for cam in ("front", "wrist"):
        with check(f"{name}: decoded {cam} frames {'close to' if video else 'equal'} ours"):
            got = np.stack([to_uint8(f[f"observation.images.{cam}"]) for f in frames])
            assert got.shape == exp[cam].shape, (got.shape, exp[cam].shape)
            if video:
                error = assert_frame_exact(got, exp[cam])
                ours = np.abs(got.astype(int) - exp[f"{name}/{cam}"]).max()
                print(f"    {cam}: mean |LeRobot - original| = {error:.3f}; max |LeRobot - our decode| = {ours}")
                assert ours <= 2, ours
            else:
                np.testing.assert_array_equal(got, exp[cam])
    with check(f"{name}: depth camera (LeRobot returns millimetres)"):
        depth = column(frames, "observation.images.front_depth")
        assert depth.shape == (len(frames), 1, *exp["depth"].shape[1:]), depth.shape
        np.testing.assert_allclose(depth[:, 0], exp["depth"] * 1000.0, rtol=1e-6)
        metres = LeRobotDataset(frames[0]["_repo_id"], root=frames[0]["_root"], depth_output_unit="m")
        got = np.stack([metres[i]["observation.images.front_depth"][0].numpy() for i in range(len(frames))])
        np.testing.assert_array_equal(got, exp["depth"])  # depth_output_unit="m": our float32 metres, bit-exact


def compare_stats(name: str, ds: LeRobotDataset, exp: dict[str, np.ndarray]) -> None:
    stats = ds.meta.stats
    with check(f"{name}: stats.json quantiles equal numpy's"):
        for key in ("action", "observation.state"):
            for q in (1, 10, 50, 90, 99):
                np.testing.assert_allclose(
                    stats[key][f"q{q:02d}"], np.quantile(exp[key].astype(np.float64), q / 100, 0), rtol=1e-6
                )
        pixels = exp["front"].reshape(-1, 3) / 255.0
        np.testing.assert_allclose(np.asarray(stats["observation.images.front"]["mean"])[:, 0, 0], pixels.mean(0))
        depth = stats["observation.images.front_depth"]  # rescaled to LeRobot's output unit (mm)
        np.testing.assert_allclose(np.asarray(depth["q50"]).item(), np.quantile(exp["depth"] * 1000.0, 0.5), 1e-5)


def normalise(name: str, ds: LeRobotDataset, frames: list[dict[str, Any]]) -> None:
    """π0.5's normalisation (QUANTILES on state and action) and MEAN_STD on an image, through LeRobot."""
    with check(f"{name}: LeRobot's QUANTILES / MEAN_STD normaliser"):
        image = frames[0]["observation.images.front"]
        features = {
            "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(15,)),
            "observation.images.front": PolicyFeature(type=FeatureType.VISUAL, shape=tuple(image.shape)),
            "action": PolicyFeature(type=FeatureType.ACTION, shape=(7,)),
        }
        norm_map = {
            FeatureType.STATE: NormalizationMode.QUANTILES,
            FeatureType.ACTION: NormalizationMode.QUANTILES,
            FeatureType.VISUAL: NormalizationMode.MEAN_STD,
        }
        step = NormalizerProcessorStep.from_lerobot_dataset(ds, features, norm_map)
        state = torch.stack([f["observation.state"] for f in frames])
        action = torch.stack([f["action"] for f in frames])
        images = torch.stack([f["observation.images.front"] for f in frames])
        observation = {"observation.state": state, "observation.images.front": images}
        out = step(create_transition(observation=observation, action=action))
        stats = ds.meta.stats
        for key, value, got in (
            ("action", action, out[TransitionKey.ACTION]),
            ("observation.state", state, out[TransitionKey.OBSERVATION]["observation.state"]),
        ):
            q01, q99 = np.asarray(stats[key]["q01"]), np.asarray(stats[key]["q99"])
            np.testing.assert_allclose(got.numpy(), 2 * (value.numpy() - q01) / (q99 - q01) - 1, rtol=1e-4, atol=1e-5)
        mean = np.asarray(stats["observation.images.front"]["mean"])
        std = np.asarray(stats["observation.images.front"]["std"])
        got = out[TransitionKey.OBSERVATION]["observation.images.front"].numpy()
        np.testing.assert_allclose(got, (images.numpy() - mean) / (std + 1e-8), rtol=1e-4, atol=1e-4)


def appended_episode(size: int) -> dict[str, np.ndarray]:
    """Five frames LeRobot appends: two of a new task, three of one we already have."""
    rng = np.random.default_rng(9)
    blocks = rng.integers(0, 256, (2, 5, 4, 4, 3), dtype=np.uint8)
    images = np.repeat(np.repeat(blocks, size // 4, 2), size // 4, 3)
    return {
        "front": images[0],
        "wrist": images[1],
        "depth": rng.uniform(0.2, 2.5, (5, size, size)).astype(np.float32),
        "observation.state": rng.normal(size=(5, 15)).astype(np.float32),
        "action": rng.uniform(-1, 1, (5, 7)).astype(np.float32),
        "next.reward": rng.uniform(0, 1, 5).astype(np.float32),
        "next.done": np.arange(5) == 4,
        "tasks": np.array([NEW_TASK] * 2 + [OLD_TASK] * 3),
    }


def append(name: str, root: Path, out: Path, backend: str, exp: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Append one episode with LeRobot's own recorder to a copy of ``root``; reload it with LeRobot."""
    copy = out / f"{name}_appended"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy)
    new = appended_episode(exp["front"].shape[1])
    video = "video" in name or "h264" in name
    with check(f"{name}: LeRobot appends an episode (resume/add_frame/save_episode/finalize)"):
        appender = LeRobotDataset.resume(f"local/{name}", root=copy, video_backend=backend)
        for t in range(5):
            appender.add_frame(
                {
                    "observation.images.front": new["front"][t],
                    "observation.images.wrist": new["wrist"][t],
                    "observation.images.front_depth": new["depth"][t][..., None],
                    "observation.state": new["observation.state"][t],
                    "action": new["action"][t],
                    "next.reward": new["next.reward"][t : t + 1],
                    "next.done": new["next.done"][t : t + 1],
                    "task": str(new["tasks"][t]),
                }
            )
        appender.save_episode()
        appender.finalize()
    total = int(exp["lengths"].sum())
    with check(f"{name}: LeRobot reloads the appended dataset"):
        ds = LeRobotDataset(f"local/{name}", root=copy, video_backend=backend)
        assert ds.num_episodes == len(exp["lengths"]) + 1 and ds.num_frames == total + 5, (
            ds.num_episodes,
            ds.num_frames,
        )
        frames = items(ds)
        assert [f["task"] for f in frames[total:]] == list(new["tasks"])
        np.testing.assert_array_equal(column(frames[total:], "action"), new["action"])
        np.testing.assert_array_equal(column(frames[:total], "action"), exp["action"])
        got = np.stack([to_uint8(f["observation.images.front"]) for f in frames[total:]])
        if video:
            assert_frame_exact(got, new["front"])
        else:
            np.testing.assert_array_equal(got, new["front"])
        np.testing.assert_allclose(
            column(frames[total:], "observation.images.front_depth")[:, 0], new["depth"] * 1e3, 1e-6
        )
        stats = ds.meta.stats["action"]
        assert {"q01", "q99"} <= set(stats) and int(np.asarray(stats["count"]).item()) == total + 5, stats.keys()
        new["lerobot/front"] = got
    return {f"{name}_appended/{k}": v for k, v in new.items()}


def placeholder_frame(features: dict[str, dict[str, Any]], rng: np.random.Generator) -> dict[str, Any]:
    """One frame for every feature LeRobot requires in ``add_frame`` (all but the five index features)."""
    frame: dict[str, Any] = {}
    for key, ft in features.items():
        if key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
            continue
        shape = tuple(ft["shape"])
        if ft["dtype"] in ("image", "video"):
            depth = shape[-1] == 1
            frame[key] = (
                rng.uniform(0.2, 2.5, shape).astype(np.float32) if depth else rng.integers(0, 256, shape, np.uint8)
            )
        else:
            frame[key] = rng.uniform(-1, 1, shape).astype(ft["dtype"])
    return frame


def check_edge(out: Path, backend: str, exp: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Pointing targets, many data/video files and chunk directories, no state, 30 fps: load, action chunks
    (``delta_timestamps``) padded at episode ends, an episode subset, one appended episode."""
    export: dict[str, np.ndarray] = {}
    for name in EDGE:
        root, lengths, action = out / name, exp[f"{name}/lengths"], exp[f"{name}/action"]
        with check(f"{name}: LeRobot loads it (values, action chunks, episode subset)"):
            ds = LeRobotDataset(f"local/{name}", root=root, video_backend=backend)
            assert ds.num_episodes == len(lengths) and ds.num_frames == lengths.sum()
            frames = items(ds)
            np.testing.assert_array_equal(column(frames, "action"), action)
            if f"{name}/points" in exp:
                np.testing.assert_array_equal(column(frames, "action.points"), exp[f"{name}/points"])
            horizon = [i / ds.fps for i in range(6)]
            chunked = LeRobotDataset(
                f"local/{name}", root=root, video_backend=backend, delta_timestamps={"action": horizon}
            )
            last = int(lengths[0]) - 1  # the last frame of episode 0: the rest of its chunk is padding
            item = chunked[last]
            assert item["action_is_pad"].tolist() == [False] + [True] * 5, item["action_is_pad"]
            np.testing.assert_array_equal(item["action"][0].numpy(), action[last])
            subset = LeRobotDataset(f"local/{name}", root=root, video_backend=backend, episodes=[1])
            assert subset.num_frames == lengths[1], subset.num_frames
            np.testing.assert_array_equal(subset[0]["action"].numpy(), action[lengths[0]])
        copy = out / f"{name}_appended"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(root, copy)
        with check(f"{name}: LeRobot appends an episode and reloads it"):
            appender = LeRobotDataset.resume(f"local/{name}", root=copy, video_backend=backend)
            rng = np.random.default_rng(4)
            new = [placeholder_frame(appender.meta.features, rng) for _ in range(3)]
            for frame in new:
                appender.add_frame(dict(frame, task=NEW_TASK))
            appender.save_episode()
            appender.finalize()
            ds = LeRobotDataset(f"local/{name}", root=copy, video_backend=backend)
            assert ds.num_episodes == len(lengths) + 1 and ds.num_frames == lengths.sum() + 3
            got = np.stack([ds[int(lengths.sum()) + t]["action"].numpy() for t in range(3)])
            np.testing.assert_array_equal(got, np.stack([f["action"] for f in new]))
            export[f"{name}_appended/action"] = got
            if "action.points" in new[0]:
                export[f"{name}_appended/points"] = np.stack([f["action.points"] for f in new])
    return export


def check_tools(out: Path, backend: str) -> None:
    """LeRobot's dataset tools on ours: delete an episode, merge a dataset with its appended copy."""
    from lerobot.datasets.dataset_tools import delete_episodes, merge_datasets

    for name in ("ours_inline", "ours_video"):
        src = LeRobotDataset(f"local/{name}", root=out / name, video_backend=backend)
        deleted = out / f"{name}_deleted"
        shutil.rmtree(deleted, ignore_errors=True)
        with check(f"{name}: LeRobot's delete_episodes([1])"):
            ds = delete_episodes(src, [1], output_dir=deleted, repo_id=f"local/{name}_deleted")
            assert ds.num_episodes == 3, ds.num_episodes
        merged = out / f"{name}_merged"
        shutil.rmtree(merged, ignore_errors=True)
        with check(f"{name}: LeRobot's merge_datasets(ours, ours + LeRobot's episode)"):
            appended = LeRobotDataset(f"local/{name}_appended", root=out / f"{name}_appended", video_backend=backend)
            ds = merge_datasets([src, appended], output_repo_id=f"local/{name}_merged", output_dir=merged)
            assert ds.num_episodes == 9, ds.num_episodes


def check_plain_datasets(out: Path) -> None:
    """``datasets.load_dataset("parquet")`` without LeRobot (as the Hub's viewer): our files and the file LeRobot
    appended to them give the same ``Features`` (images as ``Image``, from the ``huggingface`` schema metadata)."""
    import datasets

    for name in ("ours_inline", "ours_points"):
        with check(f"{name}: plain datasets.load_dataset sees the Features LeRobot's own file has"):
            files = sorted((out / f"{name}_appended" / "data").glob("*/*.parquet"))
            ours, theirs = (
                datasets.load_dataset("parquet", data_files=str(f), split="train", cache_dir=str(out / ".hf"))
                for f in (files[0], files[-1])
            )
            assert isinstance(ours.features["observation.images.front"], datasets.Image), ours.features
            different = {k: (v, theirs.features[k]) for k, v in ours.features.items() if theirs.features[k] != v}
            different.pop("action.points", None)  # LeRobot stores Array2D as variable lists, we as fixed-size
            assert not different, different
            both = datasets.load_dataset(
                "parquet", data_files=[str(f) for f in files], split="train", cache_dir=str(out / ".hf")
            )
            assert len(both) == len(ours) + len(theirs)


def check_ours(out: Path, backend: str) -> dict[str, np.ndarray]:
    exp = dict(np.load(out / "ours_expected.npz"))
    export: dict[str, np.ndarray] = {}
    for name in OURS:
        root = out / name
        with check(f"{name}: LeRobotDataset loads it"):
            ds = LeRobotDataset(f"local/{name}", root=root, video_backend=backend)
            assert ds.num_episodes == len(exp["lengths"]) and ds.num_frames == exp["lengths"].sum()
            bounds = np.cumsum(np.concatenate([[0], exp["lengths"]]))
            episodes = ds.meta.episodes
            assert list(episodes["dataset_from_index"]) == list(bounds[:-1]), list(episodes["dataset_from_index"])
            assert list(episodes["dataset_to_index"]) == list(bounds[1:])
            assert [sorted(t) for t in episodes["tasks"]][-1] == ["pick up the red cube.", "place it in the blue bowl."]
        if not RESULTS[-1][1]:
            continue
        frames = items(ds)
        compare_frames(name, frames, exp, video=name != "ours_inline")
        compare_stats(name, ds, exp)
        normalise(name, ds, frames)
        export |= append(name, root, out, backend, exp)
    return export


def lerobot_made(out: Path, backend: str, video: bool) -> dict[str, np.ndarray]:
    """A dataset recorded by LeRobot: 3 episodes, the middle one with two tasks; depth cameras."""
    name = "lr_video" if video else "lr_image"
    root = out / name
    shutil.rmtree(root, ignore_errors=True)
    size, lengths = 32, (5, 4, 6)
    camera = {"dtype": "video" if video else "image", "names": ["height", "width", "channels"]}
    features: dict[str, dict[str, Any]] = {
        "observation.images.front": camera | {"shape": (size, size, 3), "info": {"is_depth_map": False}},
        "observation.images.depth": camera | {"shape": (size, size, 1), "info": {"is_depth_map": True}},
        "observation.state": {"dtype": "float32", "shape": (6,), "names": [f"j{i}" for i in range(6)]},
        "action": {"dtype": "float32", "shape": (4,), "names": ["x", "y", "z", "gripper"]},
    }
    if not video:
        features["observation.images.wrist_depth"] = camera | {"shape": (size, size, 1), "info": {"is_depth_map": True}}
    rng = np.random.default_rng(1)
    n = sum(lengths)
    blocks = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    values: dict[str, np.ndarray] = {
        "lengths": np.array(lengths),
        "front": np.repeat(np.repeat(blocks, size // 4, 1), size // 4, 2),
        "depth_mm": rng.integers(300, 4000, (n, size, size)).astype(np.uint16),  # video: uint16 mm
        "depth_m": rng.uniform(0.2, 3.0, (n, size, size)).astype(np.float32),  # inline: float metres
        "observation.state": rng.normal(size=(n, 6)).astype(np.float32),
        "action": rng.uniform(-1, 1, (n, 4)).astype(np.float32),
    }
    tasks = ["open the drawer"] * 5 + ["pick the cup"] * 2 + ["place the cup"] * 2 + ["open the drawer"] * 6
    values["tasks"] = np.array(tasks)
    with check(f"{name}: LeRobotDataset.create + add_frame/save_episode/finalize"):
        ds = LeRobotDataset.create(
            f"local/{name}",
            fps=FPS,
            features=features,
            root=root,
            robot_type="so100",
            use_videos=video,
            video_backend=backend,
            depth_encoder=DEPTH_ENCODER,  # not LeRobot's defaults: readers must take them from info.json
        )
        i = 0
        for length in lengths:
            for _ in range(length):
                frame = {
                    "observation.images.front": values["front"][i],
                    "observation.images.depth": (values["depth_mm"] if video else values["depth_m"])[i][..., None],
                    "observation.state": values["observation.state"][i],
                    "action": values["action"][i],
                    "task": tasks[i],
                }
                if not video:
                    frame["observation.images.wrist_depth"] = values["depth_mm"][i][..., None]
                ds.add_frame(frame)
                i += 1
            ds.save_episode()
        ds.finalize()
    with check(f"{name}: LeRobot reads its own dataset back"):
        back = LeRobotDataset(f"local/{name}", root=root, video_backend=backend, return_uint8=True)
        frames = items(back)
        assert [f["task"] for f in frames] == tasks
        np.testing.assert_array_equal(column(frames, "action"), values["action"])
        front = np.stack([to_uint8(f["observation.images.front"]) for f in frames])
        values["lerobot/front"] = front
        values["lerobot/depth"] = column(frames, "observation.images.depth")[:, 0]  # millimetres
        metres = LeRobotDataset(f"local/{name}", root=root, video_backend=backend, depth_output_unit="m")
        values["lerobot/depth_m"] = np.stack([metres[i]["observation.images.depth"][0].numpy() for i in range(n)])
        if not video:
            np.testing.assert_array_equal(front, values["front"])
            np.testing.assert_allclose(values["lerobot/depth"], values["depth_m"] * 1000.0, rtol=1e-6)
        else:
            print(f"    front: mean |LeRobot decode - original| = {assert_frame_exact(front, values['front']):.3f}")
            depth_error = np.abs(values["lerobot/depth"] - values["depth_mm"]).max()
            print(f"    depth video: max |LeRobot decode - original| = {depth_error:.2f} mm")
        info = json.loads((root / "meta/info.json").read_text())
        values["info_json"] = np.array(json.dumps(info["features"]))
    return {f"{name}/{k}": v for k, v in values.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default="/tmp/interop", type=Path)
    parser.add_argument("--backend", default="pyav", help="LeRobot video backend: pyav or torchcodec")
    args = parser.parse_args()
    import lerobot

    logging.getLogger("lerobot.utils.import_utils").setLevel(logging.ERROR)  # "torchcodec cannot be loaded"
    print(
        f"lerobot {lerobot.__version__}, torch {torch.__version__}, python {sys.version.split()[0]}, "
        f"backend {args.backend}"
    )
    exp = dict(np.load(args.out / "ours_expected.npz"))
    export = check_ours(args.out, args.backend)
    export |= check_edge(args.out, args.backend, exp)
    check_tools(args.out, args.backend)
    check_plain_datasets(args.out)
    export |= lerobot_made(args.out, args.backend, video=True)
    export |= lerobot_made(args.out, args.backend, video=False)
    np.savez(args.out / "lerobot_expected.npz", **export)  # type: ignore[arg-type]
    failures = [r for r in RESULTS if not r[1]]
    print(f"\n{len(RESULTS) - len(failures)} passed, {len(failures)} failed")
    for name, _, detail in failures:
        print(f"  FAIL {name}: {detail.splitlines()[0][:300]}")
    (args.out / "lerobot_results.json").write_text(json.dumps(RESULTS, indent=1))
    return len(failures)


if __name__ == "__main__":
    sys.exit(main())
