"""How spine's processes log: one line per record, text or JSON, naming run and step.

Records that carry ``run_id``, ``step_name`` and ``attempt`` extras (the engine's, and
every ``ctx.log`` record) print them; a traceback stays on the record's line (its line
breaks escaped in text, a JSON string in JSON), so that a log collector never splits a
record.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

#: The formats ``--log-format`` / ``SPINE_LOG_FORMAT`` accept.
LOG_FORMATS = ("text", "json")

_CONTEXT = (("run_id", "run_id"), ("step_name", "step"), ("attempt", "attempt"))


def _context(record: logging.LogRecord) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for attribute, key in _CONTEXT:
        value = getattr(record, attribute, None)
        if value is not None:
            found[key] = value
    return found


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message run_id=... step=...`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Format the record on one line, its traceback's line breaks escaped."""
        text = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        context = " ".join(f"{key}={value}" for key, value in _context(record).items())
        if context:
            text = f"{text} {context}"
        if record.exc_info:
            text = f"{text} | {self.formatException(record.exc_info)}"
        return text.replace("\r", "").replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, run_id, step, ..."""

    def format(self, record: logging.LogRecord) -> str:
        """Format the record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr at ``level`` in ``log_format``, unless logging is configured already.

    The handler, not only the root logger, gets the level: ``spine.step`` is set to INFO
    so that ``ctx.log`` lines are captured with their attempt, and they must not reach
    stderr when the process logs only warnings.

    Raises:
        ValueError: If ``level`` is not a logging level name.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setLevel(level.upper())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
