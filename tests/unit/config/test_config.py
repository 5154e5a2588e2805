"""Config loading: valid presets, overrides, ``extends``, and every kind of mistake as one ``ConfigError``."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied.config import ConfigError, ExperimentConfig, load_config, save_config


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, overrides: list[str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return info.value


def test_valid_file_with_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "name: demo\nseed: 3\nmodel:\n  image_size: 48\n  projector: {kind: linear}\n")
    cfg = load_config(path, ["seed=7", "model.projector.kind=mlp", "model.cameras=[front, wrist]"])
    assert cfg.seed == 7 and cfg.name == "demo"
    assert cfg.model.projector["kind"] == "mlp"
    assert cfg.model.cameras == ["front", "wrist"]
    assert cfg.model.image_size == 48


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "seed: 5\nmodel: {state_dim: 9}\n"))
    saved = save_config(cfg, tmp_path / "run" / "config.yaml")
    again = load_config(saved)
    assert again == cfg
    assert isinstance(again, ExperimentConfig)
    # defaults of every component are written out, so the saved file alone rebuilds the same model
    assert set(again.model.projector) > {"kind"}


def test_extends_merges_nested_mappings(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    write(tmp_path, "image_size: 40\nstate_dim: 4\nprojector: {kind: linear}\n", "model/base.yaml")
    path = write(tmp_path, "model:\n  extends: model/base.yaml\n  state_dim: 6\n")
    cfg = load_config(path)
    assert (cfg.model.image_size, cfg.model.state_dim, cfg.model.projector["kind"]) == (40, 6, "linear")


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("seed: 1\nmodle: {}\n", ["modle", ":2", "did you mean 'model'"]),
        ("seed: abc\n", ["seed", ":1", "'abc'"]),
        ("seed: 1\nmodel:\n  image_size: [1, 2]\n", ["model.image_size", ":3"]),
        ("- a\n- b\n", ["top level", "a list", ":1"]),
        ("", ["empty file"]),
        ("seed: 1\nmodel: {image_size: 3\n", ["valid YAML", ":"]),
        ("model:\n  image_size: 4\n", ["model.image_size", "greater than or equal to 8", ":2"]),
        ("seed: -1\n", ["seed", "greater than or equal to 0"]),
        ("model:\n  imagesize: 32\n", ["model.imagesize", "did you mean 'image_size'", ":2"]),
        ("model:\n  projector: {kind: mpl}\n", ["model.projector.kind", "did you mean 'mlp'", ":2"]),
        ("model:\n  projector: {width: 3}\n", ["model.projector", "kind"]),
        ("seed: 1\nseed: 2\n", ["duplicate", ":2"]),
        ("model:\n  trainable: {backbone: lorax}\n", ["model.trainable.backbone", "lora", ":2"]),
        ("model:\n  action_dim: 2\n  action_low: [0, 0, 0]\n", ["action_low", "action_dim"]),
        ("42\n", ["top level", "scalar"]),
    ],
)
def test_malformed_files_raise_config_error(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = write(tmp_path, text)
    message = str(error_of(path))
    assert str(path) in message or "<config>" in message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_component_setting_errors_name_the_nested_key(tmp_path: Path) -> None:
    path = write(tmp_path, "model:\n  projector:\n    kind: mlp\n    hidden_mutl: 2\n")
    message = str(error_of(path))
    assert "model.projector.hidden_mutl" in message and ":4" in message


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("seed", "dotted.key=value"),
        ("seed=abc", "seed"),
        ("model.cameras.5=x", "list index"),
        ("modell.x=1", "did you mean 'model'"),
    ],
)
def test_bad_overrides(tmp_path: Path, override: str, needle: str) -> None:
    message = str(error_of(write(tmp_path, "seed: 1\n"), [override]))
    assert needle in message
    assert "<override>" in message


def test_missing_file_and_extends_cycle(tmp_path: Path) -> None:
    assert "an existing YAML file" in str(error_of(tmp_path / "nope.yaml"))
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    assert "cycle" in str(error_of(tmp_path / "a.yaml"))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "seed: x\nname: ''\nbogus: 1\n"))
    keys = sorted(p.key for p in err.problems)
    assert keys == ["bogus", "name", "seed"]
