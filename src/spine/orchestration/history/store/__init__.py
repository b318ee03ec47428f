"""Spec 002's ``HistoryStore``: persistent workflow run, step and event history.

It reads and writes spec 000's tables (``core_workflow_runs``, ``core_workflow_steps``,
``core_workflow_events``); :class:`StepRun`'s spec 002 field names map to spec 000's
columns (``input_params`` → ``params``, ``output_data`` → ``outputs``,
``records_processed`` → ``row_count``). Every status change saved here writes its event
in the same transaction, and a status entered again (a run sent back to PENDING) gets an
event of its own. Defects of spec 002 fixed here: statistics use ``duration_ms`` (not
SQLite's ``julianday``), and retention deletes terminal runs only, in batches.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.clock import Clock
from spine.core.errors import InvalidInput
from spine.core.ids import new_id
from spine.core.storage import Database, DatabaseAdapter
from spine.core.storage.clock import DatabaseClock
from spine.core.storage.dialect_sql import insert_if_absent
from spine.core.storage.schema.workflow_history import core_workflow_events as events_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.core.storage.schema.workflow_history import core_workflow_step_logs as logs_t
from spine.core.storage.schema.workflow_history import core_workflow_steps as steps_t
from spine.orchestration.errors import RunNotFound
from spine.orchestration.history.store.dashboard import DashboardReads, RunFilter, RunPage
from spine.orchestration.history.store.events import add_event, transition_key
from spine.orchestration.history.store.guards import require_run as _require_run
from spine.orchestration.history.store.retention import (
    count_prunable,
    delete_batch,
    prunable,
)
from spine.orchestration.history.store.rows import (
    STEP_FINISH_COLUMNS,
    row_to_event,
    row_to_run,
    row_to_step,
    row_to_step_log,
    run_values,
    step_values,
)
from spine.orchestration.history.store.statistics import (
    count_run_change,
    read_run_statistics,
    rebuild_run_statistics,
)
from spine.orchestration.history.types import (
    RunStatistics,
    StepLog,
    StepRun,
    WorkflowEvent,
    WorkflowRun,
    WorkflowStatus,
)
from spine.tenancy import OPERATOR, Actor
from spine.tenancy.bound import ActorBound

__all__ = [
    "HistoryStore",
    "RunFilter",
    "RunPage",
    "add_event",
    "count_run_change",
    "row_to_event",
    "row_to_run",
    "row_to_step",
    "run_values",
    "step_values",
    "transition_key",
]

log = logging.getLogger(__name__)

_RUN_UPDATABLE = (
    "status",
    "started_at",
    "completed_at",
    "duration_ms",
    "params",
    "outputs",
    "error",
    "error_category",
    "error_retryable",
    "metrics",
    "total_steps",
    "completed_steps",
    "failed_steps",
    "skipped_steps",
    "capture_id",
    "updated_at",
)
_STEP_UPDATABLE = (*STEP_FINISH_COLUMNS, "execution_id")


def _database(db: Database | DatabaseAdapter) -> Database:
    return db.database if isinstance(db, DatabaseAdapter) else db


def _save_row(
    conn: sa.Connection,
    table: sa.Table,
    key: str,
    values: Mapping[str, Any],
    update: tuple[str, ...],
) -> tuple[str, int | None] | None:
    """Insert or update one row; return its status and duration before (``None`` if new).

    Insert-if-absent first, then update under ``SELECT ... FOR UPDATE``: on PostgreSQL two
    transactions saving the same run both see the other's change, so a status change
    gives one event however the writers interleave (SQLite's ``BEGIN IMMEDIATE``
    serialises writers anyway).
    """
    if insert_if_absent(conn, table, values, key=[key]):
        return None
    column = table.c[key]
    mine = [column == values[key]]
    if "workspace_id" in values:
        # A run of another workspace is not this one's to update: not found.
        mine.append(table.c.workspace_id == values["workspace_id"])
    found = conn.execute(
        sa.select(table.c.status, table.c.duration_ms).where(*mine).with_for_update()
    ).first()
    if found is None:
        raise RunNotFound(str(values[key]))
    status, duration = found
    changes = {name: values[name] for name in update}
    conn.execute(sa.update(table).where(column == values[key]).values(changes))
    return str(status), duration


class HistoryStore(DashboardReads, ActorBound):
    """Persistent storage for workflow execution history.

    Every method reads and writes only the runs of its actor's workspace (the default
    workspace for spec 002's ``HistoryStore(db)``); a run of another workspace behaves
    as a missing one.

    Args:
        db: The specification's :class:`DatabaseAdapter`, or a :class:`Database`.
        clock: Where "now" comes from (retention cut-offs, event times); by default
            the database's clock, which every process sharing the database agrees on.
        actor: Who reads and writes, and in which workspace.
    """

    def __init__(
        self, db: Database | DatabaseAdapter, clock: Clock | None = None, *, actor: Actor = OPERATOR
    ) -> None:
        self.db = _database(db)
        self.clock: Clock = clock or DatabaseClock(self.db)
        self.actor = actor

    def _mine(self) -> sa.ColumnElement[bool]:
        """The condition on runs: of this store's workspace."""
        return runs_t.c.workspace_id == self.actor.workspace_id

    def _my_run(self, run_id: str) -> sa.ScalarSelect[Any]:
        """``run_id`` if it is this workspace's run, for its children's queries.

        Narrowed to the one run: a subquery of every run of the workspace made SQLite
        build a list of a million ids for each step query.
        """
        return (
            sa.select(runs_t.c.run_id)
            .where(runs_t.c.run_id == run_id, self._mine())
            .scalar_subquery()
        )

    # ----------------------------------------------------------------- runs

    def save_workflow_run(self, run: WorkflowRun) -> None:
        """Insert or update a run; a status change also appends a ``run.<status>`` event."""
        now = self.clock.now()
        values = run_values(run, now)
        values["workspace_id"] = self.workspace_id

        def work(conn: sa.Connection) -> None:
            before = _save_row(conn, runs_t, "run_id", values, _RUN_UPDATABLE)
            previous = before[0] if before else None
            count_run_change(
                conn,
                workspace_id=self.workspace_id,
                workflow_name=run.workflow_name,
                created_at=run.created_at,
                old=before,
                new=(values["status"], values["duration_ms"]),
            )
            if previous != values["status"]:
                event_type = f"run.{values['status'].lower()}"
                key = transition_key(
                    conn,
                    f"run:{run.run_id}:{values['status']}",
                    run_id=run.run_id,
                    event_type=event_type,
                )
                add_event(
                    conn,
                    run_id=run.run_id,
                    event_type=event_type,
                    key=key,
                    now=now,
                    payload={"old": previous, "new": values["status"]},
                )

        self.db.run_write(work)

    def get_workflow_run(self, run_id: str) -> WorkflowRun | None:
        """Return the run with ``run_id``, or ``None``."""
        row = self.db.run_read(
            lambda conn: (
                conn.execute(sa.select(runs_t).where(runs_t.c.run_id == run_id, self._mine()))
                .mappings()
                .first()
            )
        )
        return row_to_run(row) if row else None

    def list_workflow_runs(
        self,
        workflow_name: str | None = None,
        domain: str | None = None,
        status: WorkflowStatus | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[WorkflowRun]:
        """List runs, newest first, filtered by name, domain, status and start time."""
        query = (
            sa.select(runs_t)
            .where(*self._filters(workflow_name, domain, status, since, until))
            .order_by(runs_t.c.created_at.desc(), runs_t.c.run_id.desc())
            .limit(limit)
            .offset(offset)
        )
        rows = self.db.run_read(lambda conn: conn.execute(query).mappings().all())
        return [row_to_run(row) for row in rows]

    def page_workflow_runs(
        self,
        *,
        workflow_name: str | None = None,
        status: WorkflowStatus | str | None = None,
        domain: str | None = None,
        triggered_by: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_run_id: str | None = None,
        limit: int = 50,
    ) -> list[WorkflowRun]:
        """One page of runs, newest first by id (a ULID), after ``after_run_id``.

        Keyed by the id, so that a page continues where the last ended whatever was
        started meanwhile (the API's cursor pages).
        """
        clauses = self._filters(workflow_name, domain, status, since, until)
        if triggered_by:
            clauses.append(runs_t.c.triggered_by == triggered_by)
        if after_run_id is not None:
            clauses.append(runs_t.c.run_id < after_run_id)
        query = sa.select(runs_t).where(*clauses).order_by(runs_t.c.run_id.desc()).limit(limit)
        rows = self.db.run_read(lambda conn: conn.execute(query).mappings().all())
        return [row_to_run(row) for row in rows]

    def count_workflow_runs(
        self,
        workflow_name: str | None = None,
        status: WorkflowStatus | str | None = None,
        since: datetime | None = None,
        domain: str | None = None,
        until: datetime | None = None,
    ) -> int:
        """Count runs matching the filters."""
        query = (
            sa.select(sa.func.count())
            .select_from(runs_t)
            .where(*self._filters(workflow_name, domain, status, since, until))
        )
        return int(self.db.run_read(lambda conn: conn.execute(query).scalar_one()))

    def _filters(
        self,
        workflow_name: str | None,
        domain: str | None,
        status: WorkflowStatus | str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = [self._mine()]
        if workflow_name:
            clauses.append(runs_t.c.workflow_name == workflow_name)
        if domain:
            clauses.append(runs_t.c.domain == domain)
        if status:
            clauses.append(runs_t.c.status == WorkflowStatus(status).value)
        if since:
            clauses.append(runs_t.c.started_at >= since)
        if until:
            clauses.append(runs_t.c.started_at <= until)
        return clauses

    # ---------------------------------------------------------------- steps

    def save_step_run(self, step: StepRun) -> None:
        """Insert or update a step attempt; a status change also appends its event."""
        now = self.clock.now()
        values = step_values(step)

        def work(conn: sa.Connection) -> None:
            _require_run(conn, step.run_id, self.workspace_id)
            before = _save_row(conn, steps_t, "step_id", values, _STEP_UPDATABLE)
            previous = before[0] if before else None
            if previous != values["status"]:
                event_type = f"step.{values['status'].lower()}"
                key = transition_key(
                    conn,
                    f"step:{step.step_id}:{values['status']}",
                    run_id=step.run_id,
                    event_type=event_type,
                    step_id=step.step_id,
                )
                add_event(
                    conn,
                    run_id=step.run_id,
                    step_id=step.step_id,
                    event_type=event_type,
                    key=key,
                    now=now,
                    payload={
                        "step_name": step.step_name,
                        "attempt": step.attempt,
                        "old": previous,
                        "new": values["status"],
                    },
                )

        self.db.run_write(work)

    def get_step_runs(self, run_id: str) -> list[StepRun]:
        """Return every step attempt of a run, in execution order."""
        query = (
            sa.select(steps_t)
            .where(steps_t.c.run_id == run_id, steps_t.c.run_id.in_(self._my_run(run_id)))
            .order_by(steps_t.c.step_order, steps_t.c.attempt, steps_t.c.step_id)
        )
        rows = self.db.run_read(lambda conn: conn.execute(query).mappings().all())
        return [row_to_step(row) for row in rows]

    def get_step_logs(self, run_id: str, step_name: str | None = None) -> list[StepLog]:
        """The ``ctx.log`` lines of a run's attempts, in the order the attempts started.

        ``step_name`` keeps one step's attempts (and, for a map, its items' ``name[i]``).
        """
        query = (
            sa.select(logs_t)
            .where(logs_t.c.run_id == run_id, logs_t.c.run_id.in_(self._my_run(run_id)))
            .order_by(logs_t.c.step_id)
        )
        if step_name is not None:
            query = query.where(
                sa.or_(
                    logs_t.c.step_name == step_name,
                    logs_t.c.step_name.startswith(f"{step_name}[", autoescape=True),
                )
            )
        rows = self.db.run_read(lambda conn: conn.execute(query).mappings().all())
        return [row_to_step_log(row) for row in rows]

    # --------------------------------------------------------------- events

    def record_event(
        self,
        run_id: str,
        event_type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        step_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Append an event; return ``False`` if its idempotency key was already recorded.

        Without an ``idempotency_key`` every call appends a new event.
        """
        now = self.clock.now()
        key = idempotency_key or f"event:{run_id}:{new_id()}"

        def work(conn: sa.Connection) -> bool:
            _require_run(conn, run_id, self.workspace_id)
            return add_event(
                conn,
                run_id=run_id,
                step_id=step_id,
                event_type=event_type,
                key=key,
                now=now,
                payload=payload,
            )

        return self.db.run_write(work)

    def get_events(self, run_id: str) -> list[WorkflowEvent]:
        """Return a run's events in the order they were written."""
        query = (
            sa.select(events_t)
            .where(events_t.c.run_id == run_id, events_t.c.run_id.in_(self._my_run(run_id)))
            .order_by(events_t.c.id)
        )
        rows = self.db.run_read(lambda conn: conn.execute(query).mappings().all())
        return [row_to_event(row) for row in rows]

    # ------------------------------------------------------------ retention

    def delete_old_runs(self, days: int, *, batch_size: int = 500) -> int:
        """Delete the workspace's finished runs created ``days`` ago, with their children.

        Runs still PENDING or RUNNING are kept whatever their age. Deletes go in batches
        of ``batch_size`` runs, each its own short transaction, so workers writing at the
        same time are never blocked for long. Returns the number of runs deleted.

        Raises:
            InvalidInput: If ``days`` is negative or ``batch_size`` is not positive.
        """
        if batch_size < 1:
            # A batch of 0 would select nothing and loop for ever.
            raise InvalidInput("batch_size must be 1 or more")
        condition = prunable(self.workspace_id, self.clock.now(), days)
        total = 0
        while True:
            selected, deleted = self.db.run_write(
                lambda conn: delete_batch(conn, condition, self.workspace_id, batch_size)
            )
            total += deleted
            if selected < batch_size:
                break
        log.info("deleted %d workflow runs older than %d days", total, days)
        return total

    def count_old_runs(self, days: int) -> dict[str, int]:
        """Count what :meth:`delete_old_runs` with ``days`` would delete now.

        Returns ``runs``, ``steps`` and ``events``: what ``spine runs prune`` shows before
        it asks. A run that finishes or ages between the count and the delete changes the
        figure; the delete's own count is the one that happened.

        Raises:
            InvalidInput: If ``days`` is negative.
        """
        condition = prunable(self.workspace_id, self.clock.now(), days)
        return self.db.run_read(lambda conn: count_prunable(conn, condition))

    # ----------------------------------------------------------- statistics

    def run_statistics(
        self, workflow_name: str | None = None, since: datetime | None = None
    ) -> RunStatistics:
        """Counts per status and mean duration of runs, by workflow and creation time.

        Whole days come from ``core_workflow_run_stats``; with ``since``, the runs of its
        own day created at or after it come from the runs table (an index range).
        """
        return self.db.run_read(
            lambda conn: read_run_statistics(conn, self.workspace_id, workflow_name, since)
        )

    def rebuild_run_statistics(self) -> None:
        """Recount ``core_workflow_run_stats`` from the runs (after rows written by hand).

        Maintenance of the whole database: every workspace's counts are rebuilt.
        """
        self.db.run_write(rebuild_run_statistics)

    def get_run_statistics(
        self, workflow_name: str | None = None, since: datetime | None = None
    ) -> dict[str, Any]:
        """Return spec 002's statistics dict.

        Keys: total_runs, completed, failed, success_rate, avg_duration_seconds, then
        cancelled, running and pending.
        """
        return self.run_statistics(workflow_name, since).to_dict()
