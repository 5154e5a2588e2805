"""Checkpoint resolution, run discovery and the manifest's model provenance (hashes, lineage)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from embodied.eval.manifest import build_manifest, model_info, package_versions, weights_sha256
from embodied.eval.run_dir import CheckpointError, locate_run, resolve_checkpoint


def saved_model(path: Path, weights: bytes = b"weights") -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(weights)
    return path


def make_run(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "config.yaml").write_text("stages:\n  - name: align\n  - name: instruct\n  - name: preference\n")
    saved_model(root / "align" / "model", b"align")
    saved_model(root / "instruct" / "model", b"instruct")
    (root / "preference").mkdir()  # started, not finished
    lineage = {"parent": str(root / "align/model"), "dataset": {"info_sha256": "d" * 64}, "config_sha256": "c" * 64}
    (root / "instruct" / "lineage.json").write_text(json.dumps(lineage))
    return root


def test_resolve_model_dir_and_run_dir(tmp_path: Path) -> None:
    model = saved_model(tmp_path / "m")
    assert resolve_checkpoint(model) == model
    run = make_run(tmp_path / "run")
    assert resolve_checkpoint(run) == run / "instruct" / "model"  # the last finished stage, in config order


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_text("x"), "is not a directory"),
        (lambda p: p.mkdir(), "neither a saved model"),
        (lambda p: (p.mkdir(), (p / "config.yaml").write_text("stages: [{name: a}]\n")), "no finished stage"),
    ],
)
def test_bad_checkpoints_are_named(tmp_path: Path, setup: object, message: str) -> None:
    path = tmp_path / "ckpt"
    setup(path)  # type: ignore[operator]
    with pytest.raises(CheckpointError, match=message):
        resolve_checkpoint(path)


def test_model_info_reads_hashes_and_lineage(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    model = run / "instruct" / "model"
    location = locate_run(model)
    assert location is not None and location.stage == "instruct"
    assert location.stages == ("align", "instruct", "preference")
    info = model_info(model)
    assert info.sha256 == hashlib.sha256(b"instruct").hexdigest()
    assert info.files == {"model.safetensors": info.sha256}
    assert (info.stage, info.data_sha256, info.config_sha256) == ("instruct", "d" * 64, "c" * 64)
    assert info.parent == str(run / "align/model")
    alone = model_info(saved_model(tmp_path / "alone"))
    assert alone.run_dir is None and alone.data_sha256 is None


def test_sharded_weights_hash_the_listing(tmp_path: Path) -> None:
    model = saved_model(tmp_path / "m", b"a")
    (model / "model-2.safetensors").write_bytes(b"b")
    digest, files = weights_sha256(model)
    lines = "".join(f"{n} {files[n]}\n" for n in sorted(files))
    assert len(files) == 2 and digest == hashlib.sha256(lines.encode()).hexdigest()
    with pytest.raises(FileNotFoundError, match=r"no \*\.safetensors"):
        weights_sha256(tmp_path)


def test_manifest_records_versions_and_seeds(tmp_path: Path) -> None:
    versions = package_versions(["numpy", "surely-not-installed-pkg"])
    assert versions["numpy"] and versions["surely-not-installed-pkg"] is None
    manifest = build_manifest(
        seeds={"rollouts": (1_000_000, 8)},
        episode_counts={"rollouts": 8},
        env_kwargs={"control": "primitive"},
        renderer="tiny",
        device="cpu",
        model_dir=None,
        command=["embodied", "eval"],
    )
    assert manifest.seeds["rollouts"].first == 1_000_000 and manifest.python.count(".") == 2
    assert {"torch", "transformers", "peft", "gymnasium", "pybullet", "diffusers", "accelerate", "numpy"} <= set(
        manifest.packages
    )
