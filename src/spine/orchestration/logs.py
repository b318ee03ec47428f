"""The ``ctx.log`` lines of each step attempt, captured while it runs, kept bounded.

One handler on the ``spine.step`` logger (the logger behind ``ctx.log``) hands each
record to the buffer of the attempt it names (its ``run_id``, ``step_name`` and
``attempt`` extras): records of attempts not running in this process, and records of
other loggers, are not captured. The buffer is written with the attempt's end, in the
same transaction (no write per line). An attempt keeps its first and its last
:data:`MAX_LOG_CHARS` / 2 characters of log (messages, plus a fixed charge per line for
its time and level); the lines between are counted and replaced by one marker line.

``spine.step`` is set to INFO when nothing configured it, so that ``ctx.log.info`` lines
are captured even when the process logs only warnings.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

#: Characters of messages an attempt keeps: half from its start, half from its end.
MAX_LOG_CHARS = 64 * 1024
#: Longest message kept whole; a longer one is cut and marked.
MAX_LINE_CHARS = 4 * 1024
#: The level of the marker line standing for the lines dropped.
DROPPED_LEVEL = "-"
# What a line costs beyond its message (its time, level and JSON punctuation as stored),
# so that many short lines are bounded like a few long ones.
_LINE_OVERHEAD = 48

STEP_LOGGER = "spine.step"

LogLine = tuple[str, str, str]
"""One line: time (ISO 8601, UTC), level name, message."""


class CapturedLog:
    """The bounded log of one attempt: its first lines, its last lines, and a count."""

    def __init__(self, limit: int = MAX_LOG_CHARS) -> None:
        self._half = limit // 2
        self._head: list[LogLine] = []
        self._head_chars = 0
        self._tail: deque[LogLine] = deque()
        self._tail_chars = 0
        self._first_dropped: str | None = None
        self.dropped = 0
        self._lock = threading.Lock()

    def add(self, when: str, level: str, message: str) -> None:
        """Keep a line, dropping the oldest of the tail when the tail is full."""
        if len(message) > MAX_LINE_CHARS:
            cut = len(message) - MAX_LINE_CHARS
            message = f"{message[:MAX_LINE_CHARS]} ... [{cut} characters truncated]"
        line = (when, level, message)
        size = len(message) + _LINE_OVERHEAD
        with self._lock:
            if not self._tail and self._head_chars + size <= self._half:
                self._head.append(line)
                self._head_chars += size
                return
            self._tail.append(line)
            self._tail_chars += size
            while self._tail_chars > self._half and self._tail:
                old = self._tail.popleft()
                self._tail_chars -= len(old[2]) + _LINE_OVERHEAD
                self.dropped += 1
                if self._first_dropped is None:
                    self._first_dropped = old[0]

    def __bool__(self) -> bool:
        return bool(self._head or self._tail)

    def lines(self) -> list[LogLine]:
        """The lines kept, with one marker line where lines were dropped."""
        with self._lock:
            lines = list(self._head)
            if self.dropped:
                marker = (
                    f"[spine] {self.dropped} lines dropped: an attempt keeps the first and "
                    f"the last {self._half // 1024} KiB of its log"
                )
                lines.append((self._first_dropped or "", DROPPED_LEVEL, marker))
            lines.extend(self._tail)
            return lines


def format_record(record: logging.LogRecord) -> str:
    """A record's message, with its exception's traceback if it carries one."""
    message = record.getMessage()
    if record.exc_info:
        message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
    return message


def record_time(record: logging.LogRecord) -> str:
    """When a record was made, ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class _AttemptLogs(logging.Handler):
    """Hands ``spine.step`` records to the buffer of the running attempt they name."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self._buffers: dict[tuple[str, str, int], CapturedLog] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = (
            getattr(record, "run_id", None),
            getattr(record, "step_name", None),
            getattr(record, "attempt", None),
        )
        buffer = self._buffers.get(key)  # type: ignore[arg-type]  # any key may miss
        if buffer is not None:
            buffer.add(record_time(record), record.levelname, format_record(record))

    @contextmanager
    def capture(self, run_id: str, step_name: str, attempt: int) -> Iterator[CapturedLog]:
        """Capture the attempt's ``ctx.log`` lines while the block runs."""
        buffer = CapturedLog()
        key = (run_id, step_name, attempt)
        self._buffers[key] = buffer
        try:
            yield buffer
        finally:
            self._buffers.pop(key, None)


_handler = _AttemptLogs()
_step_logger = logging.getLogger(STEP_LOGGER)
if _step_logger.level == logging.NOTSET:
    _step_logger.setLevel(logging.INFO)
_step_logger.addHandler(_handler)

capture = _handler.capture
