"""The ``data:`` and ``stages:`` sections: defaults, the tiny preset, mistakes as ``ConfigError`` with dotted keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied.config import ConfigError, ExperimentConfig, load_config, save_config

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "configs/experiment/tiny.yaml"


def error_of(path: Path, overrides: list[str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return info.value


def test_defaults_are_align_instruct_preference() -> None:
    config = ExperimentConfig()
    assert [(s.name, s.kind) for s in config.stages] == [
        ("align", "align"),
        ("instruct", "instruct"),
        ("preference", "preference"),
    ]
    align = config.stages[0]
    assert align.mixture == {"caption": 1.0}
    assert align.trainable["projector"] == "full" and align.trainable["backbone"] == "frozen"
    assert set(config.stages[1].mixture) == {"action", "plan", "vqa"}
    assert config.data.env_ids == ["embodied/PickPlace-v0"]


def test_tiny_preset_round_trips(tmp_path: Path) -> None:
    config = load_config(TINY, ["stages.1.max_steps=5", "data.episodes=2"])
    assert [s.name for s in config.stages] == ["align", "instruct", "preference"]
    assert config.stages[1].max_steps == 5 and config.data.episodes == 2
    assert config.data.env_kwargs["image_size"] == 32
    assert load_config(save_config(config, tmp_path / "resolved.yaml")) == config


@pytest.mark.parametrize(
    ("overrides", "key", "needle"),
    [
        (["stages.1.max_steps=0"], "stages.1.max_steps", "greater than or equal to 1"),
        (["stages.0.kind=pretrain"], "stages.0.kind", "align"),
        (["stages.2.beta=0"], "stages.2.beta", "greater than 0"),
        (["stages.0.trainable.backbone=lorax"], "stages.0.trainable.backbone", "lora"),
        (["stages.0.mixture.captions=1.0"], "stages.0", "unknown sample kind"),
        (["stages.2.mixture.action=1.0"], "stages.2", "VQA pairs only"),
        (["stages.1.name=align"], "<top level>", "unique"),
        (["data.episodes=0"], "data.episodes", "greater than or equal to 1"),
        (["data.annotations=[caption]"], "data.annotations.0", "captions"),
    ],
)
def test_stage_and_data_mistakes(overrides: list[str], key: str, needle: str) -> None:
    message = str(error_of(TINY, overrides))
    assert f"{key}:" in message and needle in message, message


def test_unknown_stage_key_suggests_the_field(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("stages:\n  - name: a\n    kind: align\n    max_step: 3\n", encoding="utf-8")
    err = error_of(path)
    assert [p.key for p in err.problems] == ["stages.0.max_step"]
    assert "did you mean 'max_steps'" in str(err) and f"{path}:4" in str(err)
