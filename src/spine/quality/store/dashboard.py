"""The dashboard's reads: checks with their latest result, daily pass rates, incidents.

Every query is bounded for a page: the latest result of each check is one probe of
``idx_results_check`` (``check_id, executed_at``) per check of the page, correlated in
one statement; pass rates read only the window's range of that index for the checks
asked; resolved incidents are limited. Nothing here counts a whole table.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from spine.core.errors import InvalidInput
from spine.quality.models import CheckDefinition, CheckResult, Incident
from spine.quality.store.rows import (
    check_from_row,
    check_query,
    checks_t,
    connections_t,
    incident_from_row,
    incident_query,
    incidents_t,
    result_from_row,
    results_t,
)

#: Filters of the checks' list by their latest result.
LATEST_STATUSES = ("passed", "failed", "never")

_SEVERITY_RANK = sa.case(
    (incidents_t.c.severity == "fatal", 1), (incidents_t.c.severity == "error", 2), else_=3
)
_LATEST = results_t.alias("latest")
_PREFIX = "latest_"


@dataclass(frozen=True, slots=True)
class DayRate:
    """A day's results of one check (or one table): how many ran, how many passed."""

    day: str
    total: int
    passed: int

    @property
    def rate(self) -> float:
        """The share passed, 0 to 1."""
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class CheckRow:
    """A check with its latest result and its pass rate per day (days with results only)."""

    check: CheckDefinition
    latest: CheckResult | None
    days: list[DayRate] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TablePassRate:
    """The results of the checks watching one table (a connection's table) in a window."""

    connection: str
    table: str
    checks: int
    total: int
    passed: int

    @property
    def rate(self) -> float:
        """The share passed, 0 to 1."""
        return self.passed / self.total if self.total else 0.0


def day_start(now: datetime, days: int) -> datetime:
    """The UTC midnight starting the first of the last ``days`` days (today included).

    Raises:
        InvalidInput: If ``days`` is not 1 to 366.
    """
    if not 1 <= days <= 366:
        raise InvalidInput("days must be between 1 and 366")
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days - 1)


def _newest_id(check_id: Any) -> sa.ScalarSelect[Any]:
    """The id of the check's newest result: one index probe (newest first, one row)."""
    inner = results_t.alias("newest")
    return (
        sa.select(inner.c.id)
        .where(inner.c.check_id == check_id)
        .order_by(inner.c.executed_at.desc(), inner.c.id.desc())
        .limit(1)
        .correlate(checks_t)
        .scalar_subquery()
    )


def _day(column: Any, dialect: str) -> Any:
    """The UTC day of a timestamp as ``YYYY-MM-DD`` text (SQLite stores ISO text)."""
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD")
    return sa.func.substr(column, 1, 10)


def _latest_of(row: Mapping[Any, Any]) -> CheckResult | None:
    if row[f"{_PREFIX}id"] is None:
        return None
    return result_from_row({c.name: row[f"{_PREFIX}{c.name}"] for c in _LATEST.columns})


def checks_with_latest(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    *,
    table: str | None = None,
    connection: str | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[CheckRow]:
    """A page of the workspace's checks by name, each with its newest result.

    Args:
        conn: An open connection.
        workspace_id: The workspace.
        table: Only checks of this ``TABLE`` or ``SCHEMA.TABLE``.
        connection: Only checks through this connection (its name).
        status: Only checks whose latest result ``passed``, ``failed``, or that
            ``never`` ran.
        after: The name of the last check of the previous page.
        limit: At most this many checks (500 at most).
    """
    query = (
        check_query()
        .add_columns(*(c.label(f"{_PREFIX}{c.name}") for c in _LATEST.columns))
        .outerjoin(_LATEST, _LATEST.c.id == _newest_id(checks_t.c.id))
        .where(checks_t.c.workspace_id == workspace_id)
    )
    if table is not None:
        schema, _, name = table.rpartition(".")
        query = query.where(checks_t.c.target_table == name)
        if schema:
            query = query.where(checks_t.c.target_schema == schema)
    if connection is not None:
        query = query.where(connections_t.c.name == connection)
    if status == "passed":
        query = query.where(_LATEST.c.rule_passed == sa.true())
    elif status == "failed":
        query = query.where(_LATEST.c.rule_passed == sa.false())
    elif status == "never":
        query = query.where(_LATEST.c.id.is_(None))
    if after is not None:
        query = query.where(checks_t.c.name > after)
    query = query.order_by(checks_t.c.name).limit(max(1, min(limit, 500)))
    rows = list(conn.execute(query).mappings())
    return [CheckRow(check=check_from_row(row), latest=_latest_of(row)) for row in rows]


def daily_pass_rates(
    conn: sa.Connection, check_ids: list[uuid.UUID], since: datetime
) -> dict[uuid.UUID, list[DayRate]]:
    """Each check's results per UTC day from ``since``, oldest day first (one statement)."""
    if not check_ids:
        return {}
    day = _day(results_t.c.executed_at, conn.dialect.name).label("day")
    passed = sa.func.sum(sa.case((results_t.c.rule_passed == sa.true(), 1), else_=0))
    query = (
        sa.select(results_t.c.check_id, day, sa.func.count().label("total"), passed.label("ok"))
        .where(results_t.c.check_id.in_(check_ids), results_t.c.executed_at >= since)
        .group_by(results_t.c.check_id, day)
        .order_by(results_t.c.check_id, day)
    )
    found: dict[uuid.UUID, list[DayRate]] = {}
    for row in conn.execute(query).mappings():
        rate = DayRate(day=str(row["day"]), total=int(row["total"]), passed=int(row["ok"] or 0))
        found.setdefault(row["check_id"], []).append(rate)
    return found


def table_pass_rates(
    conn: sa.Connection, workspace_id: uuid.UUID, since: datetime
) -> list[TablePassRate]:
    """The pass rate of each watched table (connection and table) from ``since``, worst first."""
    table = sa.case(
        (
            checks_t.c.target_schema.is_not(None),
            checks_t.c.target_schema + "." + checks_t.c.target_table,
        ),
        else_=checks_t.c.target_table,
    ).label("target")
    passed = sa.func.sum(sa.case((results_t.c.rule_passed == sa.true(), 1), else_=0))
    query = (
        sa.select(
            connections_t.c.name.label("connection"),
            table,
            sa.func.count(sa.distinct(checks_t.c.id)).label("checks"),
            sa.func.count().label("total"),
            passed.label("ok"),
        )
        .select_from(checks_t)
        .join(connections_t, connections_t.c.id == checks_t.c.connection_id)
        .join(results_t, results_t.c.check_id == checks_t.c.id)
        .where(checks_t.c.workspace_id == workspace_id, results_t.c.executed_at >= since)
        .group_by(connections_t.c.name, table)
    )
    rates = [
        TablePassRate(
            connection=row["connection"],
            table=row["target"],
            checks=int(row["checks"]),
            total=int(row["total"]),
            passed=int(row["ok"] or 0),
        )
        for row in conn.execute(query).mappings()
    ]
    return sorted(rates, key=lambda r: (r.rate, r.connection, r.table))


def incident_board(
    conn: sa.Connection, workspace_id: uuid.UUID, *, resolved_limit: int = 20
) -> tuple[list[Incident], list[Incident]]:
    """The unresolved incidents (worst, then newest first) and the latest resolved ones."""
    mine = checks_t.c.workspace_id == workspace_id
    unresolved = (
        incident_query()
        .where(mine, incidents_t.c.status != "resolved")
        .order_by(_SEVERITY_RANK, incidents_t.c.first_seen.desc(), incidents_t.c.id)
    )
    resolved = (
        incident_query()
        .where(mine, incidents_t.c.status == "resolved")
        .order_by(incidents_t.c.resolved_at.desc(), incidents_t.c.id)
        .limit(resolved_limit)
    )
    return (
        [incident_from_row(r) for r in conn.execute(unresolved).mappings()],
        [incident_from_row(r) for r in conn.execute(resolved).mappings()],
    )
