"""The dashboard's reads of run history: bounded, index-served, never a whole-table scan.

- :func:`runs_per_day` reads the per-day rollup ``core_workflow_run_stats`` (a few rows
  per workflow and day) through ``idx_workflow_run_stats_day``.
- :func:`page_runs` lists runs newest first by creation time, keyed by
  ``(created_at, run_id)``: every filter but the partition is a column that leads an index
  with ``created_at`` second (``workspace_id``, ``status``, ``workflow_name``), so a page
  is an index range read backwards and stopped by ``LIMIT``.
- :func:`child_runs`, :func:`step_page` and :func:`event_page` read one run's rows through
  ``idx_workflow_runs_parent``, ``idx_workflow_steps_run`` and ``idx_workflow_events_run``,
  capped, since a map step may have thousands of attempts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from spine.core.storage.schema.workflow_history import core_workflow_events as events_t
from spine.core.storage.schema.workflow_history import core_workflow_run_stats as stats_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.core.storage.schema.workflow_history import core_workflow_steps as steps_t
from spine.orchestration.history.store.rows import row_to_event, row_to_run, row_to_step
from spine.orchestration.history.types import StepRun, WorkflowEvent, WorkflowRun, WorkflowStatus


@dataclass(frozen=True, slots=True)
class RunFilter:
    """What a list of runs is narrowed to (all optional).

    Attributes:
        workflow_name: Runs of this workflow.
        status: Runs in this status.
        since: Runs created at or after this time.
        until: Runs created before this time.
        partition: Runs whose partition key contains this text (a date, a logical
            time, a key): not indexed, so best with a workflow or a time window.
    """

    workflow_name: str | None = None
    status: WorkflowStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    partition: str | None = None


def runs_per_day(
    conn: sa.Connection, workspace_id: uuid.UUID, first: date, last: date
) -> dict[str, dict[str, int]]:
    """Runs created per UTC day and status, for days ``first`` to ``last`` (inclusive).

    Returns:
        ``{"2026-12-01": {"COMPLETED": 10, "FAILED": 2}, ...}``; days without runs are absent.
    """
    query = (
        sa.select(stats_t.c.day, stats_t.c.status, sa.func.sum(stats_t.c.run_count))
        .where(
            stats_t.c.day >= first.isoformat(),
            stats_t.c.day <= last.isoformat(),
            stats_t.c.workspace_id == workspace_id,
        )
        .group_by(stats_t.c.day, stats_t.c.status)
    )
    days: dict[str, dict[str, int]] = {}
    for day, status, count in conn.execute(query):
        if count:
            days.setdefault(str(day), {})[str(status)] = int(count)
    return days


def page_runs(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    where: RunFilter,
    *,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[WorkflowRun]:
    """Up to ``limit`` runs matching ``where``, newest created first, after ``before``.

    ``before`` is the ``(created_at, run_id)`` of the last run of the previous page.
    """
    clauses: list[sa.ColumnElement[bool]] = [runs_t.c.workspace_id == workspace_id]
    if where.workflow_name:
        clauses.append(runs_t.c.workflow_name == where.workflow_name)
    if where.status:
        clauses.append(runs_t.c.status == WorkflowStatus(where.status).value)
    if where.since:
        clauses.append(runs_t.c.created_at >= where.since)
    if where.until:
        clauses.append(runs_t.c.created_at < where.until)
    if where.partition:
        clauses.append(runs_t.c.partition_key.contains(where.partition, autoescape=True))
    if before is not None:
        at, run_id = before
        clauses.append(
            sa.or_(
                runs_t.c.created_at < at,
                sa.and_(runs_t.c.created_at == at, runs_t.c.run_id < run_id),
            )
        )
    query = (
        sa.select(runs_t)
        .where(*clauses)
        .order_by(runs_t.c.created_at.desc(), runs_t.c.run_id.desc())
        .limit(limit)
    )
    return [row_to_run(row) for row in conn.execute(query).mappings()]


def child_runs(
    conn: sa.Connection, workspace_id: uuid.UUID, run_id: str, limit: int
) -> list[WorkflowRun]:
    """The first ``limit`` runs started by ``run_id``'s steps, oldest first."""
    query = (
        sa.select(runs_t)
        .where(runs_t.c.parent_run_id == run_id, runs_t.c.workspace_id == workspace_id)
        .order_by(runs_t.c.created_at, runs_t.c.run_id)
        .limit(limit)
    )
    return [row_to_run(row) for row in conn.execute(query).mappings()]


def step_page(conn: sa.Connection, run_id: str, limit: int) -> tuple[list[StepRun], int]:
    """The first ``limit`` step attempts of a run in execution order, and how many it has.

    The caller has checked that the run is its workspace's.
    """
    query = (
        sa.select(steps_t)
        .where(steps_t.c.run_id == run_id)
        .order_by(steps_t.c.step_order, steps_t.c.attempt, steps_t.c.step_id)
        .limit(limit)
    )
    steps = [row_to_step(row) for row in conn.execute(query).mappings()]
    if len(steps) < limit:
        return steps, len(steps)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(steps_t).where(steps_t.c.run_id == run_id)
    ).scalar_one()
    return steps, int(total)


def event_page(conn: sa.Connection, run_id: str, limit: int) -> list[WorkflowEvent]:
    """The first ``limit`` events of a run, oldest first (the caller checked the run)."""
    query = (
        sa.select(events_t).where(events_t.c.run_id == run_id).order_by(events_t.c.id).limit(limit)
    )
    return [row_to_event(row) for row in conn.execute(query).mappings()]
