"""Silence pybullet's C-level chatter ("argv[0]=", the build banner) at the file-descriptor level.

pybullet prints from C with ``printf``, which bypasses ``sys.stdout``; redirecting Python's stream does not
help. ``silence_stdout`` points file descriptor 1 (and 2 with ``include_stderr=True``, used only around
``import pybullet``, whose banner goes to stderr) at ``/dev/null`` for the duration of the block and restores
them afterwards. Both buffers are flushed at each switch — Python's and C's ``stdio`` (``fflush(NULL)``): when
stdout is a pipe, C buffers the text and would otherwise write it after fd 1 is restored.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
from collections.abc import Iterator


def _flush_all() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.flush()
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c")).fflush(None)


@contextlib.contextmanager
def silence_stdout(include_stderr: bool = False) -> Iterator[None]:
    """Redirect fd 1 (and fd 2 if ``include_stderr``) to ``/dev/null`` inside the block."""
    fds = (1, 2) if include_stderr else (1,)
    _flush_all()
    saved = [os.dup(fd) for fd in fds]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
        yield
    finally:
        _flush_all()
        for fd, old in zip(fds, saved, strict=True):
            os.dup2(old, fd)
            os.close(old)
        os.close(devnull)
