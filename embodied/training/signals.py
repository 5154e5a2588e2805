"""A SIGTERM flag: the handler only records the request; the trainer acts on it at the next step boundary.

Doing the work inside the handler would interrupt a half-finished optimizer step or checkpoint write; a flag lets
the loop finish the step, save a consistent checkpoint and exit with 143 (128 + SIGTERM), which schedulers such
as SLURM and Kubernetes read as "terminated on request".
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

logger = logging.getLogger("embodied")

EXIT_CODE_SIGTERM = 128 + int(signal.SIGTERM)


class TerminationFlag:
    """Context manager: while inside, SIGTERM sets ``requested`` instead of killing the process.

    The previous handler is put back on exit. Outside the main thread Python cannot install handlers; the flag
    then stays unarmed (logged) and can still be set by calling :meth:`request`.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        self.signum = signum
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def request(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Record a stop request (the signal handler; callable directly, e.g. from a time limit)."""
        if not self.requested:
            logger.warning("stop requested (signal %s): checkpointing at the next step boundary", signum)
        self.requested = True

    def __enter__(self) -> TerminationFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(self.signum, self.request)
            self._installed = True
        else:
            logger.info("not in the main thread: SIGTERM handler not installed")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._installed:
            signal.signal(self.signum, self._previous)
            self._installed = False
