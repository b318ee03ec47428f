"""Counting the SQL statements a piece of code sends: how tests show there is no N+1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from spine.core.storage import Database


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Collect the statements sent to ``db`` inside the block (their SQL text)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def selects(sql: list[str]) -> list[str]:
    """The statements of ``sql`` that read (the transaction's own BEGIN/COMMIT left out)."""
    return [s for s in sql if s.lstrip().upper().startswith(("SELECT", "WITH"))]
