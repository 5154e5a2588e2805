"""The evaluation manifest: package versions, platform, seeds, renderer, episode counts, and the model's hashes.

The model's identity is the sha256 of its weight files (``*.safetensors``); when the model sits in a training run
(``RUN/S/model``) its ``lineage.json`` adds the parent model, the dataset hash (sha256 of the dataset's
``meta/info.json``) and the resolved config's hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from embodied.eval.results import Manifest, ModelInfo, SeedRange
from embodied.eval.run_dir import locate_run, read_lineage
from embodied.training.manifest import hash_file

__all__ = ["PACKAGES", "build_manifest", "model_info", "package_versions", "weights_sha256"]

#: distributions whose versions decide the numbers
PACKAGES = (
    "embodied",
    "torch",
    "transformers",
    "peft",
    "gymnasium",
    "pybullet",
    "diffusers",
    "accelerate",
    "numpy",
    "matplotlib",
)


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version per distribution (``None`` when not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def weights_sha256(model_dir: Path) -> tuple[str, dict[str, str]]:
    """(digest, per-file sha256) of the model's ``*.safetensors``; one file's digest is its own sha256."""
    files = {p.name: hash_file(p).sha256 for p in sorted(model_dir.glob("*.safetensors"))}
    if not files:
        raise FileNotFoundError(f"{model_dir} holds no *.safetensors weights")
    if len(files) == 1:
        return next(iter(files.values())), files
    lines = "".join(f"{name} {digest}\n" for name, digest in files.items())
    return hashlib.sha256(lines.encode()).hexdigest(), files


def model_info(model_dir: Path) -> ModelInfo:
    """Path, weight hashes and (inside a run directory) lineage of the model at ``model_dir``."""
    digest, files = weights_sha256(model_dir)
    info = ModelInfo(path=str(model_dir.resolve()), sha256=digest, files=files)
    run = locate_run(model_dir)
    if run is None:
        return info
    lineage = read_lineage(run.run_dir / run.stage) or {}
    dataset = lineage.get("dataset") or {}
    return info.model_copy(
        update={
            "run_dir": str(run.run_dir),
            "stage": run.stage,
            "parent": lineage.get("parent"),
            "data_sha256": dataset.get("info_sha256") if isinstance(dataset, dict) else None,
            "config_sha256": lineage.get("config_sha256"),
        }
    )


def build_manifest(
    *,
    seeds: Mapping[str, tuple[int, int]],
    episode_counts: Mapping[str, int],
    env_kwargs: Mapping[str, Any],
    renderer: str | None,
    device: str,
    model_dir: Path | None,
    command: Sequence[str] | None = None,
) -> Manifest:
    """The manifest of one evaluation; ``seeds`` maps a block name to ``(first seed, count)``."""
    return Manifest(
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        command=list(sys.argv if command is None else command),
        python=platform.python_version(),
        platform=platform.platform(),
        packages=package_versions(),
        seeds={name: SeedRange(first=first, count=count) for name, (first, count) in seeds.items()},
        renderer=renderer,
        episode_counts=dict(episode_counts),
        env_kwargs=dict(env_kwargs),
        device=device,
        model=None if model_dir is None else model_info(model_dir),
    )
