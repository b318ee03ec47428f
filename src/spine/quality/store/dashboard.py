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


def _counts(
    conn: sa.Connection, where: list[Any], keys: list[Any], *, failed: bool
) -> dict[tuple[Any, ...], int]:
    """Results counted by ``keys`` (all of them, or the failed ones only).

    Counting all results reads only ``idx_results_check`` (``check_id, executed_at``)
    and counting failures only the partial ``idx_results_failed``: neither visits the
    rows, whose ``details`` (samples, the anomaly band) make them wide.
    """
    condition = [*where]
    if failed:
        condition.append(results_t.c.rule_passed == sa.false())
    query = sa.select(*keys, sa.func.count()).where(*condition).group_by(*keys)
    return {tuple(row[:-1]): int(row[-1]) for row in conn.execute(query)}


def daily_pass_rates(
    conn: sa.Connection, check_ids: list[uuid.UUID], since: datetime
) -> dict[uuid.UUID, list[DayRate]]:
    """Each check's results per UTC day from ``since``, oldest day first.

    Two index-only statements for the whole page of checks (never one per check).
    """
    if not check_ids:
        return {}
    day = _day(results_t.c.executed_at, conn.dialect.name)
    where = [results_t.c.check_id.in_(check_ids), results_t.c.executed_at >= since]
    keys = [results_t.c.check_id, day]
    totals = _counts(conn, where, keys, failed=False)
    failures = _counts(conn, where, keys, failed=True)
    found: dict[uuid.UUID, list[DayRate]] = {}
    for check_id, on in sorted(totals, key=lambda key: (str(key[0]), str(key[1]))):
        total = totals[(check_id, on)]
        rate = DayRate(str(on), total, total - failures.get((check_id, on), 0))
        found.setdefault(check_id, []).append(rate)
    return found


def table_pass_rates(
    conn: sa.Connection, workspace_id: uuid.UUID, since: datetime
) -> list[TablePassRate]:
    """The pass rate of each watched table (connection and table) from ``since``, worst first.

    This reads every result of the workspace in the window (two index-only statements):
    keep the window short (the summary's is 7 days).
    """
    watched = sa.select(
        checks_t.c.id, checks_t.c.target_schema, checks_t.c.target_table, connections_t.c.name
    ).join(connections_t, connections_t.c.id == checks_t.c.connection_id)
    tables: dict[uuid.UUID, tuple[str, str]] = {}
    for check_id, schema, table, connection in conn.execute(
        watched.where(checks_t.c.workspace_id == workspace_id)
    ):
        tables[check_id] = (connection, f"{schema}.{table}" if schema else table)
    if not tables:
        return []
    mine = sa.select(checks_t.c.id).where(checks_t.c.workspace_id == workspace_id)
    where = [results_t.c.check_id.in_(mine), results_t.c.executed_at >= since]
    keys = [results_t.c.check_id]
    totals = _counts(conn, where, keys, failed=False)
    failures = _counts(conn, where, keys, failed=True)
    sums: dict[tuple[str, str], list[int]] = {}
    for (check_id,), total in totals.items():
        counted = sums.setdefault(tables[check_id], [0, 0, 0])
        counted[0] += 1
        counted[1] += total
        counted[2] += total - failures.get((check_id,), 0)
    rates = [
        TablePassRate(connection=connection, table=table, checks=c, total=t, passed=p)
        for (connection, table), (c, t, p) in sums.items()
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
