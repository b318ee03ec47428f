"""How a command that runs until stopped stops: the first signal asks, the second forces.

``spine worker``, ``spine scheduler``, ``spine alerts deliver`` and ``spine run`` install
the same handlers for SIGINT and SIGTERM with :class:`StopSignals`:

- The first signal calls the command's ``on_stop`` (which only sets events: it runs in a
  signal handler) and prints the line it returns on stderr, saying what the command
  finishes before it exits and that Ctrl-C again stops at once.
- A second signal ends the process at once with ``128 + signal`` (130 after Ctrl-C).
  Nothing is lost: every change is one transaction, so a transaction cut short is rolled
  back, and what the process held (run leases, delivery claims, schedule locks) expires
  and is taken over as if the process had died.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Installs the two-step stop for SIGINT and SIGTERM while the block runs.

    Args:
        on_stop: Called with the first signal (in the signal handler: it must only set
            events or start a thread); returns the line printed on stderr.
    """

    def __init__(self, on_stop: Callable[[signal.Signals], str]) -> None:
        self.on_stop = on_stop
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> StopSignals:
        for sig in _SIGNALS:
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            _say("stopping now: what was in progress is taken over once its lease runs out")
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, RuntimeError, ValueError):  # re-entered
                    stream.flush()
            os._exit(128 + signum)
        self.received = signal.Signals(signum)
        _say(self.on_stop(self.received))


def _say(line: str) -> None:
    # os.write, not print: a handler may run while the main thread is inside a print.
    os.write(sys.stderr.fileno(), (line + "\n").encode(errors="replace"))
