"""The bodies and answers of the data-quality routes (spec 004's column names).

Answers are built from the quality part's records field by field, so that the document
says exactly what a client gets. Sensor values are JSON numbers (an integral value as
an integer); ``sensor_value_text`` carries the exact decimal the database gave, for the
rare value a JSON reader's double cannot hold.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from spine.quality.models import CheckDefinition, CheckResult, Incident, Job

_TIME = "ISO-8601 time in UTC."
_NAME = "Unique in the workspace (at most 255 characters)."
_TABLE = "The table, without its schema."
_SEVERITY = "warning, error or fatal: how bad a failure is."
_CONFIG = (
    "The type's keys (`min_value`, `pattern`, `columns` ...), thresholds (`min`, `max`, "
    '`equals`, flat or per severity: `{"warning": {"max": 5}}`), `anomaly`, and scope '
    "(`filter`, `time_column` + `window`); see `GET .../checks/types` and docs/quality.md."
)
_CRON = "5-field cron expression or @daily etc.: the check's schedule (one per check)."
Severity = Literal["warning", "error", "fatal"]
IncidentStatus = Literal["open", "acknowledged", "resolved"]
JobStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
_EXACT_INT = 2**53


def _no_nul(value: Any) -> Any:
    """Refuse text holding NUL, which the database cannot store (recursively)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


def sensor_number(value: Decimal | float | int | None) -> int | float | None:
    """A sensor value as a JSON number: an integer when it is one, else the nearest double."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if value == value.to_integral_value() and abs(value) < _EXACT_INT:
            return int(value)
        return float(value)
    return value


def sensor_text(value: Decimal | float | int | None) -> str | None:
    """The exact text of a sensor value, without exponent or trailing zeros."""
    if value is None:
        return None
    if isinstance(value, Decimal) and value.is_finite():
        text = format(value.normalize(), "f")
        return "0" if text == "-0" else text
    return str(value)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _no_nul(value)


class CheckResponse(BaseModel):
    """A ``check_definitions`` row, with its connection's name and its schedule."""

    id: str
    workspace_id: str
    connection_id: str = Field(description="The spec 004 `connections` row of the connection.")
    connection_name: str
    name: str
    description: str | None
    check_type: str
    target_type: str = Field(description="table or column.")
    target_schema: str | None
    target_table: str
    target_column: str | None
    config: dict[str, Any]
    severity: str = Field(description=_SEVERITY)
    enabled: bool
    tags: list[str]
    data_product_id: str | None
    created_at: datetime = Field(description=_TIME)
    updated_at: datetime = Field(description=_TIME)
    cron_expression: str | None = Field(description="The schedule, or null.")
    timezone: str | None = Field(description="The schedule's IANA zone, or null.")

    @classmethod
    def of(cls, check: CheckDefinition) -> CheckResponse:
        """The answer for ``check``."""
        return cls(
            id=str(check.id),
            workspace_id=str(check.workspace_id),
            connection_id=str(check.connection_id),
            connection_name=check.connection_name,
            name=check.name,
            description=check.description,
            check_type=check.check_type,
            target_type=check.target_type.value,
            target_schema=check.target_schema,
            target_table=check.target_table,
            target_column=check.target_column,
            config=dict(check.config),
            severity=check.severity.value,
            enabled=check.enabled,
            tags=list(check.tags),
            data_product_id=check.data_product_id,
            created_at=check.created_at,
            updated_at=check.updated_at,
            cron_expression=check.cron_expression,
            timezone=check.timezone if check.cron_expression else None,
        )


class CheckCreate(_Body):
    """A check to save: what ``spine checks add`` takes."""

    name: str = Field(min_length=1, max_length=255, description=_NAME)
    connection_name: str = Field(
        min_length=1, max_length=200, description="A registered connection of the workspace."
    )
    check_type: str = Field(
        min_length=1, max_length=100, description="A type of `GET .../checks/types`."
    )
    target_schema: str | None = Field(default=None, min_length=1, max_length=255)
    target_table: str = Field(min_length=1, max_length=255, description=_TABLE)
    target_column: str | None = Field(
        default=None, min_length=1, max_length=255, description="For column-level types."
    )
    config: dict[str, Any] = Field(default_factory=dict, description=_CONFIG)
    severity: Severity = Field(default="error", description=_SEVERITY)
    tags: list[str] = Field(default_factory=list, max_length=100)
    cron_expression: str | None = Field(default=None, max_length=100, description=_CRON)
    timezone: str = Field(default="UTC", min_length=1, max_length=50, description="IANA zone.")
    description: str | None = Field(default=None, max_length=10_000)
    enabled: bool = True


class CheckPatch(_Body):
    """What to change in a check; absent fields stay.

    ``cron_expression: null`` removes the schedule; ``target_column``, ``target_schema``
    and ``description`` may be set to null too.
    """

    connection_name: str | None = Field(default=None, min_length=1, max_length=200)
    check_type: str | None = Field(default=None, min_length=1, max_length=100)
    target_schema: str | None = Field(default=None, min_length=1, max_length=255)
    target_table: str | None = Field(default=None, min_length=1, max_length=255)
    target_column: str | None = Field(default=None, min_length=1, max_length=255)
    config: dict[str, Any] | None = Field(default=None, description="The whole new config.")
    severity: Severity | None = None
    tags: list[str] | None = Field(default=None, max_length=100)
    cron_expression: str | None = Field(default=None, max_length=100, description=_CRON)
    timezone: str | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=10_000)
    enabled: bool | None = None


class CheckTypeResponse(BaseModel):
    """One type of the catalogue."""

    name: str
    level: str = Field(description="table or column.")
    sensor: str = Field(description="What the sensor value means.")
    config_keys: dict[str, str] = Field(description="The type's own config keys and meaning.")
    required: list[str]
    row_level: bool = Field(description="Whether failed rows are sampled.")


class ResultResponse(BaseModel):
    """A ``check_results`` row."""

    id: int
    check_id: str
    executed_at: datetime = Field(description=_TIME)
    execution_time_ms: int | None
    sensor_value: int | float | None = Field(description="The measured number.")
    sensor_value_text: str | None = Field(description="The exact decimal, as text.")
    rule_passed: bool
    severity: str | None = Field(description="The highest failing severity; null if passed.")
    error_message: str | None = Field(description="Why the check could not run.")
    details: dict[str, Any] | None = Field(
        description="Failed thresholds, the anomaly band, failed-row samples, the schema."
    )

    @classmethod
    def of(cls, result: CheckResult) -> ResultResponse:
        """The answer for ``result``."""
        return cls(
            id=result.id,
            check_id=str(result.check_id),
            executed_at=result.executed_at,
            execution_time_ms=result.execution_time_ms,
            sensor_value=sensor_number(result.sensor_value),
            sensor_value_text=sensor_text(result.sensor_value),
            rule_passed=result.rule_passed,
            severity=result.severity.value if result.severity else None,
            error_message=result.error_message,
            details=result.details,
        )


class JobResponse(BaseModel):
    """A ``jobs`` row: one queued run of a check."""

    id: str
    check_id: str
    status: str = Field(description="queued, running, completed, failed or cancelled.")
    created_at: datetime = Field(description=_TIME)
    started_at: datetime | None = Field(description=_TIME)
    completed_at: datetime | None = Field(description=_TIME)
    result_id: int | None = Field(description="The `check_results` row it recorded.")
    error_message: str | None
    triggered_by: str = Field(description="api, schedule, cli ...")
    schedule_id: str | None
    attempts: int

    @classmethod
    def of(cls, job: Job) -> JobResponse:
        """The answer for ``job``."""
        return cls(
            id=str(job.id),
            check_id=str(job.check_id),
            status=job.status.value,
            created_at=job.created_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            result_id=job.result_id,
            error_message=job.error_message,
            triggered_by=job.triggered_by,
            schedule_id=None if job.schedule_id is None else str(job.schedule_id),
            attempts=job.attempts,
        )


class IncidentResponse(BaseModel):
    """An ``incidents`` row, with its check's name and table."""

    id: str
    check_id: str
    check_name: str
    target_table: str
    status: str = Field(description="open, acknowledged or resolved.")
    severity: str
    failure_count: int
    first_seen: datetime = Field(description=_TIME)
    last_seen: datetime = Field(description=_TIME)
    resolved_at: datetime | None = Field(description=_TIME)
    acknowledged_by: str | None
    acknowledged_at: datetime | None = Field(description=_TIME)
    resolution_notes: str | None
    consecutive_passes: int = Field(description="Passing runs since the last failure.")
    reopened_count: int = Field(description="How often a flapping check reopened it.")
    created_at: datetime = Field(description=_TIME)
    updated_at: datetime = Field(description=_TIME)

    @classmethod
    def of(cls, incident: Incident) -> IncidentResponse:
        """The answer for ``incident``."""
        return cls(
            id=str(incident.id),
            check_id=str(incident.check_id),
            check_name=incident.check_name,
            target_table=incident.target_table,
            status=incident.status.value,
            severity=incident.severity.value,
            failure_count=incident.failure_count,
            first_seen=incident.first_seen,
            last_seen=incident.last_seen,
            resolved_at=incident.resolved_at,
            acknowledged_by=incident.acknowledged_by,
            acknowledged_at=incident.acknowledged_at,
            resolution_notes=incident.resolution_notes,
            consecutive_passes=incident.consecutive_passes,
            reopened_count=incident.reopened_count,
            created_at=incident.created_at,
            updated_at=incident.updated_at,
        )


class AcknowledgeBody(_Body):
    """Who looks at the incident, and what is known so far."""

    by: str = Field(min_length=1, max_length=255, description="Who acknowledges it.")
    notes: str | None = Field(default=None, max_length=10_000)


class ResolveBody(_Body):
    """What was wrong and what was done."""

    notes: str | None = Field(default=None, max_length=10_000)
    by: str | None = Field(default=None, min_length=1, max_length=255)
