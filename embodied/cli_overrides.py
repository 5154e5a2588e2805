"""Dotted overrides anywhere on the command line (issue 14): ``embodied collect CONFIG --out D data.episodes=6``.

``argparse`` binds positionals by position, so an override may land in the ``config`` slot (``embodied quickstart
seed=1``, whose config has a default) or follow the options (``parse_known_args`` leaves it over). argparse's own
``parse_intermixed_args`` refuses parsers with sub-commands, so the console script sorts the tokens afterwards:
every ``KEY=VALUE`` token whose key is a dotted name is an override, in command-line order, and the one other
token is the config file. An option's value (``--env-kwarg a=b``) is consumed by argparse first and never seen here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from embodied.errors import UsageError

__all__ = ["is_override", "sort_config_tokens"]

_OVERRIDE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*=")


def is_override(token: str) -> bool:
    """``model.heads.text.kind=text`` is a dotted override; a path such as ``configs/x.yaml`` is not."""
    return bool(_OVERRIDE.match(token))


def sort_config_tokens(
    config: str | None, overrides: Sequence[str], extra: Sequence[str], default: str | None
) -> tuple[str, list[str]]:
    """The config file and the overrides, in order, from argparse's ``config`` / ``overrides`` and leftovers.

    ``UsageError`` when a leftover is neither an override nor the one config file, or when no config is given
    and the command has no default.
    """
    tokens = [t for t in (config, *overrides, *extra) if t is not None]
    files = [t for t in tokens if not is_override(t)]
    unknown = [t for t in extra if not is_override(t) and t.startswith("-")]
    if unknown:
        raise UsageError(f"unrecognized arguments: {' '.join(unknown)}")
    if len(files) > 1:
        raise UsageError(
            f"expected one experiment YAML file and KEY=VALUE overrides, got files {files} "
            "(an override is a dotted key, '=', a value: data.episodes=6)"
        )
    if not files and default is None:
        raise UsageError("the experiment YAML file is missing (e.g. configs/experiment/quickstart.yaml)")
    return (files[0] if files else str(default)), [t for t in tokens if is_override(t)]
