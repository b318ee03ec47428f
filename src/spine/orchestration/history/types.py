"""Spec 002's history records: :class:`WorkflowRun` and :class:`StepRun`.

Mutable by design, as spec 002 explains: they track evolving execution state, while the
immutable record is the event log (``core_workflow_events``). Fields beyond spec 002 come
from spec 000's columns (counters, attempts, lineage); they all have defaults, so the
specification's constructor calls work unchanged. Times are timezone-aware UTC.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class WorkflowStatus(StrEnum):
    """Workflow execution status."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """Whether a run in this status will not change again."""
        return self in TERMINAL_RUN_STATUSES


TERMINAL_RUN_STATUSES = frozenset(
    {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED}
)


class StepStatus(StrEnum):
    """Step execution status."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"

    @property
    def is_terminal(self) -> bool:
        """Whether a step attempt in this status will not change again."""
        return self in (StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start and end:
        return (end - start).total_seconds()
    return None


@dataclass
class WorkflowRun:
    """Record of a workflow execution: start, end, status, and summary metrics."""

    run_id: str
    workflow_name: str
    domain: str | None = None
    partition_key: str | None = None
    status: WorkflowStatus = WorkflowStatus.PENDING

    started_at: datetime | None = None
    completed_at: datetime | None = None

    params: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    error: str | None = None
    error_category: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    triggered_by: str = "manual"
    created_at: datetime = field(default_factory=utcnow)

    # Spec 000 columns.
    workflow_version: int = 1
    duration_ms: int | None = None
    error_retryable: bool | None = None
    total_steps: int = 0
    completed_steps: int = 0
    failed_steps: int = 0
    skipped_steps: int = 0
    parent_run_id: str | None = None
    schedule_id: str | None = None
    created_by: str | None = None
    capture_id: str | None = None

    # Added by spine: the caller's key for this start (docs/orchestration.md).
    idempotency_key: str | None = None
    #: The workspace the run belongs to; ``None`` on a run not stored yet: the store
    #: puts it in its actor's workspace (a child run in its parent's).
    workspace_id: uuid.UUID | None = None

    @property
    def duration_seconds(self) -> float | None:
        """Execution duration, when the run has started and finished."""
        if self.duration_ms is not None:
            return self.duration_ms / 1000
        return _seconds(self.started_at, self.completed_at)

    @property
    def is_terminal(self) -> bool:
        """Whether the run is COMPLETED, FAILED or CANCELLED."""
        return WorkflowStatus(self.status).is_terminal

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-ready dict (spec 002's keys, then spec 000's, then spine's)."""
        return {
            "run_id": self.run_id,
            "workflow_name": self.workflow_name,
            "domain": self.domain,
            "partition_key": self.partition_key,
            "status": WorkflowStatus(self.status).value,
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "duration_seconds": self.duration_seconds,
            "params": self.params,
            "outputs": self.outputs,
            "error": self.error,
            "error_category": self.error_category,
            "metrics": self.metrics,
            "triggered_by": self.triggered_by,
            "created_at": self.created_at.isoformat(),
            "workflow_version": self.workflow_version,
            "duration_ms": self.duration_ms,
            "error_retryable": self.error_retryable,
            "total_steps": self.total_steps,
            "completed_steps": self.completed_steps,
            "failed_steps": self.failed_steps,
            "skipped_steps": self.skipped_steps,
            "parent_run_id": self.parent_run_id,
            "schedule_id": self.schedule_id,
            "created_by": self.created_by,
            "capture_id": self.capture_id,
            "idempotency_key": self.idempotency_key,
        }


@dataclass
class StepRun:
    """Record of one attempt of a step within a workflow run."""

    step_id: str
    run_id: str
    step_name: str
    step_type: str
    step_order: int
    status: StepStatus = StepStatus.PENDING

    started_at: datetime | None = None
    completed_at: datetime | None = None

    input_params: dict[str, Any] = field(default_factory=dict)
    output_data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_category: str | None = None

    records_processed: int | None = None
    quality_passed: bool | None = None
    quality_metrics: dict[str, Any] = field(default_factory=dict)

    # Spec 000 columns.
    attempt: int = 1
    max_attempts: int = 1
    duration_ms: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    execution_id: str | None = None

    # Added by spine: a failed attempt's traceback, spine's own frames trimmed.
    error_traceback: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        """Step duration, when it has started and finished."""
        if self.duration_ms is not None:
            return self.duration_ms / 1000
        return _seconds(self.started_at, self.completed_at)

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-ready dict (spec 002's keys, then spec 000's, then spine's)."""
        return {
            "step_id": self.step_id,
            "run_id": self.run_id,
            "step_name": self.step_name,
            "step_type": self.step_type,
            "step_order": self.step_order,
            "status": StepStatus(self.status).value,
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "duration_seconds": self.duration_seconds,
            "error": self.error,
            "records_processed": self.records_processed,
            "quality_passed": self.quality_passed,
            "error_category": self.error_category,
            "input_params": self.input_params,
            "output_data": self.output_data,
            "quality_metrics": self.quality_metrics,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "duration_ms": self.duration_ms,
            "execution_id": self.execution_id,
            "error_traceback": self.error_traceback,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StepLog:
    """The ``ctx.log`` lines one step attempt kept (``core_workflow_step_logs``).

    Attributes:
        lines: ``(time, level, message)`` tuples; where lines were dropped, one line of
            level ``-`` says how many.
        dropped_lines: How many lines the bound dropped.
    """

    run_id: str
    step_id: str
    step_name: str
    attempt: int
    lines: list[tuple[str, str, str]]
    dropped_lines: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-ready dict."""
        return {
            "run_id": self.run_id,
            "step_id": self.step_id,
            "step_name": self.step_name,
            "attempt": self.attempt,
            "lines": [
                {"time": when, "level": level, "message": message}
                for when, level, message in self.lines
            ],
            "dropped_lines": self.dropped_lines,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowEvent:
    """One immutable row of ``core_workflow_events``."""

    id: int
    run_id: str
    step_id: str | None
    event_type: str
    timestamp: datetime
    payload: dict[str, Any]
    idempotency_key: str

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-ready dict."""
        return {
            "id": self.id,
            "run_id": self.run_id,
            "step_id": self.step_id,
            "event_type": self.event_type,
            "timestamp": self.timestamp.isoformat(),
            "payload": self.payload,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStatistics:
    """Counts and mean duration of runs (spec 002's ``get_run_statistics``)."""

    total_runs: int
    completed: int
    failed: int
    cancelled: int
    running: int
    pending: int
    avg_duration_seconds: float | None

    @property
    def success_rate(self) -> float:
        """Completed runs over all runs (0 when there are none)."""
        return self.completed / self.total_runs if self.total_runs else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Spec 002's keys, then the other statuses."""
        return {
            "total_runs": self.total_runs,
            "completed": self.completed,
            "failed": self.failed,
            "success_rate": self.success_rate,
            "avg_duration_seconds": self.avg_duration_seconds,
            "cancelled": self.cancelled,
            "running": self.running,
            "pending": self.pending,
        }
