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

    ``now`` is when the job is finished (``completed_at``; the result's time is
    ``rec.executed_at``, when its scan started).

    Raises:
        ClaimLost: If ``rec.job`` is no longer held by its worker (nothing is kept).
    """
    number, text = _column_value(rec.sensor_value)
    details = dict(rec.details)
    if number is not None and conn.dialect.name == "sqlite":
        # SQLite keeps NUMERIC as a double: the exact digits ride in the details.
        text = str(number)
    if text is not None:
        details["sensor_value_text"] = text
    row = (
        conn.execute(
            sa.insert(results_t)
            .values(
                check_id=rec.check.id,
                executed_at=rec.executed_at,
                execution_time_ms=rec.execution_time_ms,
                sensor_value=number,
                rule_passed=rec.passed,
                severity=None if rec.passed else (rec.severity or rec.check.severity).value,
                error_message=rec.error_message,
                details=details,
            )
            .returning(*results_t.c)
        )
        .mappings()
        .one()
    )
    result = result_from_row(row)
    transition = after_result(
        latest_incident(conn, rec.check.id, lock=True),
        check=rec.check,
        passed=rec.passed,
        severity=rec.severity,
        at=rec.executed_at,
        policy=policy,
    )
    write_incident(conn, transition)
    if rec.job is not None:
        finish_job(conn, rec.job, result.id, rec.error_message, now or rec.executed_at)
    publish_result(conn, publisher, rec.check, result.id, rec, row["sensor_value"], text)
    publish_incident(conn, publisher, rec.check, transition)
    return CheckOutcome(check=rec.check, result=result, incident=transition.incident)


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
