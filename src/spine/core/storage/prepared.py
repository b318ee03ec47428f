"""Statements compiled once and executed straight on the driver, for the hottest paths.

SQLAlchemy's compiled-statement path costs about 80 µs per statement on SQLite, five
times what the statement itself costs; a workflow step writes six. A :class:`Prepared`
statement is still written and compiled by SQLAlchemy (same SQL, same type conversions
through the columns' own bind processors), compiled once, and executed on the cursor of
the current transaction's driver connection (about 15 µs). SQLAlchemy's cursor events
(``before_cursor_execute``, ``after_cursor_execute``) are still fired when something
listens, so statement logging and instrumentation keep seeing these statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from spine.core.storage.types import JSONType


class Prepared:
    """One statement compiled for one dialect with positional parameters (SQLite).

    Args:
        statement: A SQLAlchemy statement whose parameters are all ``bindparam``.
        dialect: The dialect to compile for; its paramstyle must be positional.
    """

    def __init__(self, statement: sa.Executable, dialect: Dialect) -> None:
        compiled: Any = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        if not compiled.positional:
            raise ValueError(f"{dialect.name} does not use positional parameters")
        self.sql: str = compiled.string
        self.names: Sequence[str] = tuple(compiled.positiontup)
        processors: Mapping[str, Any] = compiled._bind_processors
        # Literals in the statement (``count + 1``) are bound parameters with a value.
        self._defaults: Mapping[str, Any] = compiled.params
        json_binds = {
            name for name, bind in compiled.binds.items() if isinstance(bind.type, JSONType)
        }
        self._steps = tuple(
            (
                name,
                _empty_json_first(processors[name]) if name in json_binds else processors.get(name),
            )
            for name in self.names
        )

    def execute(self, conn: sa.Connection, params: Mapping[str, Any]) -> Any:
        """Run in ``conn``'s transaction; return the DBAPI cursor."""
        args = []
        for name, processor in self._steps:
            value = params[name] if name in params else self._defaults[name]
            args.append(processor(value) if processor is not None else value)
        driver, instrumented = _transaction_facts(conn)
        cursor = driver.cursor()
        if instrumented:
            conn.dispatch.before_cursor_execute(conn, cursor, self.sql, args, None, False)
        cursor.execute(self.sql, args)
        if instrumented:
            conn.dispatch.after_cursor_execute(conn, cursor, self.sql, args, None, False)
        return cursor


_FACTS = "spine_prepared_facts"


def _transaction_facts(conn: sa.Connection) -> tuple[Any, bool]:
    """The driver connection, and whether cursor events have listeners, for this transaction.

    Asking SQLAlchemy whether an event has listeners costs more than a SQLite statement;
    the answer is kept for the transaction (listeners are added between transactions, by
    instrumentation and tests), keyed by the transaction object itself.
    """
    transaction = conn.get_transaction()
    info = conn.info
    facts = info.get(_FACTS)
    if facts is not None and facts[0] is transaction:
        return facts[1], facts[2]
    driver = conn.connection.driver_connection
    events = conn.dispatch
    instrumented = bool(events.before_cursor_execute) or bool(events.after_cursor_execute)
    info[_FACTS] = (transaction, driver, instrumented)
    return driver, instrumented


def _empty_json_first(processor: Any) -> Any:
    """A JSON bind processor that writes an empty object without the serialiser.

    Most of a step's JSON values are empty (no params, outputs or metrics); the
    serialiser's call costs more than the statement's own work for them.
    """

    def process(value: Any) -> Any:
        if value == {} and isinstance(value, dict):
            return "{}"
        return processor(value)

    return process
