"""Step transitions: an attempt started, finished, or failed because its worker died.

Functions that write on the caller's connection; :class:`~spine.orchestration.store.RunStore`
runs each use case in one transaction. Every change appends its event in the same
transaction, keyed so that it is recorded once however often it is retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.ids import new_id
from spine.core.storage.dialect_sql import insert_if_absent
from spine.core.storage.schema.baseline import core_executions as executions_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.core.storage.schema.workflow_history import core_workflow_step_logs as logs_t
from spine.core.storage.schema.workflow_history import core_workflow_steps as steps_t
from spine.orchestration.history.store import add_event, step_values
from spine.orchestration.history.store.rows import STEP_FINISH_COLUMNS, STEP_START_COLUMNS
from spine.orchestration.history.types import StepRun, StepStatus
from spine.orchestration.models import FinishedStep, Lease
from spine.orchestration.store.lease import guard
from spine.orchestration.store.statements import COUNTERS, StepWrites

# How an attempt whose worker died is recorded; the runner recognises it by this prefix.
INTERRUPTED = "interrupted:"


def prepare_finish(finished: FinishedStep, now: datetime) -> str | None:
    """Fill in the attempt's end on its record; return the run counter it moves, if any."""
    step = finished.step
    step.status = finished.status
    step.completed_at = now
    if step.started_at is None:
        step.started_at = now
    step.duration_ms = int((now - step.started_at).total_seconds() * 1000)
    outputs = finished.outputs
    if outputs is not None:
        step.output_data = dict(outputs)
        rows = outputs.get("row_count", outputs.get("records_processed"))
        if isinstance(rows, int) and not isinstance(rows, bool):
            step.records_processed = rows
    if finished.failure is not None:
        step.error, step.error_category = finished.failure.error, finished.failure.category
        step.error_traceback = finished.failure.traceback
    if finished.metrics is not None:
        step.metrics = dict(finished.metrics)
    if finished.quality_passed is not None:
        step.quality_passed = finished.quality_passed
    if finished.quality_metrics is not None:
        step.quality_metrics = dict(finished.quality_metrics)
    return COUNTERS[finished.status] if finished.counts_for_run else None


def write_start(
    conn: sa.Connection,
    writes: StepWrites,
    step: StepRun,
    now: datetime,
    pipeline_name: str | None,
) -> None:
    """Insert the RUNNING attempt (and its execution row, for a pipeline) with its event."""
    if pipeline_name is not None:
        step.execution_id = new_id()
        insert_execution(conn, step, pipeline_name, now)
    values = step_values(step)
    writes.start(conn, {name: values[name] for name in STEP_START_COLUMNS})
    writes.event(
        conn,
        run_id=step.run_id,
        step_id=step.step_id,
        event_type="step.started",
        key=f"step:{step.step_id}:RUNNING",
        now=now,
        payload={"step_name": step.step_name, "attempt": step.attempt},
    )


def write_finish(
    conn: sa.Connection,
    writes: StepWrites,
    lease: Lease,
    finished: FinishedStep,
    now: datetime,
    counter: str | None,
) -> bool:
    """Write a prepared attempt end and its event; return whether cancellation was asked.

    Raises:
        LeaseLost: If the lease's owner no longer holds the run; nothing is written.
    """
    step = finished.step
    requested = guard(conn, writes, lease, now, counter=counter)
    values = step_values(step)
    changes = {name: values[name] for name in STEP_FINISH_COLUMNS}
    if not writes.finish(conn, {**changes, "b_step_id": step.step_id}):
        conn.execute(sa.insert(steps_t).values(values))  # an end never started (SKIPPED)
    if step.execution_id:
        finish_execution(
            conn,
            step.execution_id,
            "COMPLETED" if finished.status is StepStatus.COMPLETED else "FAILED",
            step.output_data,
            step.error,
            step.error_category,
            now,
            step.records_processed,
        )
    if finished.logs:
        insert_if_absent(
            conn,
            logs_t,
            {
                "step_id": step.step_id,
                "run_id": step.run_id,
                "step_name": step.step_name,
                "attempt": step.attempt,
                "lines": [list(line) for line in finished.logs.lines()],
                "dropped_lines": finished.logs.dropped,
            },
            key=["step_id"],
        )
    payload: dict[str, Any] = {"step_name": step.step_name, "attempt": step.attempt}
    failure = finished.failure
    if failure is not None:
        payload.update(
            error=failure.error, error_category=failure.category, retryable=failure.retryable
        )
    if finished.retry_in is not None:
        payload.update(will_retry=True, retry_in_seconds=round(finished.retry_in, 3))
    writes.event(
        conn,
        run_id=step.run_id,
        step_id=step.step_id,
        event_type=f"step.{finished.status.value.lower()}",
        key=f"step:{step.step_id}:{finished.status.value}",
        now=now,
        payload=payload,
    )
    return requested


def insert_execution(conn: sa.Connection, step: StepRun, pipeline_name: str, now: datetime) -> None:
    """Record a pipeline attempt RUNNING in ``core_executions``."""
    domain, partition_key = conn.execute(
        sa.select(runs_t.c.domain, runs_t.c.partition_key).where(runs_t.c.run_id == step.run_id)
    ).one()
    conn.execute(
        sa.insert(executions_t).values(
            id=step.execution_id,
            pipeline_name=pipeline_name,
            domain=domain,
            partition_key=partition_key,
            status="RUNNING",
            params=step.input_params,
            run_id=step.run_id,
            step_id=step.step_id,
            triggered_by="workflow",
            started_at=now,
            created_at=now,
        )
    )


def finish_execution(
    conn: sa.Connection,
    execution_id: str,
    status: str,
    result: Mapping[str, Any] | None,
    error: str | None,
    category: str | None,
    now: datetime,
    row_count: int | None = None,
) -> None:
    """Record a pipeline attempt's end in ``core_executions``."""
    started = conn.execute(
        sa.select(executions_t.c.started_at).where(executions_t.c.id == execution_id)
    ).scalar_one_or_none()
    conn.execute(
        sa.update(executions_t)
        .where(executions_t.c.id == execution_id)
        .values(
            status=status,
            result=dict(result) if result is not None else None,
            error=error,
            error_category=category,
            completed_at=now,
            row_count=row_count,
            duration_ms=int((now - started).total_seconds() * 1000) if started else None,
        )
    )


def fail_open_attempts(
    conn: sa.Connection,
    run_id: str,
    now: datetime,
    *,
    error: str,
    category: str,
    execution_status: str,
    only_types: Sequence[str] | None = None,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Record the run's RUNNING attempts FAILED (of ``only_types``), with their events.

    Used when a worker died in them (interrupted) and when a run is cancelled.
    """
    query = sa.select(
        steps_t.c.step_id,
        steps_t.c.step_name,
        steps_t.c.attempt,
        steps_t.c.started_at,
        steps_t.c.execution_id,
    ).where(steps_t.c.run_id == run_id, steps_t.c.status == StepStatus.RUNNING.value)
    if only_types is not None:
        query = query.where(steps_t.c.step_type.in_(only_types))
    for row in conn.execute(query).mappings().all():
        started = row["started_at"]
        conn.execute(
            sa.update(steps_t)
            .where(steps_t.c.step_id == row["step_id"])
            .values(
                status=StepStatus.FAILED.value,
                error=error,
                error_category=category,
                completed_at=now,
                duration_ms=int((now - started).total_seconds() * 1000) if started else None,
            )
        )
        if row["execution_id"]:
            finish_execution(
                conn, row["execution_id"], execution_status, None, error, category, now
            )
        add_event(
            conn,
            run_id=run_id,
            step_id=row["step_id"],
            event_type="step.failed",
            key=f"step:{row['step_id']}:FAILED",
            now=now,
            payload={
                "step_name": row["step_name"],
                "attempt": row["attempt"],
                "error": error,
                "error_category": category,
                **(payload or {}),
            },
        )
