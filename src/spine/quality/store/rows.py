"""Rows of spec 004's quality tables as the part's records, and the queries that read them.

A check is read with its connection's name (``connections``) and its schedule
(``schedules``, one per check) in one SELECT.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from spine.core.storage.schema.dq_platform import check_definitions as checks_t
from spine.core.storage.schema.dq_platform import check_results as results_t
from spine.core.storage.schema.dq_platform import connections as connections_t
from spine.core.storage.schema.dq_platform import incidents as incidents_t
from spine.core.storage.schema.dq_platform import jobs as jobs_t
from spine.core.storage.schema.dq_platform import schedules as schedules_t
from spine.quality.models import (
    CheckDefinition,
    CheckResult,
    Incident,
    IncidentStatus,
    Job,
    JobStatus,
    Severity,
    TargetType,
)

__all__ = [
    "check_from_row",
    "check_query",
    "checks_t",
    "connections_t",
    "incident_from_row",
    "incident_query",
    "incidents_t",
    "job_from_row",
    "jobs_t",
    "parse_uuid",
    "result_from_row",
    "results_t",
    "schedules_t",
]


def parse_uuid(text: str | uuid.UUID) -> uuid.UUID | None:
    """``text`` as a UUID, or ``None`` when it is not one (then it is a name)."""
    if isinstance(text, uuid.UUID):
        return text
    try:
        return uuid.UUID(text.strip())
    except (ValueError, AttributeError):
        return None


def check_query() -> sa.Select[Any]:
    """Checks with their connection's name and their schedule's cron and zone."""
    return (
        sa.select(
            checks_t,
            connections_t.c.name.label("connection_name"),
            schedules_t.c.cron_expression,
            schedules_t.c.timezone,
        )
        .join(connections_t, connections_t.c.id == checks_t.c.connection_id)
        .outerjoin(schedules_t, schedules_t.c.check_id == checks_t.c.id)
    )


def check_from_row(row: Mapping[Any, Any]) -> CheckDefinition:
    """A :class:`CheckDefinition` from a :func:`check_query` row."""
    return CheckDefinition(
        id=row["id"],
        workspace_id=row["workspace_id"],
        connection_id=row["connection_id"],
        connection_name=row["connection_name"],
        name=row["name"],
        check_type=row["check_type"],
        target_type=TargetType(row["target_type"]),
        target_schema=row["target_schema"],
        target_table=row["target_table"],
        target_column=row["target_column"],
        config=dict(row["config"] or {}),
        severity=Severity(row["severity"]),
        enabled=bool(row["enabled"]),
        tags=tuple(row["tags"] or ()),
        description=row["description"],
        data_product_id=row["data_product_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        cron_expression=row["cron_expression"],
        timezone=row["timezone"],
    )


def check_values(check: CheckDefinition) -> dict[str, Any]:
    """The ``check_definitions`` columns of ``check``."""
    return {
        "id": check.id,
        "workspace_id": check.workspace_id,
        "connection_id": check.connection_id,
        "name": check.name,
        "description": check.description,
        "check_type": check.check_type,
        "target_type": check.target_type.value,
        "target_schema": check.target_schema,
        "target_table": check.target_table,
        "target_column": check.target_column,
        "config": dict(check.config),
        "severity": check.severity.value,
        "enabled": check.enabled,
        "tags": list(check.tags),
        "data_product_id": check.data_product_id,
        "created_at": check.created_at,
        "updated_at": check.updated_at,
    }


def audited(check: CheckDefinition | None) -> dict[str, Any] | None:
    """The fields of a check an audit entry compares."""
    if check is None:
        return None
    values = check_values(check)
    for key in ("id", "workspace_id", "created_at", "updated_at"):
        values.pop(key)
    values["connection"] = check.connection_name
    values["cron_expression"] = check.cron_expression
    values["timezone"] = check.timezone
    return values


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def result_from_row(row: Mapping[Any, Any]) -> CheckResult:
    """A :class:`CheckResult` from a ``check_results`` row.

    The exact text of the value, when kept in ``details["sensor_value_text"]`` (SQLite
    stores NUMERIC as a double), wins over the column.
    """
    details = row["details"]
    value = _decimal(row["sensor_value"])
    if isinstance(details, Mapping) and isinstance(details.get("sensor_value_text"), str):
        value = Decimal(details["sensor_value_text"])
    return CheckResult(
        id=row["id"],
        check_id=row["check_id"],
        executed_at=row["executed_at"],
        execution_time_ms=row["execution_time_ms"],
        sensor_value=value,
        rule_passed=bool(row["rule_passed"]),
        severity=None if row["severity"] is None else Severity(row["severity"]),
        error_message=row["error_message"],
        details=details,
    )


def incident_query() -> sa.Select[Any]:
    """Incidents with their check's name and table."""
    return sa.select(
        incidents_t,
        checks_t.c.name.label("check_name"),
        checks_t.c.target_table,
        checks_t.c.target_schema,
    ).join(checks_t, checks_t.c.id == incidents_t.c.check_id)


def incident_from_row(row: Mapping[Any, Any]) -> Incident:
    """An :class:`Incident` from an :func:`incident_query` row."""
    return Incident(
        id=row["id"],
        check_id=row["check_id"],
        check_name=row["check_name"],
        target_table=row["target_table"],
        status=IncidentStatus(row["status"]),
        severity=Severity(row["severity"]),
        failure_count=row["failure_count"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        resolved_at=row["resolved_at"],
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=row["acknowledged_at"],
        resolution_notes=row["resolution_notes"],
        consecutive_passes=row["consecutive_passes"],
        reopened_count=row["reopened_count"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def incident_values(incident: Incident) -> dict[str, Any]:
    """The ``incidents`` columns of ``incident``."""
    return {
        "id": incident.id,
        "check_id": incident.check_id,
        "status": incident.status.value,
        "severity": incident.severity.value,
        "failure_count": incident.failure_count,
        "first_seen": incident.first_seen,
        "last_seen": incident.last_seen,
        "resolved_at": incident.resolved_at,
        "acknowledged_by": incident.acknowledged_by,
        "acknowledged_at": incident.acknowledged_at,
        "resolution_notes": incident.resolution_notes,
        "consecutive_passes": incident.consecutive_passes,
        "reopened_count": incident.reopened_count,
        "created_at": incident.created_at,
        "updated_at": incident.updated_at,
    }


def job_from_row(row: Mapping[Any, Any]) -> Job:
    """A :class:`Job` from a ``jobs`` row."""
    return Job(
        id=row["id"],
        check_id=row["check_id"],
        status=JobStatus(row["status"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        result_id=row["result_id"],
        error_message=row["error_message"],
        triggered_by=row["triggered_by"],
        schedule_id=row["schedule_id"],
        attempts=row["attempts"],
        claimed_by=row["claimed_by"],
        lease_expires_at=row["lease_expires_at"],
    )
