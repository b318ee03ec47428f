"""The durable engine's store: spec 002's :class:`HistoryStore` plus run transitions.

Each method is one transaction. Methods that act for a worker take its
:class:`~spine.orchestration.models.Lease` and check it in that transaction: a worker that
lost its lease (it stalled and another took over) cannot write over the new holder's
progress. The SQL lives in ``runs.py``, ``steps.py``, ``lease.py`` and
``cancellation.py``; this class only decides what goes in one transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from spine.core.clock import Clock
from spine.core.events import Listener, Publisher
from spine.core.storage import Database, DatabaseAdapter
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.core.storage.schema.workflow_history import core_workflow_steps as steps_t
from spine.orchestration.errors import RunCancelled, RunFinished, RunNotFound
from spine.orchestration.history.store import (
    HistoryStore,
    add_event,
    row_to_run,
    row_to_step,
    step_values,
)
from spine.orchestration.history.types import StepRun, StepStatus, WorkflowRun, WorkflowStatus
from spine.orchestration.models import Claim, FinishedStep, Lease, StepFailure
from spine.orchestration.steps import StepType
from spine.orchestration.store import cancellation, runs, steps
from spine.orchestration.store.lease import guard, renew
from spine.orchestration.store.statements import StepWrites
from spine.tenancy import OPERATOR, Actor, AuditAction, Change, changes_between
from spine.tenancy.store import record

#: The fields of a started run that its audit entry shows.
_AUDITED = ("workflow_name", "params", "partition_key", "domain", "triggered_by", "idempotency_key")

# Attempts of these types run user code, which dies with its worker.
INTERRUPTIBLE_TYPES = tuple(kind.value for kind in StepType if kind.runs_user_code)


class RunStore(HistoryStore):
    """Durable run state: create, claim, lease, step transitions, finish, cancel.

    Bound to an actor like :class:`HistoryStore`: reads, :meth:`create_run` and
    :meth:`request_cancel` are confined to its workspace (and audited for a user). The
    engine's methods (:meth:`claim`, the lease-guarded transitions, :meth:`next_wake`,
    :meth:`unfinished`) work across workspaces: a worker serves every workspace, and
    runs the run it claims with a copy acting as spine in the run's workspace.

    Args:
        db: Spine's database (or spec 002's adapter over it).
        clock: Where "now" comes from.
        listeners: Get ``run.finished`` in the transaction that finishes a run (see
            :mod:`spine.core.events`).
        actor: Who reads and writes, and in which workspace.
    """

    def __init__(
        self,
        db: Database | DatabaseAdapter,
        clock: Clock | None = None,
        *,
        listeners: Sequence[Listener] = (),
        actor: Actor = OPERATOR,
    ) -> None:
        super().__init__(db, clock, actor=actor)
        self.listeners = Publisher(listeners)

    @functools.cached_property
    def _writes(self) -> StepWrites:
        return StepWrites(self.db.engine.dialect)

    # ------------------------------------------------------------- creation

    def create_run(self, run: WorkflowRun) -> WorkflowRun:
        """Insert a PENDING run and its ``run.created`` event; return the run stored.

        The run goes in the store's workspace. A run with an ``idempotency_key`` that a
        run of the same workflow in this workspace already has is not inserted: that run
        is returned instead, and nothing is written. A run started by a user (not by spine
        itself) writes its ``run`` audit entry in the same transaction.
        """
        now = self.clock.now()
        run.workspace_id = self.workspace_id

        def work(conn: sa.Connection) -> WorkflowRun:
            stored = runs.insert_run_once(conn, run, now)
            if stored.run_id == run.run_id:
                self._audit(conn, run.run_id, AuditAction.CREATE, None, _audited(run), now)
            return stored

        if run.idempotency_key is None:
            return self.db.run_write(work)
        # Keyed by the idempotency key: a second try after a lost COMMIT finds the run.
        return self.db.run_write(work, idempotent=True)

    def _audit(
        self,
        conn: sa.Connection,
        run_id: str,
        action: AuditAction,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
        now: datetime,
    ) -> None:
        change = Change(
            entity_type="run", entity_id=run_id, action=action, changes=changes_between(old, new)
        )
        record(conn, self.actor, change, now)

    # -------------------------------------------------------------- leasing

    def claim(
        self,
        owner: str,
        lease_seconds: float,
        *,
        run_id: str | None = None,
        workflows: Sequence[str] | None = None,
    ) -> Claim | None:
        """Take a due run (or run ``run_id``) that no live worker holds, for ``owner``.

        Taking over from a dead worker records the attempts it left RUNNING as FAILED,
        so the step's retry policy decides what happens next.
        """
        now = self.clock.now()
        expires = now + timedelta(seconds=lease_seconds)

        def work(conn: sa.Connection) -> Claim | None:
            query = runs.due_run_query(now, run_id, workflows, conn.dialect.name)
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            runs.take(conn, row, owner, now, expires)
            previous = row["lease_owner"]
            if previous is not None:
                steps.fail_open_attempts(
                    conn,
                    row["run_id"],
                    now,
                    error=f"{steps.INTERRUPTED} worker {previous} stopped renewing its lease",
                    category="UNAVAILABLE",
                    execution_status="FAILED",
                    only_types=INTERRUPTIBLE_TYPES,
                    payload={"interrupted": True},
                )
            fresh = (
                conn.execute(sa.select(runs_t).where(runs_t.c.run_id == row["run_id"]))
                .mappings()
                .one()
            )
            lease = Lease(run_id=fresh["run_id"], owner=owner)
            if fresh["cancel_requested_at"] is not None:
                lease.cancel.set()
            return Claim(run=row_to_run(fresh), lease=lease, taken_over=previous is not None)

        return self.db.run_write(work)

    def renew_lease(self, lease: Lease, lease_seconds: float) -> bool:
        """Extend the lease; return ``False`` if its owner no longer holds the run.

        A cancellation request found on the way is signalled on the lease.
        """
        now = self.clock.now()
        return self.db.run_write(lambda conn: renew(conn, lease, now, lease_seconds))

    def park(
        self, lease: Lease, wake_at: datetime, reason: str, *, child_run_id: str | None = None
    ) -> None:
        """Release the run until ``wake_at`` (a wait, a back-off); no worker holds it.

        A run parked for its child run ``child_run_id`` is due at once if the child has
        finished meanwhile; otherwise the child wakes it when it finishes.

        Raises:
            LeaseLost: If the lease's owner no longer holds the run.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> None:
            guard(conn, self._writes, lease, now)
            runs.park(conn, lease.run_id, lease.owner, now, wake_at, reason, child_run_id)

        self.db.run_write(work)

    def release(self, lease: Lease) -> None:
        """Give the run back at once (a worker shutting down); another may claim it now."""
        now = self.clock.now()
        self.db.run_write(lambda conn: runs.release(conn, lease.run_id, lease.owner, now))

    def cancel_requested(self, lease: Lease) -> bool:
        """Whether cancellation was asked.

        Raises:
            LeaseLost: If the lease's owner no longer holds the run.
        """
        now = self.clock.now()
        return self.db.run_write(lambda conn: guard(conn, self._writes, lease, now))

    # ---------------------------------------------------------------- steps

    def steps_of(self, run_id: str) -> list[StepRun]:
        """Every attempt of every step of the run, in order."""
        return self.get_step_runs(run_id)

    def start_step(
        self,
        lease: Lease,
        step: StepRun,
        *,
        pipeline_name: str | None = None,
        completing: FinishedStep | None = None,
    ) -> StepRun:
        """Record a step attempt RUNNING (and its execution row for a pipeline step).

        ``completing`` is the previous attempt, done but not yet recorded: its end is
        written in the same transaction, so a sequence of steps costs one commit per step
        instead of two (each change still commits with its event).

        Raises:
            LeaseLost: If the lease's owner no longer holds the run; nothing is written.
            RunCancelled: If cancellation was asked; ``completing`` is recorded, the new
                attempt is not started.
        """
        now = self.clock.now()
        step.status = StepStatus.RUNNING
        step.started_at = now
        counter = steps.prepare_finish(completing, now) if completing is not None else None

        def work(conn: sa.Connection) -> bool:
            if completing is None:
                guard(conn, self._writes, lease, now)
            elif steps.write_finish(conn, self._writes, lease, completing, now, counter):
                return False  # commit the completion; start nothing in a cancelled run
            steps.write_start(conn, self._writes, step, now, pipeline_name)
            return True

        if not self.db.run_write(work):
            raise RunCancelled(step.run_id)
        return step

    def start_child(self, lease: Lease, step: StepRun, child: WorkflowRun) -> None:
        """Create ``child`` PENDING and save its id on the parent's RUNNING ``step``.

        One transaction, so that a worker dying in between can neither leave a child
        run its parent does not know of nor start a second one on resume.

        Raises:
            LeaseLost: If the lease's owner no longer holds the parent run.
        """
        now = self.clock.now()
        step.input_params = {**step.input_params, "child_run_id": child.run_id}

        def work(conn: sa.Connection) -> None:
            guard(conn, self._writes, lease, now)
            # A child run belongs to its parent's workspace, whoever runs the parent.
            child.workspace_id = conn.execute(
                sa.select(runs_t.c.workspace_id).where(runs_t.c.run_id == lease.run_id)
            ).scalar_one()
            runs.insert_run(conn, child, now)
            conn.execute(
                sa.update(steps_t)
                .where(steps_t.c.step_id == step.step_id)
                .values(params=step_values(step)["params"])
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

    def finish_step(self, lease: Lease, finished: FinishedStep) -> StepRun:
        """Record a step attempt COMPLETED, FAILED or SKIPPED, with the run's counters.

        Raises:
            LeaseLost: If the lease's owner no longer holds the run; nothing is written.
        """
        now = self.clock.now()
        counter = steps.prepare_finish(finished, now)
        self.db.run_write(
            lambda conn: steps.write_finish(conn, self._writes, lease, finished, now, counter)
        )
        return finished.step

    # ----------------------------------------------------------------- runs

    def finish_run(
        self,
        lease: Lease,
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
            LeaseLost: If the lease's owner no longer holds the run.
        """
        now = self.clock.now()
        counter = "failed_steps" if count_failed_step else None

        def work(conn: sa.Connection) -> WorkflowRun:
            guard(conn, self._writes, lease, now, counter=counter)
            return runs.finish(conn, lease.run_id, status, now, outputs, failure, self.listeners)

        return self.db.run_write(work)

    def request_cancel(self, run_id: str, reason: str | None = None) -> WorkflowRun:
        """Cancel a run and its active child runs.

        A run no worker holds (PENDING, or parked in a wait) is CANCELLED at once; a run
        being executed is marked, and its worker stops it before the next step or item.
        ``reason`` is recorded on the request and in the run's error when it ends.

        Only a run of the store's workspace; a user's cancel writes its ``run`` audit
        entry (status and the time cancellation was asked) in the same transaction.

        Raises:
            RunNotFound: If there is no such run in this workspace.
            RunFinished: If it already finished.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> WorkflowRun:
            before = (
                conn.execute(
                    sa.select(runs_t.c.status, runs_t.c.cancel_requested_at).where(
                        runs_t.c.run_id == run_id, self._mine()
                    )
                )
                .mappings()
                .first()
            )
            if before is None:
                raise RunNotFound(run_id)
            if before["status"] not in runs.ACTIVE:
                raise RunFinished(run_id, before["status"])
            cancellation.cancel_tree(conn, run_id, now, self.listeners, reason)
            after = (
                conn.execute(
                    sa.select(runs_t.c.status, runs_t.c.cancel_requested_at).where(
                        runs_t.c.run_id == run_id
                    )
                )
                .mappings()
                .one()
            )
            self._audit(conn, run_id, AuditAction.UPDATE, dict(before), dict(after), now)
            return runs.read_run(conn, run_id)

        return self.db.run_write(work)

    def cancel_now(self, lease: Lease) -> WorkflowRun:
        """The holding worker stops a run whose cancellation was asked.

        Raises:
            LeaseLost: If the lease's owner no longer holds the run.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> WorkflowRun:
            guard(conn, self._writes, lease, now)
            return cancellation.cancel_now(conn, lease.run_id, now, self.listeners)

        return self.db.run_write(work)

    # ---------------------------------------------------------------- reads

    def next_wake(self) -> datetime | None:
        """The earliest time a parked run becomes due, if any run is parked."""
        query = sa.select(sa.func.min(runs_t.c.wake_at)).where(
            runs_t.c.status.in_(runs.ACTIVE), runs_t.c.wake_at.is_not(None)
        )
        return self.db.run_read(lambda conn: conn.execute(query).scalar_one_or_none())

    def unfinished(self, workflows: Sequence[str]) -> dict[str, tuple[int, datetime | None]]:
        """What is left to do, as ``{kind: (runs, earliest wake)}`` (``spine worker --once``).

        Kinds: ``parked`` (of ``workflows``, waiting for a time to come), ``held`` (by a
        live worker), ``due`` (claimable now), ``other`` (of workflows not in
        ``workflows``).
        """
        now = self.clock.now()
        held = sa.and_(runs_t.c.lease_owner.is_not(None), runs_t.c.lease_expires_at >= now)
        kind = sa.case(
            (runs_t.c.workflow_name.not_in(list(workflows) or [""]), "other"),
            (held, "held"),
            (sa.and_(runs_t.c.wake_at.is_not(None), runs_t.c.wake_at > now), "parked"),
            else_="due",
        )
        query = (
            sa.select(kind, sa.func.count(), sa.func.min(runs_t.c.wake_at))
            .where(runs_t.c.status.in_(runs.ACTIVE))
            .group_by(kind)
        )
        rows = self.db.run_read(lambda conn: conn.execute(query).all())
        return {row[0]: (int(row[1]), row[2]) for row in rows}

    def run_row(self, run_id: str) -> WorkflowRun:
        """The run with ``run_id``.

        Raises:
            RunNotFound: If there is none.
        """
        run = self.get_workflow_run(run_id)
        if run is None:
            raise RunNotFound(run_id)
        return run

    def runs_with_keys(self, workflow_name: str, keys: Sequence[str]) -> dict[str, WorkflowRun]:
        """The runs of ``workflow_name`` holding any of the idempotency ``keys``, by key."""
        found = self.db.run_read(
            lambda conn: runs.runs_with_keys(
                conn, [(workflow_name, k) for k in keys], self.workspace_id
            )
        )
        return {key: run for (_, key), run in found.items()}

    def runs_with_partitions(
        self, workflow_name: str, partition_keys: Sequence[str]
    ) -> list[WorkflowRun]:
        """The runs of ``workflow_name`` whose partition key is one of ``partition_keys``."""
        return self.db.run_read(
            lambda conn: runs.runs_with_partitions(
                conn, workflow_name, partition_keys, self.workspace_id
            )
        )

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


def _audited(run: WorkflowRun) -> dict[str, Any]:
    """What a started run's audit entry holds."""
    values = run.to_dict()
    return {name: values.get(name) for name in _AUDITED}
