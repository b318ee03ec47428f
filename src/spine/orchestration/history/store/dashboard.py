"""The dashboard's reads of run history: bounded, index-served, never a whole-table scan.

- :func:`runs_per_day` reads the per-day rollup ``core_workflow_run_stats`` (a few rows
  per workflow and day) through ``idx_workflow_run_stats_day``.
- :func:`page_runs` lists runs newest first by creation time, keyed by
  ``(created_at, run_id)``: the workflow and status filters lead an index with
  ``created_at`` second (as ``workspace_id`` does), so a page is an index range read
  backwards and stopped by ``LIMIT``; filters no index serves look at a bounded number
  of runs (:data:`SCAN_BUDGET`).
- :func:`child_runs`, :func:`step_page` and :func:`event_page` read one run's rows through
  ``idx_workflow_runs_parent``, ``idx_workflow_steps_run`` and ``idx_workflow_events_run``,
  capped, since a map step may have thousands of attempts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from spine.core.storage.schema.workflow_history import core_workflow_events as events_t
from spine.core.storage.schema.workflow_history import core_workflow_run_stats as stats_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.core.storage.schema.workflow_history import core_workflow_steps as steps_t
from spine.orchestration.history.store.rows import row_to_event, row_to_run, row_to_step
from spine.orchestration.history.types import StepRun, WorkflowEvent, WorkflowRun, WorkflowStatus

#: The most runs a filter that no index serves looks at for one page.
SCAN_BUDGET = 5_000


@dataclass(frozen=True, slots=True)
class RunPage:
    """A page of runs, and where a bounded search stopped.

    Attributes:
        runs: The runs found, newest first.
        searched_to: When the search looked at its budget of runs without filling the
            page, the ``(created_at, run_id)`` of the last run it looked at: the next page
            goes on from there. ``None`` when nothing is left unsearched.
    """

    runs: list[WorkflowRun]
    searched_to: tuple[datetime, str] | None


@dataclass(frozen=True, slots=True)
class RunFilter:
    """What a list of runs is narrowed to (all optional).

    Attributes:
        workflow_name: Runs of this workflow.
        status: Runs in this status.
        since: Runs created at or after this time.
        until: Runs created before this time.
        partition: Runs whose partition key contains this text (a date, a logical
            time, a key). No index serves it: see :func:`page_runs`.
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
    budget: int = SCAN_BUDGET,
) -> RunPage:
    """Up to ``limit`` runs matching ``where``, newest created first, after ``before``.

    ``before`` is the ``(created_at, run_id)`` of the last run of the previous page. A
    filter one index cannot serve (the partition, or workflow and status together) looks
    at ``budget`` runs at most: those of the indexed filters; the page then says where it
    stopped, and the next page goes on from there.
    """
    indexed: list[sa.ColumnElement[bool]] = [runs_t.c.workspace_id == workspace_id]
    if where.workflow_name:
        indexed.append(runs_t.c.workflow_name == where.workflow_name)
    status = WorkflowStatus(where.status).value if where.status else None
    if status and not where.workflow_name:
        indexed.append(runs_t.c.status == status)
    if where.since:
        indexed.append(runs_t.c.created_at >= where.since)
    if where.until:
        indexed.append(runs_t.c.created_at < where.until)
    if before is not None:
        at, run_id = before
        indexed.append(
            sa.or_(
                runs_t.c.created_at < at,
                sa.and_(runs_t.c.created_at == at, runs_t.c.run_id < run_id),
            )
        )
    newest = (runs_t.c.created_at.desc(), runs_t.c.run_id.desc())
    if not (where.partition or (status and where.workflow_name)):
        query = sa.select(runs_t).where(*indexed).order_by(*newest).limit(limit)
        return RunPage([row_to_run(row) for row in conn.execute(query).mappings()], None)
    # One pass over the candidates' few columns, the rest filtered here (the same on
    # every backend: a partition matches case-sensitively), then the matches' rows.
    scanned = conn.execute(
        sa.select(runs_t.c.run_id, runs_t.c.created_at, runs_t.c.status, runs_t.c.partition_key)
        .where(*indexed)
        .order_by(*newest)
        .limit(budget)
    ).all()
    matched = [
        row.run_id
        for row in scanned
        if (not status or row.status == status)
        and (not where.partition or where.partition in (row.partition_key or ""))
    ][:limit]
    runs = []
    if matched:
        query = sa.select(runs_t).where(runs_t.c.run_id.in_(matched)).order_by(*newest)
        runs = [row_to_run(row) for row in conn.execute(query).mappings()]
    if len(runs) >= limit or len(scanned) < budget:
        return RunPage(runs, None)
    return RunPage(runs, (scanned[-1].created_at, scanned[-1].run_id))


def child_runs(
    conn: sa.Connection, workspace_id: uuid.UUID, run_id: str, limit: int
) -> list[WorkflowRun]:
    """The first ``limit`` runs started by ``run_id``'s steps, oldest first.

    Most runs have no parent, so SQLite's statistics rate ``idx_workflow_runs_parent``
    as useless (one value, NULL, for nearly every row) and it would scan the table
    instead: ``likelihood`` tells it that a parent matches few runs.
    """
    is_child: sa.ColumnElement[bool] = runs_t.c.parent_run_id == run_id
    if conn.dialect.name == "sqlite":
        is_child = sa.func.likelihood(is_child, sa.literal_column("0.000001"))
    query = (
        sa.select(runs_t)
        .where(is_child, runs_t.c.workspace_id == workspace_id)
        .order_by(runs_t.c.created_at, runs_t.c.run_id)
        .limit(limit)
    )
    return [row_to_run(row) for row in conn.execute(query).mappings()]


def step_page(conn: sa.Connection, run_id: str, limit: int) -> tuple[list[StepRun], int]:
    """The first ``limit`` step attempts of a run in execution order, and how many it has.

    The caller has checked that the run is its workspace's. On SQLite the rows come in
    ``idx_workflow_steps_run``'s order (by position, then as written), so that a map
    step's thousands of attempts are not all sorted to keep a few hundred.
    """
    order: tuple[sa.ColumnElement[Any], ...] = (steps_t.c.step_order,)
    if conn.dialect.name != "sqlite":
        order += (steps_t.c.attempt, steps_t.c.step_id)
    query = sa.select(steps_t).where(steps_t.c.run_id == run_id).order_by(*order).limit(limit)
    steps = [row_to_step(row) for row in conn.execute(query).mappings()]
    steps.sort(key=lambda step: (step.step_order, step.attempt, step.step_id))
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
