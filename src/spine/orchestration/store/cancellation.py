"""Cancellation of runs, the last layer of the run store."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.orchestration.errors import RunFinished, RunNotFound
from spine.orchestration.history.store import (
    add_event,
    row_to_run,
)
from spine.orchestration.history.types import WorkflowRun, WorkflowStatus
from spine.orchestration.store.statements import ACTIVE
from spine.orchestration.store.transitions import RunTransitions, StepFailure


class RunStore(RunTransitions):
    """Durable run state: create, claim, lease, step transitions, finish, cancel."""

    def request_cancel(self, run_id: str) -> WorkflowRun:
        """Cancel a run and its active child runs.

        A run no worker holds (PENDING, or parked in a wait) is CANCELLED at once; a run
        being executed is marked, and its worker stops it before the next step or item.

        Raises:
            RunNotFound: If there is no such run.
            RunFinished: If it already finished.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> WorkflowRun:
            row = (
                conn.execute(sa.select(runs_t).where(runs_t.c.run_id == run_id)).mappings().first()
            )
            if row is None:
                raise RunNotFound(run_id)
            if row["status"] not in ACTIVE:
                raise RunFinished(run_id, row["status"])
            self._cancel_tree(conn, run_id, now)
            fresh = (
                conn.execute(sa.select(runs_t).where(runs_t.c.run_id == run_id)).mappings().one()
            )
            return row_to_run(fresh)

        return self.db.run_write(work)

    def _cancel_tree(self, conn: sa.Connection, run_id: str, now: datetime) -> None:
        row = (
            conn.execute(
                sa.select(
                    runs_t.c.status,
                    runs_t.c.lease_owner,
                    runs_t.c.lease_expires_at,
                    runs_t.c.cancel_requested_at,
                ).where(runs_t.c.run_id == run_id)
            )
            .mappings()
            .one()
        )
        if row["status"] not in ACTIVE:
            return
        held = row["lease_owner"] is not None and (
            row["lease_expires_at"] is None or row["lease_expires_at"] >= now
        )
        if row["cancel_requested_at"] is None:
            conn.execute(
                sa.update(runs_t)
                .where(runs_t.c.run_id == run_id)
                .values(cancel_requested_at=now, updated_at=now)
            )
            add_event(
                conn,
                run_id=run_id,
                event_type="run.cancel_requested",
                key=f"run:{run_id}:cancel_requested",
                now=now,
            )
        if not held:
            self._close_open_steps(conn, run_id, now)
            self._finish(
                conn,
                run_id,
                WorkflowStatus.CANCELLED,
                now,
                None,
                StepFailure(error="cancelled", category="CANCELLED", retryable=False),
            )
        children = (
            conn.execute(
                sa.select(runs_t.c.run_id).where(
                    runs_t.c.parent_run_id == run_id, runs_t.c.status.in_(ACTIVE)
                )
            )
            .scalars()
            .all()
        )
        for child in children:
            self._cancel_tree(conn, child, now)

    def _close_open_steps(self, conn: sa.Connection, run_id: str, now: datetime) -> None:
        self._fail_open_attempts(
            conn,
            run_id,
            now,
            error="cancelled",
            category="CANCELLED",
            execution_status="CANCELLED",
        )

    def cancel_now(self, owner: str, run_id: str) -> WorkflowRun:
        """The holding worker stops a run whose cancellation was asked."""
        now = self.clock.now()

        def work(conn: sa.Connection) -> WorkflowRun:
            self._guard(conn, run_id, owner, now)
            self._close_open_steps(conn, run_id, now)
            return self._finish(
                conn,
                run_id,
                WorkflowStatus.CANCELLED,
                now,
                None,
                StepFailure(error="cancelled", category="CANCELLED", retryable=False),
            )

        return self.db.run_write(work)
