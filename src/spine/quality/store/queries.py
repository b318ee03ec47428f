"""Reading results and incidents, and spec 004's four "useful queries".

The queries are the spec's, written with SQLAlchemy Core so that they run on SQLite as
on PostgreSQL (a correlated "latest id" subquery stands for ``LEFT JOIN LATERAL``), and
confined to one workspace.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from spine.quality.models import CheckResult, Incident, exact_number, iso
from spine.quality.store.recording import latest_incident
from spine.quality.store.rows import (
    checks_t,
    connections_t,
    incident_from_row,
    incident_query,
    incidents_t,
    result_from_row,
    results_t,
    schedules_t,
)

_SEVERITY_RANK = sa.case(
    (incidents_t.c.severity == "fatal", 1), (incidents_t.c.severity == "error", 2), else_=3
)
_UNRESOLVED = ("open", "acknowledged")


def results(
    conn: sa.Connection,
    check_id: uuid.UUID,
    *,
    since: datetime | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[CheckResult]:
    """The check's results, newest first."""
    query = sa.select(results_t).where(results_t.c.check_id == check_id)
    if since is not None:
        query = query.where(results_t.c.executed_at >= since)
    if before_id is not None:
        query = query.where(results_t.c.id < before_id)
    query = query.order_by(results_t.c.executed_at.desc(), results_t.c.id.desc()).limit(limit)
    return [result_from_row(r) for r in conn.execute(query).mappings()]


def latest_results(conn: sa.Connection, check_ids: list[uuid.UUID]) -> dict[uuid.UUID, CheckResult]:
    """Each check's most recent result (checks without one are absent)."""
    if not check_ids:
        return {}
    newest = (
        sa.select(sa.func.max(results_t.c.id))
        .where(results_t.c.check_id.in_(check_ids))
        .group_by(results_t.c.check_id)
    )
    rows = conn.execute(sa.select(results_t).where(results_t.c.id.in_(newest))).mappings()
    return {row["check_id"]: result_from_row(row) for row in rows}


def incidents(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    *,
    status: str | None = None,
    check_id: uuid.UUID | None = None,
    after: uuid.UUID | None = None,
    limit: int | None = None,
) -> list[Incident]:
    """Incidents: unresolved first, by severity then ``first_seen`` newest first."""
    query = incident_query().where(checks_t.c.workspace_id == workspace_id)
    if status is not None:
        query = query.where(incidents_t.c.status == status)
    if check_id is not None:
        query = query.where(incidents_t.c.check_id == check_id)
    query = query.order_by(
        sa.case((incidents_t.c.status.in_(_UNRESOLVED), 0), else_=1),
        _SEVERITY_RANK,
        incidents_t.c.first_seen.desc(),
        incidents_t.c.id,
    )
    found = [incident_from_row(r) for r in conn.execute(query).mappings()]
    if after is not None:
        ids = [i.id for i in found]
        found = found[ids.index(after) + 1 :] if after in ids else []
    return found if limit is None else found[:limit]


def incident(
    conn: sa.Connection, workspace_id: uuid.UUID, incident_id: uuid.UUID, *, lock: bool = False
) -> Incident | None:
    """The workspace's incident ``incident_id``."""
    query = incident_query().where(
        checks_t.c.workspace_id == workspace_id, incidents_t.c.id == incident_id
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(of=incidents_t)
    row = conn.execute(query).mappings().first()
    return None if row is None else incident_from_row(row)


def open_incident(conn: sa.Connection, check_id: uuid.UUID) -> Incident | None:
    """The check's open or acknowledged incident."""
    found = latest_incident(conn, check_id)
    return found if found is not None and found.status.value in _UNRESOLVED else None


def _value(value: Any, details: Any) -> Any:
    if isinstance(details, dict) and isinstance(details.get("sensor_value_text"), str):
        return exact_number(Decimal(details["sensor_value_text"]))
    if value is None:
        return None
    return exact_number(value if isinstance(value, Decimal) else Decimal(str(value)))


def summary(conn: sa.Connection, workspace_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """Spec 004's four useful queries, for the workspace."""
    mine = checks_t.c.workspace_id == workspace_id
    inner = results_t.alias("newest")
    newest = (
        sa.select(sa.func.max(inner.c.id))
        .where(inner.c.check_id == checks_t.c.id)
        .correlate(checks_t)
        .scalar_subquery()
    )
    latest_q = (
        sa.select(
            checks_t.c.id,
            checks_t.c.name,
            checks_t.c.target_table,
            checks_t.c.check_type,
            results_t.c.executed_at.label("last_run"),
            results_t.c.rule_passed.label("last_passed"),
            results_t.c.sensor_value.label("last_value"),
            results_t.c.details,
        )
        .select_from(checks_t)
        .outerjoin(results_t, results_t.c.id == newest)
        .where(mine, checks_t.c.enabled == sa.true())
        .order_by(checks_t.c.name)
    )
    latest = [
        {
            "id": str(r["id"]),
            "name": r["name"],
            "target_table": r["target_table"],
            "check_type": r["check_type"],
            "last_run": iso(r["last_run"]),
            "last_passed": None if r["last_passed"] is None else bool(r["last_passed"]),
            "last_value": _value(r["last_value"], r["details"]),
        }
        for r in conn.execute(latest_q).mappings()
    ]
    passed = sa.func.sum(sa.case((results_t.c.rule_passed == sa.true(), 1), else_=0))
    total = sa.func.count()
    rate_q = (
        sa.select(checks_t.c.target_table, total.label("total_runs"), passed.label("passed"))
        .join(checks_t, checks_t.c.id == results_t.c.check_id)
        .where(mine, results_t.c.executed_at > now - timedelta(days=7))
        .group_by(checks_t.c.target_table)
    )
    rates = []
    for r in conn.execute(rate_q).mappings():
        runs, good = int(r["total_runs"]), int(r["passed"] or 0)
        rate = (Decimal(good) * 100 / Decimal(runs)).quantize(Decimal("0.1")) if runs else None
        rates.append(
            {
                "target_table": r["target_table"],
                "total_runs": runs,
                "passed": good,
                "pass_rate": exact_number(rate),
            }
        )
    rates.sort(key=lambda x: (x["pass_rate"], x["target_table"]))
    open_q = (
        sa.select(
            incidents_t.c.id.label("incident_id"),
            incidents_t.c.severity,
            incidents_t.c.failure_count,
            incidents_t.c.first_seen,
            incidents_t.c.last_seen,
            checks_t.c.name.label("check_name"),
            checks_t.c.target_table,
            connections_t.c.name.label("connection_name"),
        )
        .join(checks_t, checks_t.c.id == incidents_t.c.check_id)
        .join(connections_t, connections_t.c.id == checks_t.c.connection_id)
        .where(mine, incidents_t.c.status.in_(_UNRESOLVED))
        .order_by(_SEVERITY_RANK, incidents_t.c.first_seen.desc())
    )
    open_rows = [
        {
            **dict(r),
            "incident_id": str(r["incident_id"]),
            "first_seen": iso(r["first_seen"]),
            "last_seen": iso(r["last_seen"]),
        }
        for r in conn.execute(open_q).mappings()
    ]
    due_q = (
        sa.select(
            schedules_t.c.id.label("schedule_id"),
            checks_t.c.id.label("check_id"),
            checks_t.c.name,
            schedules_t.c.cron_expression,
            schedules_t.c.next_run_at,
        )
        .join(checks_t, checks_t.c.id == schedules_t.c.check_id)
        .where(
            mine,
            schedules_t.c.enabled == sa.true(),
            checks_t.c.enabled == sa.true(),
            schedules_t.c.next_run_at <= now,
        )
        .order_by(schedules_t.c.next_run_at)
    )
    due = [
        {
            **dict(r),
            "schedule_id": str(r["schedule_id"]),
            "check_id": str(r["check_id"]),
            "next_run_at": iso(r["next_run_at"]),
        }
        for r in conn.execute(due_q).mappings()
    ]
    return {"latest": latest, "pass_rate_by_table": rates, "open_incidents": open_rows, "due": due}
