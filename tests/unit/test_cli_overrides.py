"""Dotted overrides anywhere on the command line (``embodied.cli_overrides``, issue 14)."""

from __future__ import annotations

import pytest

from embodied.cli import build_parser
from embodied.cli_overrides import is_override, sort_config_tokens
from embodied.errors import UsageError

DEFAULT = "configs/experiment/quickstart.yaml"


@pytest.mark.parametrize(
    ("argv", "config", "overrides"),
    [
        (["collect", "C.yaml", "--out", "D", "data.episodes=6"], "C.yaml", ["data.episodes=6"]),
        (["collect", "data.episodes=6", "C.yaml", "--out", "D"], "C.yaml", ["data.episodes=6"]),
        (["train", "C.yaml", "a=1", "--run-dir", "R", "b.c=2", "--quiet", "d=3"], "C.yaml", ["a=1", "b.c=2", "d=3"]),
        (["quickstart", "seed=1"], DEFAULT, ["seed=1"]),
        (
            ["quickstart", "--run-dir", "R", "seed=1", "stages.0.max_steps=2"],
            DEFAULT,
            ["seed=1", "stages.0.max_steps=2"],
        ),
        (["continual", "C.yaml", "--run-dir", "R", "continual.episodes=2"], "C.yaml", ["continual.episodes=2"]),
    ],
)
def test_overrides_before_between_and_after_options(argv: list[str], config: str, overrides: list[str]) -> None:
    args, extra = build_parser().parse_known_args(argv)
    assert sort_config_tokens(args.config, args.overrides, extra, args.config_default) == (config, overrides)


def test_mistakes_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unrecognized arguments: --bogus"):
        sort_config_tokens("C.yaml", [], ["--bogus"], None)
    with pytest.raises(UsageError, match=r"one experiment YAML file.*\['C.yaml', 'D.yaml'\]"):
        sort_config_tokens("C.yaml", ["D.yaml"], [], None)
    with pytest.raises(UsageError, match="YAML file is missing"):
        sort_config_tokens("seed=1", [], [], None)


def test_what_counts_as_an_override() -> None:
    assert is_override("model.heads.text.kind=text") and is_override("stages.1.max_steps=5")
    assert not is_override("configs/x=y.yaml") and not is_override("--out=D") and not is_override("x.yaml")
