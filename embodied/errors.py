"""The error contract of the ``embodied`` console script: a user's mistake is one line, a bug is a traceback.

``UserError`` marks an exception whose cause lies in the input — a path that does not exist or cannot be
written, a corrupted or truncated file, an unavailable device, a number out of range, an unknown name — and not
in the framework. The library's own error classes subclass it next to their usual base (``ConfigError`` is a
``ValueError``, ``CheckpointError`` a ``RuntimeError``, ...), so Python callers keep catching the types and
messages they always did, and ``embodied.cli.main`` turns any of them into::

    embodied: <what was wrong, naming the argument, file or key, and what was expected>

on stderr with exit code 2 (``USER_ERROR``). An ``OSError`` that carries an errno (``FileNotFoundError``,
``PermissionError``, a full disk, ...) is the machine's answer about a path and is reported the same way. Any
other exception is a bug in embodied: the traceback is printed, then a line saying so and where to report it,
with exit code 1 (``BUG``).

A new command (the RL stage, continual learning, ...) joins the contract by raising a ``UserError`` subclass —
or ``UsageError`` for a bad command-line argument — with a message that names the thing and what was expected.
"""

from __future__ import annotations

import traceback
from typing import TextIO

__all__ = ["BUG", "REPORT_HINT", "USER_ERROR", "UsageError", "UserError", "is_user_error", "one_line", "report"]

USER_ERROR = 2
BUG = 1
REPORT_HINT = (
    "this is a bug in embodied, not in your input; please report it on the embodied issue tracker "
    "with the command line and the traceback above"
)


class UserError(Exception):
    """Marker base: the input is wrong, not the framework (the CLI prints one line and exits with code 2)."""


class UsageError(UserError, ValueError):
    """A command-line argument is wrong; the message names the option and the range or kind expected."""


def is_user_error(err: BaseException) -> bool:
    """True for ``UserError`` and for OS errors with an errno (a path that is missing, unwritable, ...)."""
    return isinstance(err, UserError) or (isinstance(err, OSError) and err.errno is not None)


def one_line(err: BaseException) -> str:
    """The error's message on one line (multi-line messages are joined with "; ")."""
    if isinstance(err, OSError) and err.errno is not None and err.strerror:
        paths = [str(p) for p in (err.filename, err.filename2) if p is not None]
        return f"{' -> '.join(paths)}: {err.strerror}" if paths else err.strerror
    render = getattr(err, "one_line", None)
    text = render() if callable(render) else str(err)
    parts = [part.strip() for part in str(text).splitlines() if part.strip()]
    return "; ".join(parts) or type(err).__name__


def report(err: BaseException, stream: TextIO) -> int:
    """Print ``err`` under the contract and return the exit code (``USER_ERROR`` or ``BUG``)."""
    if is_user_error(err):
        print(f"embodied: {one_line(err)}", file=stream)
        return USER_ERROR
    traceback.print_exception(type(err), err, err.__traceback__, file=stream)
    print(f"embodied: {REPORT_HINT}", file=stream)
    return BUG
