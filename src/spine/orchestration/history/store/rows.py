"""Row mapping of the history tables: the one place a run or step becomes column values.

Spec 002's :class:`StepRun` field names map to spec 000's columns here
(``input_params`` → ``params``, ``output_data`` → ``outputs``, ``records_processed`` →
``row_count``); every writer of step rows goes through :func:`step_values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from spine.core.storage.bounds import check_lengths
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.orchestration.history.types import (
    StepLog,
    StepRun,
    StepStatus,
    WorkflowEvent,
    WorkflowRun,
    WorkflowStatus,
)

# The columns an attempt's start writes, and those its end sets.
STEP_START_COLUMNS = (
    "step_id",
    "run_id",
    "step_name",
    "step_type",
    "step_order",
    "status",
    "started_at",
    "params",
    "attempt",
    "max_attempts",
    "execution_id",
)
STEP_FINISH_COLUMNS = (
    "status",
    "started_at",
    "completed_at",
    "duration_ms",
    "outputs",
    "error",
    "error_category",
    "row_count",
    "metrics",
    "quality_passed",
    "quality_metrics",
    "error_traceback",
)
_RUN_LABELS = {"workflow_name": "workflow name"}


def _duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start and end:
        return int((end - start).total_seconds() * 1000)
    return None


def run_values(run: WorkflowRun, now: datetime) -> dict[str, Any]:
    """The column values of a run row.

    Raises:
        InvalidInput: If a text field is longer than its column: every writer of run
            rows builds them here, before it writes anything.
    """
    duration = run.duration_ms
    if duration is None:
        duration = _duration_ms(run.started_at, run.completed_at)
    values = {
        "run_id": run.run_id,
        "workflow_name": run.workflow_name,
        "workflow_version": run.workflow_version,
        "domain": run.domain,
        "partition_key": run.partition_key,
        "status": WorkflowStatus(run.status).value,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "duration_ms": duration,
        "params": run.params,
        "outputs": run.outputs,
        "error": run.error,
        "error_category": run.error_category,
        "error_retryable": run.error_retryable,
        "metrics": run.metrics,
        "total_steps": run.total_steps,
        "completed_steps": run.completed_steps,
        "failed_steps": run.failed_steps,
        "skipped_steps": run.skipped_steps,
        "triggered_by": run.triggered_by,
        "parent_run_id": run.parent_run_id,
        "schedule_id": run.schedule_id,
        "created_at": run.created_at,
        "created_by": run.created_by,
        "capture_id": run.capture_id,
        "idempotency_key": run.idempotency_key,
        "updated_at": now,
    }
    if run.workspace_id is not None:
        values["workspace_id"] = run.workspace_id
    check_lengths(runs_t, values, what="run", labels=_RUN_LABELS)
    return values


def step_values(step: StepRun) -> dict[str, Any]:
    """The column values of a step row (spec 002 names mapped to spec 000 columns)."""
    duration = step.duration_ms
    if duration is None:
        duration = _duration_ms(step.started_at, step.completed_at)
    return {
        "step_id": step.step_id,
        "run_id": step.run_id,
        "step_name": step.step_name,
        "step_type": step.step_type,
        "step_order": step.step_order,
        "status": StepStatus(step.status).value,
        "started_at": step.started_at,
        "completed_at": step.completed_at,
        "duration_ms": duration,
        "params": step.input_params,
        "outputs": step.output_data,
        "error": step.error,
        "error_category": step.error_category,
        "row_count": step.records_processed,
        "metrics": step.metrics,
        "attempt": step.attempt,
        "max_attempts": step.max_attempts,
        "execution_id": step.execution_id,
        "quality_passed": step.quality_passed,
        "quality_metrics": step.quality_metrics,
        "error_traceback": step.error_traceback,
    }


def row_to_run(row: Mapping[Any, Any]) -> WorkflowRun:
    """Build a :class:`WorkflowRun` from a ``core_workflow_runs`` row."""
    return WorkflowRun(
        run_id=row["run_id"],
        workflow_name=row["workflow_name"],
        domain=row["domain"],
        partition_key=row["partition_key"],
        status=WorkflowStatus(row["status"]),
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        params=row["params"] or {},
        outputs=row["outputs"] or {},
        error=row["error"],
        error_category=row["error_category"],
        metrics=row["metrics"] or {},
        triggered_by=row["triggered_by"],
        created_at=row["created_at"],
        workflow_version=row["workflow_version"],
        duration_ms=row["duration_ms"],
        error_retryable=row["error_retryable"],
        total_steps=row["total_steps"],
        completed_steps=row["completed_steps"],
        failed_steps=row["failed_steps"],
        skipped_steps=row["skipped_steps"],
        parent_run_id=row["parent_run_id"],
        schedule_id=row["schedule_id"],
        created_by=row["created_by"],
        capture_id=row["capture_id"],
        idempotency_key=row["idempotency_key"],
        workspace_id=row.get("workspace_id"),
    )


def row_to_step(row: Mapping[Any, Any]) -> StepRun:
    """Build a :class:`StepRun` from a ``core_workflow_steps`` row."""
    return StepRun(
        step_id=row["step_id"],
        run_id=row["run_id"],
        step_name=row["step_name"],
        step_type=row["step_type"],
        step_order=row["step_order"],
        status=StepStatus(row["status"]),
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        input_params=row["params"] or {},
        output_data=row["outputs"] or {},
        error=row["error"],
        error_category=row["error_category"],
        records_processed=row["row_count"],
        quality_passed=row["quality_passed"],
        quality_metrics=row["quality_metrics"] or {},
        attempt=row["attempt"],
        max_attempts=row["max_attempts"],
        duration_ms=row["duration_ms"],
        metrics=row["metrics"] or {},
        execution_id=row["execution_id"],
        error_traceback=row["error_traceback"],
    )


def row_to_event(row: Mapping[Any, Any]) -> WorkflowEvent:
    """Build a :class:`WorkflowEvent` from a ``core_workflow_events`` row."""
    return WorkflowEvent(
        id=row["id"],
        run_id=row["run_id"],
        step_id=row["step_id"],
        event_type=row["event_type"],
        timestamp=row["timestamp"],
        payload=row["payload"] or {},
        idempotency_key=row["idempotency_key"],
    )


def row_to_step_log(row: Mapping[Any, Any]) -> StepLog:
    """Build a :class:`StepLog` from a ``core_workflow_step_logs`` row."""
    return StepLog(
        run_id=row["run_id"],
        step_id=row["step_id"],
        step_name=row["step_name"],
        attempt=row["attempt"],
        lines=[(str(w), str(lv), str(m)) for w, lv, m in row["lines"] or []],
        dropped_lines=row["dropped_lines"],
    )
