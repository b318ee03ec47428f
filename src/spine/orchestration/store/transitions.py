"""The durable engine's transitions, on top of spec 002's :class:`HistoryStore`.

Every method is one transaction that changes a run or a step and appends the matching
``core_workflow_events`` row with a deterministic idempotency key, so a transition is
recorded once however often it is retried. Methods that act for a worker check, in the
same transaction, that the worker still holds the run's lease: a worker that lost its
lease (it stalled and another took over) cannot write over the new holder's progress.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from spine.core.clock import Clock
from spine.core.events import EventType, Listener, Publisher
from spine.core.ids import new_id
from spine.core.storage import Database, DatabaseAdapter
from spine.core.storage.schema.baseline import core_executions as executions_t
from spine.core.storage.schema.workflow_history import core_workflow_events as events_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.core.storage.schema.workflow_history import core_workflow_steps as steps_t
from spine.orchestration.errors import LeaseLost, RunCancelled, RunNotFound
from spine.orchestration.events import run_finished
from spine.orchestration.history.store import (
    HistoryStore,
    add_event,
    count_run_change,
    row_to_run,
    row_to_step,
    run_values,
)
from spine.orchestration.history.types import StepRun, StepStatus, WorkflowRun, WorkflowStatus
from spine.orchestration.store.statements import (
    _COUNTERS,
    _RENEW,
    ACTIVE,
    INTERRUPTED,
    INTERRUPTIBLE_TYPES,
    _StepWrites,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A run this worker now holds, and whether it took it over from a dead worker."""

    run: WorkflowRun
    owner: str
    taken_over: bool
    cancel_requested: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFailure:
    """How a step attempt failed."""

    error: str
    category: str
    retryable: bool


class RunTransitions(HistoryStore):
    """Durable run state: create, claim, lease, step transitions, finish.

    ``listeners`` get ``run.finished`` in the transaction that finishes a run (see
    :mod:`spine.core.events`).
    """

    def __init__(
        self,
        db: Database | DatabaseAdapter,
        clock: Clock | None = None,
        *,
        listeners: Sequence[Listener] = (),
    ) -> None:
        super().__init__(db, clock)
        self.listeners = Publisher(listeners)

    # ------------------------------------------------------------- creation

    def create_run(self, run: WorkflowRun) -> None:
        """Insert a PENDING run and its ``run.created`` event."""
        now = self.clock.now()
        self.db.run_write(lambda conn: insert_run(conn, run, now))

    # -------------------------------------------------------------- leasing

    def claim(
        self,
        owner: str,
        lease_seconds: float,
        *,
        run_id: str | None = None,
        workflows: Sequence[str] | None = None,
    ) -> Claim | None:
        """Take a due run (or run ``run_id``) that no live worker holds.

        A run is due when it is PENDING, or RUNNING but parked (a wait, a back-off) past
        its ``wake_at``, or RUNNING under an expired lease (its worker died). Taking over
        from a dead worker records the attempts it left RUNNING as FAILED, so the step's
        retry policy decides what happens next. On PostgreSQL the candidate row is locked
        with ``FOR UPDATE SKIP LOCKED``, so concurrent workers never block each other.
        """
        now = self.clock.now()
        expires = now + timedelta(seconds=lease_seconds)

        def work(conn: sa.Connection) -> Claim | None:
            query = (
                sa.select(runs_t)
                .where(
                    runs_t.c.status.in_(ACTIVE),
                    sa.or_(runs_t.c.wake_at.is_(None), runs_t.c.wake_at <= now),
                    sa.or_(runs_t.c.lease_owner.is_(None), runs_t.c.lease_expires_at < now),
                )
                .order_by(runs_t.c.created_at)
                .limit(1)
            )
            if run_id is not None:
                query = query.where(runs_t.c.run_id == run_id)
            if workflows is not None:
                # An empty list matches nothing: a worker that knows no workflow must
                # not claim (and fail) runs meant for workers that do.
                query = query.where(runs_t.c.workflow_name.in_(list(workflows)))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            taken_over = row["lease_owner"] is not None
            first_start = row["status"] == WorkflowStatus.PENDING.value
            conn.execute(
                sa.update(runs_t)
                .where(runs_t.c.run_id == row["run_id"])
                .values(
                    status=WorkflowStatus.RUNNING.value,
                    lease_owner=owner,
                    lease_expires_at=expires,
                    wake_at=None,
                    started_at=row["started_at"] or now,
                    updated_at=now,
                )
            )
            rid = row["run_id"]
            if first_start:
                count_run_change(
                    conn,
                    workflow_name=row["workflow_name"],
                    created_at=row["created_at"],
                    old=(WorkflowStatus.PENDING.value, None),
                    new=(WorkflowStatus.RUNNING.value, None),
                )
                add_event(
                    conn,
                    run_id=rid,
                    event_type="run.started",
                    key=f"run:{rid}:started",
                    now=now,
                    payload={"worker": owner},
                )
            else:
                add_event(
                    conn,
                    run_id=rid,
                    event_type="run.resumed",
                    key=f"run:{rid}:claimed:{owner}",
                    now=now,
                    payload={
                        "worker": owner,
                        "previous_worker": row["lease_owner"],
                        "taken_over": taken_over,
                    },
                )
            if taken_over:
                self._fail_interrupted(conn, rid, row["lease_owner"], now)
            fresh = conn.execute(sa.select(runs_t).where(runs_t.c.run_id == rid)).mappings().one()
            return Claim(
                run=row_to_run(fresh),
                owner=owner,
                taken_over=taken_over,
                cancel_requested=fresh["cancel_requested_at"] is not None,
            )

        return self.db.run_write(work)

    def _fail_interrupted(
        self, conn: sa.Connection, run_id: str, previous: str, now: datetime
    ) -> None:
        message = f"{INTERRUPTED} worker {previous} stopped renewing its lease"
        self._fail_open_attempts(
            conn,
            run_id,
            now,
            error=message,
            category="UNAVAILABLE",
            execution_status="FAILED",
            only_types=INTERRUPTIBLE_TYPES,
            payload={"interrupted": True},
        )

    def _fail_open_attempts(
        self,
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
                self._finish_execution(
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

    def renew_lease(
        self,
        run_id: str,
        owner: str,
        lease_seconds: float,
        *,
        cancel: threading.Event | None = None,
    ) -> bool:
        """Extend this worker's lease; return ``False`` if it no longer holds the run.

        A cancellation request found on the way is signalled on ``cancel``.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> bool:
            row = conn.execute(
                _RENEW,
                {
                    "g_run": run_id,
                    "g_owner": owner,
                    "g_expires": now + timedelta(seconds=lease_seconds),
                },
            ).first()
            if row is None:
                return False
            if row[0] is not None and cancel is not None:
                cancel.set()
            return True

        return self.db.run_write(work)

    def park(
        self,
        run_id: str,
        owner: str,
        wake_at: datetime,
        reason: str,
        *,
        child_run_id: str | None = None,
    ) -> None:
        """Release the run until ``wake_at`` (a wait, a back-off); no worker holds it.

        A run parked for its child run ``child_run_id`` is due at once if the child has
        finished meanwhile; otherwise the child wakes it when it finishes.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> None:
            nonlocal wake_at
            self._guard(conn, run_id, owner, now)
            if child_run_id is not None:
                # Read after the guard locked this run: a child finishing concurrently
                # either committed already (seen here) or waits for this transaction
                # and then wakes the parked run (see _finish); no wake-up is lost.
                child_status = conn.execute(
                    sa.select(runs_t.c.status).where(runs_t.c.run_id == child_run_id)
                ).scalar_one_or_none()
                if child_status not in ACTIVE:
                    wake_at = min(wake_at, now)
            conn.execute(
                sa.update(runs_t)
                .where(runs_t.c.run_id == run_id)
                .values(lease_owner=None, lease_expires_at=None, wake_at=wake_at, updated_at=now)
            )
            add_event(
                conn,
                run_id=run_id,
                event_type="run.parked",
                key=f"run:{run_id}:parked:{owner}",
                now=now,
                payload={"wake_at": wake_at.isoformat(), "reason": reason},
            )

        self.db.run_write(work)

    def release(self, run_id: str, owner: str) -> None:
        """Give the run back at once (a worker shutting down); another may claim it now."""
        now = self.clock.now()

        def work(conn: sa.Connection) -> None:
            released = conn.execute(
                sa.update(runs_t)
                .where(runs_t.c.run_id == run_id, runs_t.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None, wake_at=None, updated_at=now)
            ).rowcount
            if released:
                add_event(
                    conn,
                    run_id=run_id,
                    event_type="run.released",
                    key=f"run:{run_id}:released:{owner}",
                    now=now,
                    payload={"worker": owner},
                )

        self.db.run_write(work)

    @functools.cached_property
    def _writes(self) -> _StepWrites:
        return _StepWrites(self.db.engine.dialect)

    def _guard(
        self,
        conn: sa.Connection,
        run_id: str,
        owner: str,
        now: datetime,
        *,
        counter: str | None = None,
        cancel: threading.Event | None = None,
    ) -> bool:
        """Check the lease in this transaction; return whether cancellation was asked.

        ``counter`` (``completed_steps`` ...) is incremented by the same statement; a
        cancellation request is also signalled on ``cancel``.

        Raises:
            LeaseLost: If ``owner`` no longer holds the run.
        """
        row = self._writes.guard(conn, counter, {"g_run": run_id, "g_owner": owner, "g_now": now})
        if row is None:
            raise LeaseLost(run_id)
        requested = row[0] is not None
        if requested and cancel is not None:
            cancel.set()
        return requested

    def cancel_requested(self, run_id: str, owner: str) -> bool:
        """Whether cancellation was asked; raises :class:`LeaseLost` if the lease is gone."""
        now = self.clock.now()
        return self.db.run_write(lambda conn: self._guard(conn, run_id, owner, now))

    # ---------------------------------------------------------------- steps

    def steps_of(self, run_id: str) -> list[StepRun]:
        """Every attempt of every step of the run, in order."""
        return self.get_step_runs(run_id)

    def start_step(
        self,
        owner: str,
        step: StepRun,
        *,
        pipeline_name: str | None = None,
        cancel: threading.Event | None = None,
        completing: StepRun | None = None,
        completing_outputs: Mapping[str, Any] | None = None,
        completing_counts: bool = True,
    ) -> StepRun:
        """Record a step attempt RUNNING (and its execution row for a pipeline step).

        ``completing`` is the previous step, done but not yet recorded: its COMPLETED row
        and event are written in the same transaction, so a sequence of steps costs one
        commit per step instead of two (each change still commits with its event).

        Raises:
            LeaseLost: If this worker no longer holds the run; nothing is written.
            RunCancelled: If cancellation was asked; ``completing`` is recorded, the new
                attempt is not started.
        """
        now = self.clock.now()
        step.status = StepStatus.RUNNING
        step.started_at = now
        counter = None
        if completing is not None:
            counter = self._prepare_finish(
                completing,
                StepStatus.COMPLETED,
                now,
                completing_outputs,
                None,
                None,
                completing_counts,
            )

        def work(conn: sa.Connection) -> StepRun | None:
            if completing is None:
                self._guard(conn, step.run_id, owner, now, cancel=cancel)
            elif self._write_finish(
                conn, owner, completing, StepStatus.COMPLETED, now, counter, None, None, cancel
            ):
                return None  # commit the completion; start nothing in a cancelled run
            if pipeline_name is not None:
                step.execution_id = new_id()
                domain, partition_key = conn.execute(
                    sa.select(runs_t.c.domain, runs_t.c.partition_key).where(
                        runs_t.c.run_id == step.run_id
                    )
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
            self._writes.start(
                conn,
                {
                    "step_id": step.step_id,
                    "run_id": step.run_id,
                    "step_name": step.step_name,
                    "step_type": step.step_type,
                    "step_order": step.step_order,
                    "status": StepStatus.RUNNING.value,
                    "started_at": now,
                    "params": step.input_params,
                    "attempt": step.attempt,
                    "max_attempts": step.max_attempts,
                    "execution_id": step.execution_id,
                },
            )
            self._writes.event(
                conn,
                run_id=step.run_id,
                step_id=step.step_id,
                event_type="step.started",
                key=f"step:{step.step_id}:RUNNING",
                now=now,
                payload={"step_name": step.step_name, "attempt": step.attempt},
            )
            return step

        started = self.db.run_write(work)
        if started is None:
            raise RunCancelled(step.run_id)
        return started

    def start_child(self, owner: str, step: StepRun, child: WorkflowRun) -> None:
        """Create ``child`` as a PENDING run and save its id on the parent's RUNNING ``step``.

        One transaction, so that a worker dying in between can neither leave a child
        run its parent does not know of nor start a second one on resume.

        Raises:
            LeaseLost: If this worker no longer holds the parent run; nothing is written.
        """
        now = self.clock.now()
        step.input_params = {**step.input_params, "child_run_id": child.run_id}

        def work(conn: sa.Connection) -> None:
            self._guard(conn, step.run_id, owner, now)
            insert_run(conn, child, now)
            conn.execute(
                sa.update(steps_t)
                .where(steps_t.c.step_id == step.step_id)
                .values(params=step.input_params)
            )
            add_event(
                conn,
                run_id=step.run_id,
                step_id=step.step_id,
                event_type="step.child_started",
                key=f"step:{step.step_id}:child",
                now=now,
                payload={"step_name": step.step_name, "child_run_id": child.run_id},
            )

        self.db.run_write(work)

    def finish_step(
        self,
        owner: str,
        step: StepRun,
        status: StepStatus,
        *,
        outputs: Mapping[str, Any] | None = None,
        failure: StepFailure | None = None,
        counts_for_run: bool = True,
        metrics: Mapping[str, Any] | None = None,
        retry_in: float | None = None,
        cancel: threading.Event | None = None,
    ) -> StepRun:
        """Record a step attempt COMPLETED, FAILED or SKIPPED, with the run's counters.

        ``counts_for_run`` is false for map items (the map step counts as one) and for a
        failed attempt that will be retried (the step has not failed yet). ``retry_in``
        says that another attempt follows after that many seconds; it is recorded in the
        attempt's one ``step.failed`` event.

        Raises:
            LeaseLost: If this worker no longer holds the run; nothing is written.
        """
        now = self.clock.now()
        counter = self._prepare_finish(step, status, now, outputs, failure, metrics, counts_for_run)
        self.db.run_write(
            lambda conn: self._write_finish(
                conn, owner, step, status, now, counter, failure, retry_in, cancel
            )
        )
        return step

    @staticmethod
    def _prepare_finish(
        step: StepRun,
        status: StepStatus,
        now: datetime,
        outputs: Mapping[str, Any] | None,
        failure: StepFailure | None,
        metrics: Mapping[str, Any] | None,
        counts_for_run: bool,
    ) -> str | None:
        """Fill in the step's end; return the run counter it bumps, if any."""
        step.status = status
        step.completed_at = now
        if step.started_at is None:
            step.started_at = now
        step.duration_ms = int((now - step.started_at).total_seconds() * 1000)
        if outputs is not None:
            step.output_data = dict(outputs)
            rows = outputs.get("row_count", outputs.get("records_processed"))
            if isinstance(rows, int) and not isinstance(rows, bool):
                step.records_processed = rows
        if failure is not None:
            step.error, step.error_category = failure.error, failure.category
        if metrics is not None:
            step.metrics = dict(metrics)
        return _COUNTERS[status] if counts_for_run else None

    def _write_finish(
        self,
        conn: sa.Connection,
        owner: str,
        step: StepRun,
        status: StepStatus,
        now: datetime,
        counter: str | None,
        failure: StepFailure | None,
        retry_in: float | None,
        cancel: threading.Event | None,
    ) -> bool:
        """Write a prepared step end and its event; return whether cancellation was asked."""
        requested = self._guard(conn, step.run_id, owner, now, counter=counter, cancel=cancel)
        values: dict[str, Any] = {
            "status": status.value,
            "completed_at": now,
            "duration_ms": step.duration_ms,
            "outputs": step.output_data,
            "error": step.error,
            "error_category": step.error_category,
            "row_count": step.records_processed,
            "metrics": step.metrics,
            "started_at": step.started_at,
        }
        exists = self._writes.finish(conn, {**values, "b_step_id": step.step_id})
        if not exists:
            conn.execute(
                sa.insert(steps_t).values(
                    step_id=step.step_id,
                    run_id=step.run_id,
                    step_name=step.step_name,
                    step_type=step.step_type,
                    step_order=step.step_order,
                    params=step.input_params,
                    attempt=step.attempt,
                    max_attempts=step.max_attempts,
                    **values,
                )
            )
        if step.execution_id:
            self._finish_execution(
                conn,
                step.execution_id,
                "COMPLETED" if status is StepStatus.COMPLETED else "FAILED",
                step.output_data,
                step.error,
                step.error_category,
                now,
                step.records_processed,
            )
        payload: dict[str, Any] = {"step_name": step.step_name, "attempt": step.attempt}
        if failure is not None:
            payload.update(
                error=failure.error,
                error_category=failure.category,
                retryable=failure.retryable,
            )
        if retry_in is not None:
            payload.update(will_retry=True, retry_in_seconds=round(retry_in, 3))
        self._writes.event(
            conn,
            run_id=step.run_id,
            step_id=step.step_id,
            event_type=f"step.{status.value.lower()}",
            key=f"step:{step.step_id}:{status.value}",
            now=now,
            payload=payload,
        )
        return requested

    @staticmethod
    def _finish_execution(
        conn: sa.Connection,
        execution_id: str,
        status: str,
        result: Mapping[str, Any] | None,
        error: str | None,
        category: str | None,
        now: datetime,
        row_count: int | None = None,
    ) -> None:
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

    # ----------------------------------------------------------------- runs

    def finish_run(
        self,
        owner: str,
        run_id: str,
        status: WorkflowStatus,
        *,
        outputs: Mapping[str, Any] | None = None,
        failure: StepFailure | None = None,
        count_failed_step: bool = False,
    ) -> WorkflowRun:
        """Record the run COMPLETED, FAILED or CANCELLED and release it.

        ``count_failed_step`` adds the failing step to ``failed_steps`` when its last
        attempt was not counted when it was recorded (an attempt interrupted by a dead
        worker, which the step's policy does not retry).

        Raises:
            LeaseLost: If this worker no longer holds the run.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> WorkflowRun:
            self._guard(conn, run_id, owner, now)
            if count_failed_step:
                conn.execute(
                    sa.update(runs_t)
                    .where(runs_t.c.run_id == run_id)
                    .values(failed_steps=runs_t.c.failed_steps + 1)
                )
            return self._finish(conn, run_id, status, now, outputs, failure)

        return self.db.run_write(work)

    def _finish(
        self,
        conn: sa.Connection,
        run_id: str,
        status: WorkflowStatus,
        now: datetime,
        outputs: Mapping[str, Any] | None,
        failure: StepFailure | None,
    ) -> WorkflowRun:
        before = (
            conn.execute(
                sa.select(
                    runs_t.c.workflow_name,
                    runs_t.c.created_at,
                    runs_t.c.status,
                    runs_t.c.duration_ms,
                    runs_t.c.started_at,
                    runs_t.c.parent_run_id,
                ).where(runs_t.c.run_id == run_id)
            )
            .mappings()
            .one()
        )
        parent = before["parent_run_id"]
        if parent is not None:
            self._lock_run(conn, parent)
        duration_ms = int((now - (before["started_at"] or now)).total_seconds() * 1000)
        values: dict[str, Any] = {
            "status": status.value,
            "completed_at": now,
            "updated_at": now,
            "duration_ms": duration_ms,
            "lease_owner": None,
            "lease_expires_at": None,
            "wake_at": None,
        }
        if outputs is not None:
            values["outputs"] = dict(outputs)
        if failure is not None:
            values.update(
                error=failure.error,
                error_category=failure.category,
                error_retryable=failure.retryable,
            )
        conn.execute(sa.update(runs_t).where(runs_t.c.run_id == run_id).values(values))
        count_run_change(
            conn,
            workflow_name=before["workflow_name"],
            created_at=before["created_at"],
            old=(before["status"], before["duration_ms"]),
            new=(status.value, duration_ms),
        )
        payload: dict[str, Any] = {"status": status.value}
        if failure is not None:
            payload.update(error=failure.error, error_category=failure.category)
        add_event(
            conn,
            run_id=run_id,
            event_type=f"run.{status.value.lower()}",
            key=f"run:{run_id}:{status.value}",
            now=now,
            payload=payload,
        )
        if parent is not None:
            self._wake_parent(conn, parent, run_id, now)
        row = conn.execute(sa.select(runs_t).where(runs_t.c.run_id == run_id)).mappings().one()
        finished = row_to_run(row)
        if self.listeners.wanted(EventType.RUN_FINISHED):
            self.listeners.publish(conn, run_finished(finished))
        return finished

    @staticmethod
    def _lock_run(conn: sa.Connection, run_id: str) -> None:
        """Lock a run's row until commit (SQLite's write lock already covers everything)."""
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.select(runs_t.c.run_id).where(runs_t.c.run_id == run_id).with_for_update()
            )

    @staticmethod
    def _wake_parent(conn: sa.Connection, parent: str, child: str, now: datetime) -> None:
        """Make a parent run parked for its finished child due now, instead of polling."""
        woken = conn.execute(
            sa.update(runs_t)
            .where(
                runs_t.c.run_id == parent,
                runs_t.c.status == WorkflowStatus.RUNNING.value,
                runs_t.c.lease_owner.is_(None),
                runs_t.c.wake_at > now,
            )
            .values(wake_at=now, updated_at=now)
        ).rowcount
        if woken:
            add_event(
                conn,
                run_id=parent,
                event_type="run.woken",
                key=f"run:{parent}:woken:{child}",
                now=now,
                payload={"child_run_id": child},
            )

    def next_wake(self) -> datetime | None:
        """The earliest time a parked run becomes due, if any run is parked."""
        query = sa.select(sa.func.min(runs_t.c.wake_at)).where(
            runs_t.c.status.in_(ACTIVE), runs_t.c.wake_at.is_not(None)
        )
        return self.db.run_read(lambda conn: conn.execute(query).scalar_one_or_none())

    def run_row(self, run_id: str) -> WorkflowRun:
        """The run with ``run_id``.

        Raises:
            RunNotFound: If there is none.
        """
        run = self.get_workflow_run(run_id)
        if run is None:
            raise RunNotFound(run_id)
        return run

    def lease_owner(self, run_id: str) -> str | None:
        """Who holds the run's lease now (``None`` if nobody does)."""
        query = sa.select(runs_t.c.lease_owner).where(runs_t.c.run_id == run_id)
        return self.db.run_read(lambda conn: conn.execute(query).scalar_one_or_none())

    def wake_at_of(self, run_id: str) -> datetime | None:
        """When a parked run becomes due (``None`` if it is not parked)."""
        query = sa.select(runs_t.c.wake_at).where(runs_t.c.run_id == run_id)
        return self.db.run_read(lambda conn: conn.execute(query).scalar_one_or_none())

    def load_steps(self, run_id: str) -> list[StepRun]:
        """Every attempt of the run's steps, ordered by position then attempt."""
        query = (
            sa.select(steps_t)
            .where(steps_t.c.run_id == run_id)
            .order_by(steps_t.c.step_order, steps_t.c.step_name, steps_t.c.attempt)
        )
        rows = self.db.run_read(lambda conn: conn.execute(query).mappings().all())
        return [row_to_step(row) for row in rows]


def insert_run(conn: sa.Connection, run: WorkflowRun, now: datetime) -> None:
    """Insert ``run`` PENDING, counted in the run statistics, with its ``run.created`` event.

    Public so that a part that creates runs together with its own rows (the scheduler's
    fire and its run) can do both in one transaction.
    """
    insert_runs(conn, [run], now)


def insert_runs(conn: sa.Connection, runs: Sequence[WorkflowRun], now: datetime) -> None:
    """:func:`insert_run` for many new runs, in three statements whatever their number.

    Runs and events go in as one ``executemany`` each and the statistics as one upsert
    per workflow and day: on PostgreSQL a round trip per row was most of the cost of a
    scheduler firing a thousand schedules at once.
    """
    if not runs:
        return
    rows = []
    events = []
    per_day: dict[tuple[str, str], list[WorkflowRun]] = {}
    for run in runs:
        values = run_values(run, now)
        values["status"] = WorkflowStatus.PENDING.value
        rows.append(values)
        payload: dict[str, Any] = {
            "workflow_name": run.workflow_name,
            "triggered_by": run.triggered_by,
        }
        if run.parent_run_id is not None:
            payload["parent_run_id"] = run.parent_run_id
        events.append(
            {
                "run_id": run.run_id,
                "step_id": None,
                "event_type": "run.created",
                "timestamp": now,
                "payload": payload,
                "idempotency_key": f"run:{run.run_id}:created",
            }
        )
        day = run.created_at.astimezone(UTC).date().isoformat()
        per_day.setdefault((run.workflow_name, day), []).append(run)
    conn.execute(_INSERT_RUN, rows)
    for (workflow_name, _), group in sorted(per_day.items()):
        count_run_change(
            conn,
            workflow_name=workflow_name,
            created_at=group[0].created_at,
            old=None,
            new=(WorkflowStatus.PENDING.value, None),
            runs=len(group),
        )
    conn.execute(_INSERT_EVENT, events)


_INSERT_RUN = sa.insert(runs_t)
_INSERT_EVENT = sa.insert(events_t)
