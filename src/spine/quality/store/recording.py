"""Recording a check's run: its result, its incident's change, its job, its events.

All in the one transaction the caller opened: a result is never kept without its
incident change or its job's status, and the events (``check.result``,
``incident.changed``) reach their listeners (webhooks, alerts) on the same connection.
A job is finished only while its worker still holds the claim; a worker that lost it
(its lease ran out and another took the job) raises :class:`ClaimLost`, which rolls its
whole recording back, so one run of a job leaves exactly one result.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from spine.core.events import Event, EventType, Publisher
from spine.quality.errors import ClaimLost
from spine.quality.incidents import IncidentChange, IncidentPolicy, Transition, after_result
from spine.quality.models import (
    CheckDefinition,
    CheckOutcome,
    Incident,
    JobStatus,
    SensorValue,
    Severity,
    iso,
)
from spine.quality.store.rows import (
    checks_t,
    incident_from_row,
    incident_query,
    incident_values,
    incidents_t,
    jobs_t,
    result_from_row,
    results_t,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobClaim:
    """A job a worker holds: finished only while ``claimed_by`` still holds it."""

    job_id: uuid.UUID
    claimed_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording:
    """What one check's run produced, judged, ready to record."""

    check: CheckDefinition
    executed_at: datetime
    execution_time_ms: int
    sensor_value: SensorValue | None
    passed: bool
    #: The failing severity (``None`` when passed).
    severity: Severity | None
    error_message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    job: JobClaim | None = None


def latest_incident(
    conn: sa.Connection, check_id: uuid.UUID, *, lock: bool = False
) -> Incident | None:
    """The check's most recent incident, whatever its status."""
    query = (
        incident_query()
        .where(incidents_t.c.check_id == check_id)
        .order_by(incidents_t.c.created_at.desc(), incidents_t.c.id)
        .limit(1)
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(of=incidents_t)
    row = conn.execute(query).mappings().first()
    return None if row is None else incident_from_row(row)


def _column_value(value: SensorValue | None) -> tuple[Decimal | None, str | None]:
    """The NUMERIC column's value, and its exact text when the column cannot keep it."""
    if value is None:
        return None, None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None, repr(value)
        return Decimal(repr(value)), None
    return Decimal(value), None


def record(
    conn: sa.Connection,
    rec: Recording,
    *,
    policy: IncidentPolicy,
    publisher: Publisher,
    now: datetime | None = None,
) -> CheckOutcome:
    """Record ``rec`` on ``conn`` (result, incident, job, events); return the outcome.

    Raises:
        ClaimLost: If ``rec.job`` is no longer held by its worker (nothing is kept).
    """
    [done] = record_batch(conn, [rec], policy=policy, publisher=publisher, now=now)
    if isinstance(done, ClaimLost):
        raise done
    return done


def _held(conn: sa.Connection, recs: Sequence[Recording]) -> set[uuid.UUID]:
    """The jobs of ``recs`` still held by the worker that ran them.

    Locked on PostgreSQL; SQLite's write transaction already excludes other writers.
    """
    claims = {rec.job.job_id: rec.job.claimed_by for rec in recs if rec.job is not None}
    if not claims:
        return set()
    query = sa.select(jobs_t.c.id, jobs_t.c.claimed_by).where(
        jobs_t.c.id.in_(list(claims)), jobs_t.c.status == JobStatus.RUNNING.value
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {job_id for job_id, holder in conn.execute(query) if claims.get(job_id) == holder}


def _lock_checks(conn: sa.Connection, check_ids: Sequence[uuid.UUID]) -> None:
    """Take the checks' rows on PostgreSQL, so that runs of one check record in turn.

    Without it, two runs of a check that has no open incident would both open one (the
    second fails on ``idx_incidents_open``). ``FOR NO KEY UPDATE`` leaves the key-share
    locks of the results' foreign keys alone; the ids are taken in order, so two scans
    sharing checks cannot deadlock. SQLite's write transaction already runs them in turn.
    """
    if conn.dialect.name != "postgresql":
        return
    query = (
        sa.select(checks_t.c.id)
        .where(checks_t.c.id.in_(sorted(set(check_ids))))
        .order_by(checks_t.c.id)
        .with_for_update(key_share=True)
    )
    conn.execute(query).all()


def latest_incidents(
    conn: sa.Connection, check_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Incident]:
    """Each check's most recent incident, whatever its status (locked on PostgreSQL)."""
    if not check_ids:
        return {}
    newer = incidents_t.alias("newer")
    query = incident_query().where(
        incidents_t.c.check_id.in_(list(check_ids)),
        ~sa.exists().where(
            newer.c.check_id == incidents_t.c.check_id,
            newer.c.created_at > incidents_t.c.created_at,
        ),
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=incidents_t)
    found: dict[uuid.UUID, Incident] = {}
    for row in conn.execute(query.order_by(incidents_t.c.id)).mappings():
        found.setdefault(row["check_id"], incident_from_row(row))
    return found


def _result_values(conn: sa.Connection, rec: Recording) -> tuple[dict[str, Any], str | None]:
    number, text = _column_value(rec.sensor_value)
    details = dict(rec.details)
    if number is not None and conn.dialect.name == "sqlite":
        # SQLite keeps NUMERIC as a double: the exact digits ride in the details.
        text = str(number)
    if text is not None:
        details["sensor_value_text"] = text
    values = {
        "check_id": rec.check.id,
        "executed_at": rec.executed_at,
        "execution_time_ms": rec.execution_time_ms,
        "sensor_value": number,
        "rule_passed": rec.passed,
        "severity": None if rec.passed else (rec.severity or rec.check.severity).value,
        "error_message": rec.error_message,
        "details": details,
    }
    return values, text


def record_batch(
    conn: sa.Connection,
    recs: Sequence[Recording],
    *,
    policy: IncidentPolicy,
    publisher: Publisher,
    now: datetime | None = None,
) -> list[CheckOutcome | ClaimLost]:
    """Record the runs of one scan on ``conn``; a lost claim's run is left out.

    Each kept run writes its result, its incident change, its job's end and its events.
    A run whose job another worker holds now writes nothing: its :class:`ClaimLost`
    takes its place in the list. ``now`` is when the jobs end (``completed_at``; a
    result's time is ``rec.executed_at``, when its scan started). A few statements for
    the whole scan rather than a few per check: a worker records a hundred checks a
    second on SQLite.
    """
    held = _held(conn, recs)
    kept = [r for r in recs if r.job is None or r.job.job_id in held]
    outcomes: dict[int, CheckOutcome] = {}
    if kept:
        _lock_checks(conn, [rec.check.id for rec in kept])
        prepared = [_result_values(conn, rec) for rec in kept]
        rows = (
            conn.execute(
                sa.insert(results_t).returning(*results_t.c, sort_by_parameter_order=True),
                [values for values, _ in prepared],
            )
            .mappings()
            .all()
        )
        incidents = latest_incidents(conn, [rec.check.id for rec in kept])
        finished: list[dict[str, Any]] = []
        for rec, (_, text), row in zip(kept, prepared, rows, strict=True):
            result = result_from_row(row)
            transition = after_result(
                incidents.get(rec.check.id),
                check=rec.check,
                passed=rec.passed,
                severity=rec.severity,
                at=rec.executed_at,
                policy=policy,
            )
            write_incident(conn, transition)
            if rec.job is not None:
                finished.append(
                    {
                        "job": rec.job.job_id,
                        "status": (
                            JobStatus.FAILED if rec.error_message else JobStatus.COMPLETED
                        ).value,
                        "completed_at": now or rec.executed_at,
                        "result_id": result.id,
                        "error_message": rec.error_message,
                    }
                )
            publish_result(conn, publisher, rec.check, result.id, rec, row["sensor_value"], text)
            publish_incident(conn, publisher, rec.check, transition)
            outcomes[id(rec)] = CheckOutcome(
                check=rec.check, result=result, incident=transition.incident
            )
        if finished:
            conn.execute(
                sa.update(jobs_t)
                .where(jobs_t.c.id == sa.bindparam("job"))
                .values(
                    status=sa.bindparam("status"),
                    completed_at=sa.bindparam("completed_at"),
                    result_id=sa.bindparam("result_id"),
                    error_message=sa.bindparam("error_message"),
                    lease_expires_at=None,
                ),
                finished,
            )
    return [
        outcomes[id(rec)]
        if id(rec) in outcomes
        else ClaimLost(str(rec.job.job_id if rec.job else ""))
        for rec in recs
    ]


def write_incident(conn: sa.Connection, transition: Transition) -> None:
    """Insert or update the incident of ``transition`` (nothing for no change)."""
    incident = transition.incident
    if incident is None or transition.change is IncidentChange.NONE:
        return
    values = incident_values(incident)
    if transition.change is IncidentChange.CREATED:
        conn.execute(sa.insert(incidents_t).values(values))
        return
    values.pop("id")
    values.pop("check_id")
    values.pop("created_at")
    conn.execute(sa.update(incidents_t).where(incidents_t.c.id == incident.id).values(values))


def finish_job(
    conn: sa.Connection,
    claim: JobClaim,
    result_id: int,
    error: str | None,
    at: datetime,
) -> None:
    """Mark the job completed (or failed, when the check could not run) with its result.

    Raises:
        ClaimLost: If the worker no longer holds the job.
    """
    done = conn.execute(
        sa.update(jobs_t)
        .where(
            jobs_t.c.id == claim.job_id,
            jobs_t.c.claimed_by == claim.claimed_by,
            jobs_t.c.status == JobStatus.RUNNING.value,
        )
        .values(
            status=(JobStatus.FAILED if error else JobStatus.COMPLETED).value,
            completed_at=at,
            result_id=result_id,
            error_message=error,
            lease_expires_at=None,
        )
    )
    if done.rowcount != 1:
        raise ClaimLost(str(claim.job_id))


def publish_result(
    conn: sa.Connection,
    publisher: Publisher,
    check: CheckDefinition,
    result_id: int,
    rec: Recording,
    stored: Any,
    text: str | None,
) -> None:
    """Publish ``check.result`` (every result; alerting sends ``check.failed``)."""
    if not publisher.wanted(EventType.CHECK_RESULT):
        return
    exact = text if text is not None else (None if stored is None else str(stored))
    payload = {
        "check_id": str(check.id),
        "check_name": check.name,
        "check_type": check.check_type,
        "connection": check.connection_name,
        "table": check.table_label,
        "column": check.target_column,
        "sensor_value": exact,
        "rule_passed": rec.passed,
        "severity": None if rec.passed else (rec.severity or check.severity).value,
        "error_message": rec.error_message,
        "executed_at": iso(rec.executed_at),
        "result_id": result_id,
    }
    publisher.publish(
        conn,
        Event(
            type=EventType.CHECK_RESULT,
            subject_id=str(check.id),
            payload=payload,
            at=rec.executed_at,
            workspace_id=str(check.workspace_id),
        ),
    )


def publish_incident(
    conn: sa.Connection,
    publisher: Publisher,
    check: CheckDefinition,
    transition: Transition,
) -> None:
    """Publish ``incident.changed`` for a creation, acknowledgement or resolution."""
    event = transition.change.event
    incident = transition.incident
    if event is None or incident is None or not publisher.wanted(EventType.INCIDENT_CHANGED):
        return
    payload = {
        "event": event.value,
        "incident_id": str(incident.id),
        "check_id": str(check.id),
        "check_name": check.name,
        "table": check.table_label,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "failure_count": incident.failure_count,
        "first_seen": iso(incident.first_seen),
        "last_seen": iso(incident.last_seen),
        "acknowledged_by": incident.acknowledged_by,
        "resolution_notes": incident.resolution_notes,
    }
    publisher.publish(
        conn,
        Event(
            type=EventType.INCIDENT_CHANGED,
            subject_id=str(incident.id),
            payload=payload,
            at=incident.updated_at,
            workspace_id=str(check.workspace_id),
        ),
    )
