"""``extends`` with ``null``: an inherited key or head is removed, a null for a new key stays null (issue 14)."""

from __future__ import annotations

from pathlib import Path

from embodied.config import load_config
from embodied.config.yaml_source import load_yaml

BASE = """\
image_size: 40
heads:
  text: {kind: text}
  act: {kind: action-tokens, bins: 8}
"""


def test_null_removes_an_inherited_head(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "base.yaml").write_text(BASE)
    path = tmp_path / "exp.yaml"
    path.write_text("model:\n  extends: model/base.yaml\n  heads: {text: null}\n")
    cfg = load_config(path)
    assert list(cfg.model.heads) == ["act"]
    assert cfg.model.image_size == 40


def test_null_removes_a_scalar_which_takes_its_default(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("seed: 5\nname: base\n")
    path = tmp_path / "exp.yaml"
    path.write_text("extends: base.yaml\nseed: null\n")
    cfg = load_config(path)
    assert cfg.seed == 0 and cfg.name == "base"


def test_null_without_a_base_key_stays_and_origins_are_forgotten(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("a: {b: 1, c: 2}\n")
    path = tmp_path / "exp.yaml"
    path.write_text("extends: base.yaml\na: null\nd: null\n")
    origins: dict = {}
    assert load_yaml(path, origins) == {"d": None}
    assert ("a",) not in origins and ("a", "b") not in origins
