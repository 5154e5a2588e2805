"""Checkpoint save/load round trips, layout, tied weights, retention and resume selection."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from embodied.training.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    restore_optimizer,
    restore_rng,
    restore_scheduler,
    save_checkpoint,
)
from embodied.training.manifest import looks_like_pickle
from embodied.training.rng import capture_rng
from embodied.training.state_codec import save_tensors
from tests.unit.training.checkpoint_support import make_setup, save_trained, train_steps


def test_round_trip_restores_model_optimizer_scheduler_and_rng(tmp_path: Path) -> None:
    setup = make_setup(seed=0)
    train_steps(setup, 5)
    trainer_state = {"step": 5, "epoch": 1, "position": 3, "order": [2, 0, 1], "stage": "sft", "config_hash": "ab"}
    rng = capture_rng()
    expected_draw = torch.randn(4)
    path = save_checkpoint(tmp_path, 5, setup.model.state_dict(), setup.optimizer, setup.scheduler, trainer_state, rng)

    assert path == tmp_path / "checkpoints" / "step-000005"
    assert sorted(p.name for p in path.iterdir()) == [
        "manifest.json",
        "model.json",
        "model.safetensors",
        "optimizer.json",
        "optimizer.safetensors",
        "rng.json",
        "rng.safetensors",
        "scheduler.json",
        "trainer_state.json",
    ]
    assert "state.0.exp_avg_sq" in safetensors.torch.load_file(path / "optimizer.safetensors")

    ckpt = load_checkpoint(path)
    assert ckpt.step == 5 and ckpt.trainer_state == trainer_state
    original = setup.model.state_dict()
    assert list(ckpt.model_state) == list(original)
    assert all(torch.equal(ckpt.model_state[k], original[k]) for k in original)

    fresh = make_setup(seed=1)
    fresh.model.load_state_dict(ckpt.model_state)
    restore_optimizer(fresh.optimizer, ckpt)
    restore_scheduler(fresh.scheduler, ckpt)
    saved, restored = setup.optimizer.state_dict(), fresh.optimizer.state_dict()
    assert restored["param_groups"] == saved["param_groups"]  # betas stay a tuple
    for index, slots in saved["state"].items():
        assert set(restored["state"][index]) == {"step", "exp_avg", "exp_avg_sq"}
        assert all(torch.equal(restored["state"][index][key], value) for key, value in slots.items())
    assert fresh.scheduler.state_dict() == setup.scheduler.state_dict()
    assert fresh.scheduler.get_last_lr() == setup.scheduler.get_last_lr()

    torch.manual_seed(123)
    restore_rng(ckpt.rng)
    assert torch.equal(torch.randn(4), expected_draw)


def test_tied_weights_are_stored_once_and_come_back_shared(tmp_path: Path) -> None:
    embed = nn.Embedding(10, 6)
    head = nn.Linear(6, 10, bias=False)
    head.weight = embed.weight  # tied, as in language models
    state = {"embed.weight": embed.weight, "head.weight": head.weight, "other": torch.arange(6.0)[2:5]}
    path = save_checkpoint(tmp_path, 1, state, None, None, {"step": 1}, capture_rng())

    stored = safetensors.torch.load_file(path / "model.safetensors")
    assert sorted(stored) == ["embed.weight", "other"]
    ckpt = load_checkpoint(path)
    assert ckpt.model_state["head.weight"] is ckpt.model_state["embed.weight"]
    assert torch.equal(ckpt.model_state["head.weight"], embed.weight) and ckpt.optimizer_state is None
    assert torch.equal(ckpt.model_state["other"], torch.tensor([2.0, 3.0, 4.0]))
    with pytest.raises(CheckpointError, match="without an optimizer"):
        restore_optimizer(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1), ckpt)


def test_partially_overlapping_views_are_saved_as_copies(tmp_path: Path) -> None:
    base = torch.arange(10.0)
    state = {"a": base[:6], "b": base[4:]}
    ckpt = load_checkpoint(save_checkpoint(tmp_path, 0, state, None, None, {}, capture_rng()))
    assert torch.equal(ckpt.model_state["a"], base[:6]) and torch.equal(ckpt.model_state["b"], base[4:])


def test_named_parts_round_trip_and_are_covered_by_the_manifest(tmp_path: Path) -> None:
    tensors = {"t0": torch.tensor([3, 4])}
    parts = {"self_imitation": ({"added": 2, "entries": [{"prompt": "p", "action": {"__tensor__": "t0"}}]}, tensors)}
    path = save_checkpoint(tmp_path, 2, {"w": torch.zeros(2)}, None, None, {}, capture_rng(), parts=parts)
    names = sorted(p.name for p in path.iterdir())
    files = {"part-self_imitation.json", "part-self_imitation.safetensors"}
    assert files <= set(names) and files <= set(json.loads((path / "manifest.json").read_text())["files"])
    ckpt = load_checkpoint(path)
    tree, loaded = ckpt.parts["self_imitation"]
    assert tree == parts["self_imitation"][0] and torch.equal(loaded["t0"], tensors["t0"])
    assert (
        load_checkpoint(save_checkpoint(tmp_path, 3, {"w": torch.zeros(2)}, None, None, {}, capture_rng())).parts == {}
    )
    with pytest.raises(CheckpointError, match="part name 'bad/name'"):
        save_checkpoint(tmp_path, 4, {"w": torch.zeros(2)}, None, None, {}, capture_rng(), parts={"bad/name": ({}, {})})


def test_non_json_states_fail_before_anything_is_written(tmp_path: Path) -> None:
    model_state = {"w": torch.zeros(2)}
    with pytest.raises(CheckpointError, match=r"trainer_state: value at 'order\.1' has type int64"):
        save_checkpoint(tmp_path, 1, model_state, None, None, {"order": [1, np.int64(2)]}, capture_rng())
    with pytest.raises(CheckpointError, match=r"trainer_state: value at 'pair' has type tuple"):
        save_checkpoint(tmp_path, 1, model_state, None, None, {"pair": (1, 2)}, capture_rng())

    class OddScheduler:
        def state_dict(self) -> dict[str, object]:
            return {"last_epoch": 3, "scale_fn": print}

    with pytest.raises(CheckpointError, match=r"OddScheduler state: value at 'scale_fn' has type builtin_function"):
        save_checkpoint(tmp_path, 1, model_state, None, OddScheduler(), {}, capture_rng())
    assert not (tmp_path / "checkpoints").exists()


def test_safetensors_files_never_start_like_a_pickle(tmp_path: Path) -> None:
    """Header lengths such as 0x380 would begin with b'\\x80\\x03'; the writer pads them away."""
    padded = 0
    path = tmp_path / "sweep.safetensors"
    for length in range(560, 1400, 3):  # header lengths ~0x260..0x5c0: the pickle-like ones lie in between
        tensors = {"k" * length: torch.zeros(1)}
        padded += looks_like_pickle(safetensors.torch.save(tensors)[:2])
        save_tensors(tensors, path)
        data = path.read_bytes()
        assert not looks_like_pickle(data[:2])
        assert torch.equal(safetensors.torch.load(data)["k" * length], torch.zeros(1))
    assert padded > 0  # the sweep did hit pickle-like header lengths


def test_latest_skips_corrupt_newest_and_ignores_temporaries(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert latest_checkpoint(tmp_path) is None
    first = save_trained(tmp_path, 100)
    second = save_trained(tmp_path, 200)
    (tmp_path / "checkpoints" / ".tmp-step-000300-99999999").mkdir()
    assert latest_checkpoint(tmp_path) == second

    with open(second / "optimizer.safetensors", "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0x01]))
    with caplog.at_level(logging.WARNING, logger="embodied"):
        assert latest_checkpoint(tmp_path) == first
    assert "skipping checkpoint" in caplog.text and "optimizer.safetensors" in caplog.text
    assert load_checkpoint(first).step == 100


def test_retention_keeps_newest_and_save_cleans_dead_temporaries(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    root.mkdir()
    dead = root / ".tmp-step-000007-99999999"  # pid beyond pid_max: its writer is gone
    dead.mkdir()
    live = root / f".tmp-step-000008-{os.getppid()}"  # a live process may still be writing
    live.mkdir()
    for step in (1, 2, 4, 5):
        save_checkpoint(
            tmp_path, step, {"w": torch.full((1,), float(step))}, None, None, {}, capture_rng(), retention=2
        )
    assert sorted(p.name for p in root.iterdir()) == [live.name, "step-000004", "step-000005"]
    assert not dead.exists()
    # An older step written after a rewind is always kept, next to the newest others.
    save_checkpoint(tmp_path, 3, {"w": torch.zeros(1)}, None, None, {}, capture_rng(), retention=2)
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("step-")) == ["step-000003", "step-000005"]
    assert latest_checkpoint(tmp_path) == root / "step-000005"


def test_saving_the_same_step_again_replaces_it(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, 3, {"w": torch.zeros(2)}, None, None, {"v": 1}, capture_rng())
    path = save_checkpoint(tmp_path, 3, {"w": torch.ones(2)}, None, None, {"v": 2}, capture_rng())
    ckpt = load_checkpoint(path)
    assert ckpt.trainer_state == {"v": 2} and torch.equal(ckpt.model_state["w"], torch.ones(2))
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-000003"]


def test_manifest_lists_every_file_with_size_and_sha256(tmp_path: Path) -> None:
    path = save_trained(tmp_path, 1)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["step"] == 1 and manifest["format"] == "embodied-checkpoint"
    files = {p.name: p.stat().st_size for p in path.iterdir() if p.name != "manifest.json"}
    assert {name: entry["size"] for name, entry in manifest["files"].items()} == files
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())
