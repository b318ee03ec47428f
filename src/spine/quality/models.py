"""The records of the data-quality part: checks, measurements, verdicts, results, incidents, jobs.

These are the seams between the part's pieces:

- the catalogue and the SQL compiler (:mod:`spine.quality.catalogue`,
  :mod:`spine.quality.sql`) turn :class:`CheckDefinition` s into :class:`Measurement` s;
- the rules (:mod:`spine.quality.rules`, :mod:`spine.quality.anomaly`) turn a measurement
  and the check's history into a :class:`Verdict`;
- the store records a :class:`CheckResult` per check, moves the check's
  :class:`Incident`, and finishes the :class:`Job`, in one transaction.

Ids are UUIDs (spec 004's tables); timestamps are aware UTC.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

#: A sensor value: exact where the database gives a Decimal, never rounded by spine.
SensorValue = Decimal | float | int


def exact_number(value: SensorValue | None) -> int | float | Decimal | None:
    """A sensor value for JSON without loss: an int, a float that round-trips, else Decimal.

    ``Decimal("5.0056")`` becomes ``5.0056`` (a float whose text is the same digits);
    a value a float cannot hold exactly stays a ``Decimal``, which the JSON writers of
    the CLI and API print as the number's full text.
    """
    if value is None or isinstance(value, int | float):
        return value
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) == value.normalize() or Decimal(repr(as_float)) == value:
        return as_float
    return value


def iso(value: datetime | None) -> str | None:
    """An aware time as ISO-8601 UTC text (``None`` stays ``None``)."""
    if value is None:
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return aware.astimezone(UTC).isoformat()


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


class Severity(StrEnum):
    """How bad a failed check is (spec 004 ``check_severity``), in rising order."""

    WARNING = "warning"
    ERROR = "error"
    FATAL = "fatal"

    @property
    def rank(self) -> int:
        """0 for warning, 1 for error, 2 for fatal: the highest failing one wins."""
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = (Severity.WARNING, Severity.ERROR, Severity.FATAL)


class TargetType(StrEnum):
    """What a check measures (spec 004 ``check_target_type``)."""

    TABLE = "table"
    COLUMN = "column"


class IncidentStatus(StrEnum):
    """An incident's state (spec 004 ``incident_status``)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class JobStatus(StrEnum):
    """A check job's state (spec 004 ``job_status``)."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class QualityEvent(StrEnum):
    """What the part tells webhooks and alert channels (the ``events`` of spec 004 webhooks)."""

    CHECK_FAILED = "check.failed"
    INCIDENT_CREATED = "incident.created"
    INCIDENT_ACKNOWLEDGED = "incident.acknowledged"
    INCIDENT_RESOLVED = "incident.resolved"


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckDefinition:
    """One ``check_definitions`` row, with its connection's name and its schedule.

    ``config`` holds the type's keys (``min_value``, ``pattern``, ``columns`` ...), the
    thresholds (``min``/``max``/``equals``, flat or per severity), ``anomaly``, and the
    scope (``filter``, ``time_column`` + ``window``), as docs/quality.md lists them.
    """

    id: uuid.UUID
    workspace_id: uuid.UUID
    connection_id: uuid.UUID
    connection_name: str
    name: str
    check_type: str
    target_type: TargetType
    target_table: str
    target_schema: str | None = None
    target_column: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    severity: Severity = Severity.ERROR
    enabled: bool = True
    tags: tuple[str, ...] = ()
    description: str | None = None
    data_product_id: str | None = None
    created_at: datetime
    updated_at: datetime
    #: The check's schedule (spec 004 ``schedules``), when it has one.
    cron_expression: str | None = None
    timezone: str | None = None

    @property
    def table_key(self) -> tuple[uuid.UUID, str | None, str]:
        """What checks that can share one scan have in common: connection and table."""
        return (self.connection_id, self.target_schema, self.target_table)

    @property
    def table_label(self) -> str:
        """``schema.table``, or ``table`` without a schema."""
        if self.target_schema:
            return f"{self.target_schema}.{self.target_table}"
        return self.target_table

    def to_dict(self) -> dict[str, Any]:
        """The ``check_definitions`` columns, its connection's name and its schedule."""
        return {
            "id": str(self.id),
            "workspace_id": str(self.workspace_id),
            "connection_id": str(self.connection_id),
            "connection_name": self.connection_name,
            "name": self.name,
            "description": self.description,
            "check_type": self.check_type,
            "target_type": self.target_type.value,
            "target_schema": self.target_schema,
            "target_table": self.target_table,
            "target_column": self.target_column,
            "config": dict(self.config),
            "severity": self.severity.value,
            "enabled": self.enabled,
            "tags": list(self.tags),
            "data_product_id": self.data_product_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "cron_expression": self.cron_expression,
            "timezone": self.timezone,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """What the SQL compiler measured for one check (or why it could not).

    Attributes:
        check_id: The check measured.
        sensor_value: The number, at full precision; ``None`` when the table is empty for
            a value that needs rows (``mean`` of nothing) or when ``error`` is set.
        error: Why the check could not run (unreachable, timeout, bad SQL, a write
            refused): the check then fails at its severity.
        execution_time_ms: Wall time of the statements that served this check (a shared
            scan's time is given to each check it served).
        samples: Up to the sample limit of offending rows (row-level checks that failed
            only; filled in by a second, bounded statement after judging).
        details: What else explains the value (the schema seen by ``schema_change``,
            the reference count of ``row_count_match`` ...), kept in
            ``check_results.details``.
    """

    check_id: uuid.UUID
    sensor_value: SensorValue | None = None
    error: str | None = None
    execution_time_ms: int = 0
    samples: list[dict[str, Any]] | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The rules' judgement of one measurement.

    Attributes:
        passed: Whether every threshold and the anomaly rule passed.
        severity: The highest failing severity; ``None`` when passed.
        details: Which thresholds failed, the anomaly band (``lower``, ``upper``,
            ``expected``), for ``check_results.details``.
    """

    passed: bool
    severity: Severity | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One ``check_results`` row."""

    id: int
    check_id: uuid.UUID
    executed_at: datetime
    execution_time_ms: int | None
    sensor_value: Decimal | None
    rule_passed: bool
    severity: Severity | None = None
    error_message: str | None = None
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``check_results`` columns (the sensor value exact: :func:`exact_number`)."""
        return {
            "id": self.id,
            "check_id": str(self.check_id),
            "executed_at": iso(self.executed_at),
            "execution_time_ms": self.execution_time_ms,
            "sensor_value": exact_number(self.sensor_value),
            "rule_passed": self.rule_passed,
            "severity": None if self.severity is None else self.severity.value,
            "error_message": self.error_message,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident:
    """One ``incidents`` row, with its check's name and table."""

    id: uuid.UUID
    check_id: uuid.UUID
    check_name: str
    target_table: str
    status: IncidentStatus
    severity: Severity
    failure_count: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolution_notes: str | None = None
    consecutive_passes: int = 0
    reopened_count: int = 0
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The ``incidents`` columns, with the check's name and table."""
        return {
            "id": str(self.id),
            "check_id": str(self.check_id),
            "check_name": self.check_name,
            "target_table": self.target_table,
            "status": self.status.value,
            "severity": self.severity.value,
            "failure_count": self.failure_count,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "resolved_at": iso(self.resolved_at),
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": iso(self.acknowledged_at),
            "resolution_notes": self.resolution_notes,
            "consecutive_passes": self.consecutive_passes,
            "reopened_count": self.reopened_count,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One ``jobs`` row."""

    id: uuid.UUID
    check_id: uuid.UUID
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result_id: int | None = None
    error_message: str | None = None
    triggered_by: str = "api"
    schedule_id: uuid.UUID | None = None
    attempts: int = 0
    #: The worker holding the job (``host:pid:random``) while it runs.
    claimed_by: str | None = None
    lease_expires_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``jobs`` columns."""
        return {
            "id": str(self.id),
            "check_id": str(self.check_id),
            "status": self.status.value,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "completed_at": iso(self.completed_at),
            "result_id": self.result_id,
            "error_message": self.error_message,
            "triggered_by": self.triggered_by,
            "schedule_id": _text(self.schedule_id),
            "attempts": self.attempts,
            "claimed_by": self.claimed_by,
            "lease_expires_at": iso(self.lease_expires_at),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckOutcome:
    """One check run now: its definition, its result as recorded, its incident after it."""

    check: CheckDefinition
    result: CheckResult
    #: The check's incident after this run (open, acknowledged, or resolved now), or None.
    incident: Incident | None = None

    @property
    def failed_at(self) -> Severity | None:
        """The severity the check failed at, ``None`` when it passed."""
        if self.result.rule_passed:
            return None
        return self.result.severity or self.check.severity

    def to_dict(self) -> dict[str, Any]:
        """What ``spine checks run --json`` prints for the check."""
        return {
            "check": self.check.name,
            "sensor_value": exact_number(self.result.sensor_value),
            "rule_passed": self.result.rule_passed,
            "severity": None if self.result.severity is None else self.result.severity.value,
            "execution_time_ms": self.result.execution_time_ms,
            "error_message": self.result.error_message,
            "result_id": self.result.id,
            "executed_at": iso(self.result.executed_at),
            "check_id": str(self.check.id),
            "table": self.check.table_label,
            "column": self.check.target_column,
            "check_type": self.check.check_type,
            "details": self.result.details,
            "incident_id": None if self.incident is None else str(self.incident.id),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class QualitySummary:
    """Spec 004's four useful queries, for ``spine quality summary``.

    Rows are JSON-able dicts with the spec's column names.
    """

    latest: list[dict[str, Any]]
    pass_rate_by_table: list[dict[str, Any]]
    open_incidents: list[dict[str, Any]]
    due: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """The four lists under their names."""
        return {
            "latest": self.latest,
            "pass_rate_by_table": self.pass_rate_by_table,
            "open_incidents": self.open_incidents,
            "due": self.due,
        }
