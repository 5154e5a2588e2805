"""The model presets the benchmarks measure, read from ``configs/model/`` (one source of truth with the CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

#: the quickstart preset's file (``configs/model/quickstart.yaml``), found from the repository checkout
QUICKSTART_PRESET = Path(__file__).resolve().parents[2] / "configs" / "model" / "quickstart.yaml"


def quickstart_spec() -> dict[str, Any]:
    """The quickstart preset as a fresh spec dict (the benchmarks change copies of it)."""
    if not QUICKSTART_PRESET.exists():
        raise FileNotFoundError(f"{QUICKSTART_PRESET} is missing: run the benchmarks from a checkout of the repository")
    spec: dict[str, Any] = yaml.safe_load(QUICKSTART_PRESET.read_text(encoding="utf-8"))
    return spec


#: the main job's model (``configs/model/pointer.yaml``: CoordConv CNN → MLP → 2-layer LM → text + pointer heads)
POINTER_PRESET = QUICKSTART_PRESET.with_name("pointer.yaml")


def pointer_spec() -> dict[str, Any]:
    """The main job's model preset (``make quickstart``'s ``configs/model/pointer.yaml``) as a fresh spec dict."""
    if not POINTER_PRESET.exists():
        raise FileNotFoundError(f"{POINTER_PRESET} is missing: run the benchmarks from a checkout of the repository")
    spec: dict[str, Any] = yaml.safe_load(POINTER_PRESET.read_text(encoding="utf-8"))
    return spec
