"""The pieces every check compiles from: the table, the scope, the shared scan.

A :class:`Scan` collects the aggregates of all checks of one table into one SELECT and
gives each a label; the same aggregate asked twice (``count(*)`` by ``row_count`` and
``null_percent``) is computed once. When the checks have different scopes, each check's
aggregates are wrapped in ``CASE WHEN scope THEN value END``; when they share one, it is
the statement's WHERE.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from spine.quality.catalogue import window_seconds
from spine.quality.models import CheckDefinition, CheckResult, SensorValue

Values = Mapping[str, Any]
Outcome = tuple[SensorValue | None, dict[str, Any]]


class Reader(Protocol):
    """What a check may do after the scan: run its own statement, read the schema."""

    def run(self, statement: sa.Executable) -> list[sa.Row[Any]]:
        """Run one statement in its own read-only, timed unit; return its rows."""

    def columns(self) -> dict[str, str]:
        """The table's columns and their type text."""


Finish = Callable[[Values, Reader], Outcome]


def table_clause(name: str, schema: str | None, *columns: str) -> sa.TableClause:
    """The table as SQLAlchemy Core sees it: every identifier quoted by the dialect."""
    return sa.table(name, *(sa.column(c) for c in columns), schema=schema)


def split_table(text: str) -> tuple[str | None, str]:
    """``"schema.table"`` or ``"table"`` into (schema, table)."""
    schema, dot, table = text.rpartition(".")
    return (schema or None, table) if dot else (None, text)


def scope_key(check: CheckDefinition) -> tuple[Any, ...]:
    """What decides a check's rows: its filter and its time window."""
    config = check.config
    return (config.get("filter"), config.get("time_column"), config.get("window"))


def scope_condition(
    check: CheckDefinition, dialect: str, now: datetime
) -> ColumnElement[bool] | None:
    """The check's row condition (``filter`` and ``time_column`` >= now - ``window``)."""
    parts: list[ColumnElement[bool]] = []
    config = check.config
    if config.get("filter"):
        # User SQL by design: it runs only inside the read-only, timed session.
        # Untyped: written as given, never as `(...) = 1` (SQL Server has no booleans).
        parts.append(sa.literal_column(f"({config['filter']})"))
    if config.get("time_column") and config.get("window"):
        since = now.astimezone(UTC) - timedelta(seconds=window_seconds(config["window"]))
        if dialect != "postgresql":
            # Naive UTC: SQLite, MySQL and DuckDB TIMESTAMP columns hold naive values.
            since = since.replace(tzinfo=None)
        parts.append(sa.column(config["time_column"]) >= sa.bindparam(None, since))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else sa.and_(*parts)


@dataclass
class Scan:
    """The aggregates of one SELECT, each computed once."""

    labels: dict[tuple[Any, ...], str] = field(default_factory=dict)
    expressions: list[ColumnElement[Any]] = field(default_factory=list)

    def add(self, key: tuple[Any, ...], expression: ColumnElement[Any]) -> str:
        """The label of the aggregate ``key``, adding ``expression`` the first time."""
        label = self.labels.get(key)
        if label is None:
            label = f"m{len(self.expressions)}"
            self.labels[key] = label
            self.expressions.append(expression.label(label))
        return label

    def statement(self, table: sa.TableClause, where: ColumnElement[bool] | None) -> sa.Select[Any]:
        """The one SELECT of every aggregate."""
        statement = sa.select(*self.expressions).select_from(table)
        return statement if where is None else statement.where(where)


@dataclass
class Context:
    """What one check's compiler needs: its table, scope, dialect and the shared scan.

    ``wrap`` says whether the scope goes into each aggregate (mixed scopes) or is the
    scan's WHERE (one scope for all).
    """

    check: CheckDefinition
    dialect: str
    table: sa.TableClause
    scan: Scan
    scope: ColumnElement[bool] | None
    wrap: bool
    now: datetime
    previous: CheckResult | None

    def key(self, *key: Any) -> tuple[Any, ...]:
        """A scan key made unique to this check's scope when scopes are mixed."""
        return (*key, scope_key(self.check) if self.wrap else None)

    def scoped(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """``value`` where the row is in scope, else NULL (mixed scopes only)."""
        if self.wrap and self.scope is not None:
            return sa.case((self.scope, value))
        return value

    def rows(self) -> str:
        """The label of the count of rows in scope."""
        if self.wrap and self.scope is not None:
            return self.scan.add(self.key("rows"), sa.func.count(sa.case((self.scope, 1))))
        return self.scan.add(self.key("rows"), sa.func.count())

    def count_where(self, key: tuple[Any, ...], condition: ColumnElement[bool]) -> str:
        """The label of the count of rows in scope where ``condition`` is true."""
        if self.wrap and self.scope is not None:
            condition = sa.and_(self.scope, condition)
        return self.scan.add(self.key("where", *key), sa.func.count(sa.case((condition, 1))))

    def aggregate(
        self,
        key: tuple[Any, ...],
        build: Callable[[ColumnElement[Any]], ColumnElement[Any]],
        value: ColumnElement[Any],
    ) -> str:
        """The label of ``build(value)`` over the rows in scope."""
        return self.scan.add(self.key(*key), build(self.scoped(value)))

    def where(self, *conditions: ColumnElement[bool]) -> list[ColumnElement[bool]]:
        """The conditions of a separate statement: the scope plus ``conditions``."""
        return [*([] if self.scope is None else [self.scope]), *conditions]


def to_decimal(value: Any) -> Decimal:
    """A number as an exact Decimal (floats through their shortest text)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def percent(part: Any, whole: Any, *, empty: Decimal | None = Decimal(0)) -> Decimal | None:
    """``part / whole * 100`` exactly; ``empty`` when ``whole`` is 0 (or unknown)."""
    if not whole:
        return empty
    return to_decimal(part or 0) * 100 / to_decimal(whole)


def number(value: Any) -> SensorValue | None:
    """A value the database returned as a sensor value.

    Raises:
        ValueError: If it is not a number (a ``min`` of a text column).
    """
    if value is None or isinstance(value, int | float | Decimal):
        return int(value) if isinstance(value, bool) else value
    try:
        return Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f"the value {str(value)[:40]!r} is not a number") from None


def utc(value: Any) -> datetime:
    """A timestamp the database returned, as aware UTC (naive values are taken as UTC).

    Raises:
        ValueError: If the value is not a timestamp or date.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if hasattr(value, "isoformat") and hasattr(value, "year"):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float | Decimal):
        return datetime.fromtimestamp(float(value), UTC)
    raise ValueError(f"the value {str(value)[:40]!r} is not a timestamp")
