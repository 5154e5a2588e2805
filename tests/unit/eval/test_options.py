"""Parsing and checking ``embodied eval`` input: env kwargs, baselines, split seeds, counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied.eval.options import (
    HELDOUT_SEED,
    EvalInputError,
    EvalOptions,
    default_seed,
    parse_baselines,
    parse_env_kwargs,
)


def test_env_kwargs_are_read_as_yaml() -> None:
    kwargs = parse_env_kwargs(["image_size=64", "control=ee_delta", "cameras=[front, wrist]", "depth=true"])
    assert kwargs == {"image_size": 64, "control": "ee_delta", "cameras": ["front", "wrist"], "depth": True}


@pytest.mark.parametrize("item", ["image_size", "=3", "bad key=1", "cameras=[front"])
def test_bad_env_kwargs_name_the_item(item: str) -> None:
    with pytest.raises(EvalInputError, match="bad --env-kwarg"):
        parse_env_kwargs([item])


def test_baselines() -> None:
    assert parse_baselines("random, scripted,random") == ("random", "scripted")
    assert parse_baselines("") == ()
    with pytest.raises(EvalInputError, match="unknown baseline"):
        parse_baselines("random,oracle")


def test_split_seeds_are_disjoint() -> None:
    assert default_seed("train") == 0 and default_seed("heldout") == HELDOUT_SEED == 1_000_000


@pytest.mark.parametrize(
    ("field", "value"), [("episodes", -1), ("num_envs", 0), ("videos", -2), ("split", "test"), ("max_steps", 0)]
)
def test_options_reject_bad_values(field: str, value: object) -> None:
    with pytest.raises(EvalInputError, match=field.replace("_", "-") if field != "split" else "split"):
        EvalOptions(checkpoint=Path("m"), env_id="embodied/PickPlace-v0", out=Path("o"), **{field: value})
