"""How the CLI prints: tables for people, ``--json`` for programs, one line for errors."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.table import Table

# Wide enough for run tables when the output is a pipe or a file (rich would use 80).
_WIDTH = shutil.get_terminal_size((140, 24)).columns
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout (no colour, no wrapping).

    A ``Decimal`` (a sensor value a float cannot hold) is written as a JSON number with
    all its digits, not rounded through a float.
    """
    exact: list[str] = []

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            if not value.is_finite():
                return None
            exact.append(str(value))
            return f"\x00decimal{len(exact) - 1}\x00"
        return _default(value)

    text = json.dumps(data, default=default, indent=2)
    if exact:
        text = _DECIMAL.sub(lambda match: exact[int(match.group(1))], text)
    sys.stdout.write(text + "\n")


# How json.dumps writes the placeholder of the n-th Decimal.
_DECIMAL = re.compile(r'"\\u0000decimal(\d+)\\u0000"')


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print rows as a table."""
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def when(value: datetime | str | None, zone: tzinfo | None = None) -> str:
    """A time for a table cell, always with its zone: ``2026-12-02 07:01:00Z``.

    The one place tables format times, so a reader never guesses the zone. UTC is
    written ``Z``; with ``zone`` (a schedule's own time zone) the time is shown on that
    zone's wall clock with its offset, ``2026-12-02 02:01:00-05:00``. A naive value,
    which spine never stores, is taken as UTC. ``None`` is an empty cell.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):  # an ISO time kept in JSON (a view's field)
        value = datetime.fromisoformat(value)
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    local = aware.astimezone(zone or UTC)
    text = local.isoformat(sep=" ", timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") and zone is None else text


def fail(message: str, code: int = 2) -> None:
    """Print one error line on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise SystemExit(code)
