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
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

#: A sensor value: exact where the database gives a Decimal, never rounded by spine.
SensorValue = Decimal | float | int


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
