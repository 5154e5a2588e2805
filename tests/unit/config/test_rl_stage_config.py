"""An ``rl`` stage is validated like every other stage: one ConfigError naming the dotted key."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[3]
CARTPOLE = ROOT / "configs/experiment/cartpole-ppo.yaml"


def test_the_preset_resolves_the_algorithm_defaults() -> None:
    config = load_config(CARTPOLE)
    rl = config.stages[0].rl
    assert rl is not None and rl.algorithm["kind"] == "ppo"
    assert rl.algorithm["gae_lambda"] == 0.8 and rl.algorithm["vf_coef"] == 0.5  # given, and a filled-in default


@pytest.mark.parametrize(
    ("override", "key", "words"),
    [
        ("stages.0.rl.algorithm.kind=ppx", "stages.0.rl.algorithm.kind", "did you mean 'ppo'"),
        ("stages.0.rl.algorithm.clip_coeff=0.1", "stages.0.rl.algorithm.clip_coeff", "clip_coef"),
        ("stages.0.rl.algorithm.gamma=1.5", "stages.0.rl.algorithm.gamma", "1"),
        ("stages.0.rl.head=nothere", "stages.0.rl.head", "'action'"),
        ("stages.0.rl.num_envs=0", "stages.0.rl.num_envs", "1"),
        ("stages.0.rl.truncation=ignore", "stages.0.rl.truncation", "bootstrap"),
        ("stages.0.rl=null", "stages.0", "rl"),
    ],
)
def test_bad_rl_settings_name_the_key(override: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CARTPOLE, [override])
    message = str(info.value)
    assert key in message and words in message, message


@pytest.mark.parametrize("explicit", [[], ["stages.0.rl.head=action"]])
def test_a_head_without_log_prob_is_refused_by_name(explicit: list[str]) -> None:
    overrides = ["model.heads={action: {kind: diffusion, chunk: 2}}", *explicit]
    with pytest.raises(ConfigError) as info:
        load_config(CARTPOLE, overrides)
    message = str(info.value)
    assert "stages.0.rl.head" in message and "log-prob" in message and "diffusion" in message, message


def test_rl_section_only_on_rl_stages() -> None:
    with pytest.raises(ConfigError, match="only rl stages"):
        load_config(CARTPOLE, ["stages.0.kind=instruct"])


def test_grpo_group_size_must_divide_num_envs() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CARTPOLE, ["stages.0.rl.algorithm={kind: grpo, group_size: 3}"])
    assert "stages.0.rl.num_envs" in str(info.value) and "group_size" in str(info.value)
