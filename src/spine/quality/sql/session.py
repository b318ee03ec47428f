"""Read-only, timed sessions on users' databases, and error texts without secrets.

``filter``, ``condition`` and ``custom_sql`` are user SQL by design; they only ever run
inside :func:`read_only`, which makes the database itself refuse writes and stop a
statement that runs too long:

- PostgreSQL: ``SET TRANSACTION READ ONLY`` and ``SET LOCAL statement_timeout``;
- MySQL/MariaDB: ``START TRANSACTION READ ONLY`` and ``max_execution_time`` (MySQL) or
  ``max_statement_time`` (MariaDB);
- SQLite: ``PRAGMA query_only`` and a progress handler that interrupts past the deadline;
- DuckDB: ``BEGIN TRANSACTION READ ONLY``, and every statement is parsed by DuckDB's own
  parser and refused unless it is one SELECT; a timer calls ``interrupt()`` past the
  deadline.

Every unit ends with a rollback. Statements the session itself issues are marked
``spine_setup`` so :func:`count_statements` counts only the ones that read data.
"""

from __future__ import annotations

import functools
import math
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from spine.core.errors import ErrorCategory, SpineError
from spine.core.secrets import MASK, redact_url_password
from spine.quality.sql.dialects import SQLITE_PERCENTILE, SQLITE_REGEXP, SQLITE_STDDEV

Run = Callable[[sa.Executable], list[sa.Row[Any]]]

_SETUP = {"spine_setup": True}
_TIMEOUT_MARKERS = (
    "statement timeout",
    "max_statement_time",
    "maximum statement execution time",
    "interrupted",
)


_FIRST_WORD = re.compile(r"[\s(]*([A-Za-z]+)")


class WriteRefused(Exception):
    """A statement that is not a single SELECT was about to run on DuckDB."""


@contextmanager
def read_only(conn: sa.Connection, timeout_seconds: float) -> Iterator[Run]:
    """One read-only, timed transaction on ``conn``; yields a function running statements.

    The transaction is rolled back at the end, whatever happened.
    """
    dialect = conn.dialect.name
    timed_out = threading.Event()
    deadline = time.monotonic() + timeout_seconds
    timer: threading.Timer | None = None
    try:
        if dialect == "postgresql":
            conn.execute(sa.text("SET TRANSACTION READ ONLY"), execution_options=_SETUP)
            millis = max(1, math.ceil(timeout_seconds * 1000))
            conn.execute(
                sa.text(f"SET LOCAL statement_timeout = {millis}"), execution_options=_SETUP
            )
        elif dialect == "mysql":
            _mysql_timeout(conn, timeout_seconds)
            conn.execute(sa.text("START TRANSACTION READ ONLY"), execution_options=_SETUP)
        elif dialect == "sqlite":
            raw: Any = conn.connection.driver_connection
            _sqlite_functions(raw)
            conn.execute(sa.text("PRAGMA query_only = ON"), execution_options=_SETUP)
            raw.set_progress_handler(_deadline_handler(deadline, timed_out), 1000)
        elif dialect == "duckdb":
            # duckdb_engine has begun a read-write transaction: swap it for a read-only one.
            conn.exec_driver_sql("ROLLBACK", execution_options=_SETUP)
            conn.exec_driver_sql("BEGIN TRANSACTION READ ONLY", execution_options=_SETUP)
            raw = conn.connection.driver_connection
            timer = threading.Timer(timeout_seconds, _interrupt, (raw, timed_out))
            timer.daemon = True
            timer.start()

        def run(statement: sa.Executable) -> list[sa.Row[Any]]:
            _refuse_non_query(conn, statement)
            return list(conn.execute(statement).all())

        yield run
    except Exception as error:
        if timed_out.is_set() or _looks_like_timeout(error):
            raise TimeoutError(f"timed out after {timeout_seconds:g} s") from error
        raise
    finally:
        if timer is not None:
            timer.cancel()
        _end(conn, dialect)


def _end(conn: sa.Connection, dialect: str) -> None:
    try:
        conn.rollback()
        if dialect == "sqlite":
            raw: Any = conn.connection.driver_connection
            raw.set_progress_handler(None, 0)
            conn.execute(sa.text("PRAGMA query_only = OFF"), execution_options=_SETUP)
            conn.rollback()
        elif dialect == "mysql":
            _mysql_timeout(conn, None)
            conn.rollback()
    except Exception:
        # A broken connection: the pool throws it away; the unit's own error tells why.
        conn.invalidate()


def _mysql_timeout(conn: sa.Connection, seconds: float | None) -> None:
    """Set the session's statement limit, or (``None``) give back the server's default."""
    name = (
        "max_statement_time"
        if getattr(conn.dialect, "is_mariadb", False)
        else ("max_execution_time")
    )
    if seconds is None:
        value = "DEFAULT"
    elif name == "max_statement_time":
        value = f"{float(seconds):.3f}"  # MariaDB: seconds
    else:
        value = str(math.ceil(seconds * 1000))  # MySQL: milliseconds
    conn.execute(sa.text(f"SET SESSION {name} = {value}"), execution_options=_SETUP)


def _deadline_handler(deadline: float, timed_out: threading.Event) -> Callable[[], int]:
    def handler() -> int:
        if time.monotonic() > deadline:
            timed_out.set()
            return 1
        return 0

    return handler


def _interrupt(raw: Any, timed_out: threading.Event) -> None:
    timed_out.set()
    raw.interrupt()


def _refuse_non_query(conn: sa.Connection, statement: sa.Executable) -> None:
    """Refuse anything but a query before it reaches the database.

    The read-only transaction is the barrier for DML; this keeps DDL away too, which
    MySQL and MariaDB would run after an implicit commit, outside the transaction.
    """
    sql = str(statement.compile(dialect=conn.dialect))  # type: ignore[attr-defined]
    first = _FIRST_WORD.match(sql)
    if first is None or first.group(1).upper() not in ("SELECT", "WITH"):
        word = first.group(1).upper() if first else "nothing"
        raise WriteRefused(f"refused: only a read-only SELECT may run, not {word}")
    if conn.dialect.name != "duckdb":
        return
    import duckdb  # the DuckDB driver is present whenever a DuckDB engine is

    parsed = duckdb.extract_statements(sql)
    if len(parsed) != 1 or parsed[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(str(p.type.name) for p in parsed) or "nothing"
        raise WriteRefused(f"refused: only one read-only SELECT may run, not {kinds}")


def _looks_like_timeout(error: BaseException) -> bool:
    text = str(getattr(error, "orig", None) or error).lower()
    return any(marker in text for marker in _TIMEOUT_MARKERS)


def as_spine_error(error: BaseException, engine: sa.Engine) -> SpineError:
    """A driver error as a :class:`SpineError` callers above SQLAlchemy can catch.

    Unreachable databases are ``UNAVAILABLE``, timeouts ``TIMEOUT``, the rest
    ``DATABASE``; the message is :func:`error_text`'s one line.
    """
    if isinstance(error, SpineError):
        return error
    if isinstance(error, TimeoutError):
        category = ErrorCategory.TIMEOUT
    elif isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError):
        category = ErrorCategory.UNAVAILABLE
    else:
        category = ErrorCategory.DATABASE
    return SpineError(error_text(error, engine), category=category)


def error_text(error: BaseException, engine: sa.Engine) -> str:
    """One line saying why a statement failed, without the password."""
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    line = text.splitlines()[0].strip() if text else type(orig).__name__
    password = engine.url.password
    if password:
        line = line.replace(str(password), MASK)
    return redact_url_password(line)[:500]


# SQLite has no regex, percentile or standard deviation: spine brings Python ones.


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str | None, value: Any) -> int | None:
    if pattern is None or value is None:
        return None
    return 1 if _compiled(pattern).search(str(value)) else 0


class _Percentile:
    """Continuous percentile (linear interpolation), as PostgreSQL's percentile_cont."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.q = 0.5

    def step(self, value: Any, q: float) -> None:
        self.q = q
        if value is not None:
            self.values.append(value)

    def finalize(self) -> Any:
        value = interpolate(sorted(self.values), self.q)
        # SQLite takes no Decimal back: a whole number stays exact, a fraction is a float.
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return value


class _Stddev:
    """Sample standard deviation (Welford, as the databases compute it)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: Any) -> None:
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None


def interpolate(ordered: list[Any], q: float) -> Any:
    """The continuous percentile ``q`` of sorted values, or ``None`` for no values.

    Exact (Decimal) for whole and decimal numbers, float where a value is a float.
    """
    if not ordered:
        return None
    position = Decimal(repr(float(q))) * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    first, second = ordered[low], ordered[high]
    if fraction == 0 or first == second:
        return first
    if isinstance(first, float) or isinstance(second, float):
        return first + (second - first) * float(fraction)
    return Decimal(first) + (Decimal(second) - Decimal(first)) * fraction


def _sqlite_functions(raw: Any) -> None:
    raw.create_function(SQLITE_REGEXP, 2, _regexp, deterministic=True)
    raw.create_aggregate(SQLITE_PERCENTILE, 2, _Percentile)
    raw.create_aggregate(SQLITE_STDDEV, 1, _Stddev)


@contextmanager
def count_statements(engine: sa.Engine) -> Iterator[list[str]]:
    """Collect the SQL of every data statement run on ``engine`` inside the block.

    The sessions' own set-up statements (read-only, timeouts) are left out: the list
    holds what reads the user's data. For tests and benchmarks.
    """
    seen: list[str] = []

    def listen(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        options = getattr(context, "execution_options", {}) or {}
        if not options.get("spine_setup"):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
