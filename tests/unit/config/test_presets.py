"""Every shipped preset loads and validates (the real-size one too: paths are only read when building)."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied.config import load_config

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "experiment").glob("*.yaml")), ids=lambda p: p.name)
def test_experiment_presets_validate(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.model.heads and cfg.model.encoders
