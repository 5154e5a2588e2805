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
