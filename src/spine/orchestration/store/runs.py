"""Run transitions: created, claimed, parked, released, finished.

Functions that write on the caller's connection; :class:`~spine.orchestration.store.RunStore`
runs each use case in one transaction. :func:`insert_runs` is public for parts that create
runs together with rows of their own (the scheduler's fire and its run).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from spine.core.events import EventType, Publisher
from spine.core.storage.dialect_sql import dialect_insert
from spine.core.storage.schema.workflow_history import core_workflow_events as events_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.core.workspaces import DEFAULT_WORKSPACE_ID
from spine.orchestration.events import run_finished
from spine.orchestration.history.store import add_event, count_run_change, row_to_run, run_values
from spine.orchestration.history.types import WorkflowRun, WorkflowStatus
from spine.orchestration.models import StepFailure

ACTIVE = (WorkflowStatus.PENDING.value, WorkflowStatus.RUNNING.value)

_INSERT_RUN = sa.insert(runs_t)
_INSERT_EVENT = sa.insert(events_t)


def insert_run(conn: sa.Connection, run: WorkflowRun, now: datetime) -> None:
    """Insert ``run`` PENDING, counted in the run statistics, with its ``run.created`` event.

    Public so that a part that creates runs together with its own rows (the scheduler's
    fire and its run) can do both in one transaction.
    """
    insert_runs(conn, [run], now)


def insert_run_once(conn: sa.Connection, run: WorkflowRun, now: datetime) -> WorkflowRun:
    """Insert ``run`` unless a run of its workflow has its idempotency key; return the run.

    Without a key this is :func:`insert_run`. With one, the row goes in with
    ``ON CONFLICT DO NOTHING`` on ``uq_workflow_runs_idempotency``, and only a row that
    went in is counted and gets its ``run.created`` event; otherwise the run that holds
    the key is read back and returned. A concurrent start with the same key waits on the
    index (PostgreSQL) or the write lock (SQLite) until the first commits, so all of them
    return the same run.
    """
    if run.idempotency_key is None:
        insert_runs(conn, [run], now)
        return run
    values = _pending_values(run, now)
    statement = (
        dialect_insert(conn, runs_t)
        .values(values)
        .on_conflict_do_nothing(
            index_elements=[
                runs_t.c.workspace_id,
                runs_t.c.workflow_name,
                runs_t.c.idempotency_key,
            ],
            index_where=runs_t.c.idempotency_key.is_not(None),
        )
        .returning(runs_t.c.run_id)
    )
    if conn.execute(statement).scalar_one_or_none() is None:
        row = (
            conn.execute(
                sa.select(runs_t).where(
                    runs_t.c.workspace_id == _workspace(run),
                    runs_t.c.workflow_name == run.workflow_name,
                    runs_t.c.idempotency_key == run.idempotency_key,
                )
            )
            .mappings()
            .one()
        )
        return row_to_run(row)
    _count_and_announce(conn, [run], now)
    return run


def runs_with_keys(
    conn: sa.Connection,
    keys: Iterable[tuple[str, str]],
    workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID,
) -> dict[tuple[str, str], WorkflowRun]:
    """The runs of ``workspace_id`` that hold any of ``keys`` (``(workflow_name, key)`` pairs).

    Public so that a part creating keyed runs in its own transaction (the scheduler's
    fires) can tell beforehand which keys are taken, instead of failing on the index.
    """
    by_workflow: dict[str, set[str]] = {}
    for workflow_name, key in keys:
        by_workflow.setdefault(workflow_name, set()).add(key)
    found: dict[tuple[str, str], WorkflowRun] = {}
    for workflow_name, wanted in sorted(by_workflow.items()):
        ordered = sorted(wanted)
        for start in range(0, len(ordered), _KEY_CHUNK):
            # Both columns of uq_workflow_runs_idempotency: an index lookup per key.
            rows = conn.execute(
                sa.select(runs_t).where(
                    runs_t.c.workspace_id == workspace_id,
                    runs_t.c.workflow_name == workflow_name,
                    runs_t.c.idempotency_key.in_(ordered[start : start + _KEY_CHUNK]),
                )
            ).mappings()
            for row in rows:
                found[(workflow_name, row["idempotency_key"])] = row_to_run(row)
    return found


def runs_with_partitions(
    conn: sa.Connection,
    workflow_name: str,
    partition_keys: Iterable[str],
    workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID,
) -> list[WorkflowRun]:
    """The runs of ``workflow_name`` in ``workspace_id`` with one of ``partition_keys``."""
    ordered = sorted(set(partition_keys))
    found: list[WorkflowRun] = []
    for start in range(0, len(ordered), _KEY_CHUNK):
        rows = conn.execute(
            sa.select(runs_t)
            .where(
                runs_t.c.workspace_id == workspace_id,
                runs_t.c.workflow_name == workflow_name,
                runs_t.c.partition_key.in_(ordered[start : start + _KEY_CHUNK]),
            )
            .order_by(runs_t.c.created_at)
        ).mappings()
        found.extend(row_to_run(row) for row in rows)
    return found


# Keys per IN list: well under SQLite's limit on bound parameters.
_KEY_CHUNK = 500


def _workspace(run: WorkflowRun) -> uuid.UUID:
    """The run's workspace (a run placed nowhere goes to the default one, as its row does)."""
    return run.workspace_id or DEFAULT_WORKSPACE_ID


def _pending_values(run: WorkflowRun, now: datetime) -> dict[str, Any]:
    values = run_values(run, now)
    values["status"] = WorkflowStatus.PENDING.value
    return values


def insert_runs(conn: sa.Connection, runs: Sequence[WorkflowRun], now: datetime) -> None:
    """:func:`insert_run` for many new runs, in three statements whatever their number.

    Runs and events go in as one ``executemany`` each and the statistics as one upsert
    per workflow and day: on PostgreSQL a round trip per row was most of the cost of a
    scheduler firing a thousand schedules at once.
    """
    if not runs:
        return
    conn.execute(_INSERT_RUN, [_pending_values(run, now) for run in runs])
    _count_and_announce(conn, runs, now)


def _count_and_announce(conn: sa.Connection, runs: Sequence[WorkflowRun], now: datetime) -> None:
    """Count new runs in the run statistics and write their ``run.created`` events."""
    events = []
    per_day: dict[tuple[str, str, str], list[WorkflowRun]] = {}
    for run in runs:
        payload: dict[str, Any] = {
            "workflow_name": run.workflow_name,
            "triggered_by": run.triggered_by,
        }
        if run.parent_run_id is not None:
            payload["parent_run_id"] = run.parent_run_id
        if run.idempotency_key is not None:
            payload["idempotency_key"] = run.idempotency_key
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
        per_day.setdefault((str(_workspace(run)), run.workflow_name, day), []).append(run)
    for (_, workflow_name, _), group in sorted(per_day.items()):
        count_run_change(
            conn,
            workspace_id=_workspace(group[0]),
            workflow_name=workflow_name,
            created_at=group[0].created_at,
            old=None,
            new=(WorkflowStatus.PENDING.value, None),
            runs=len(group),
        )
    conn.execute(_INSERT_EVENT, events)


def due_run_query(
    now: datetime, run_id: str | None, workflows: Sequence[str] | None, dialect: str
) -> sa.Select[Any]:
    """The oldest run a worker may claim now (or ``run_id`` if it may).

    A run is due when it is PENDING, or RUNNING but parked past its ``wake_at``, or
    RUNNING under an expired lease (its worker died). On PostgreSQL the row is locked
    with ``FOR UPDATE SKIP LOCKED``, so concurrent workers never block each other.
    """
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
        # An empty list matches nothing: a worker that knows no workflow must not claim
        # (and fail) runs meant for workers that do.
        query = query.where(runs_t.c.workflow_name.in_(list(workflows)))
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


def take(
    conn: sa.Connection, row: sa.RowMapping, owner: str, now: datetime, expires: datetime
) -> None:
    """Give the run of ``row`` to ``owner`` until ``expires``, with its start or resume event."""
    rid = row["run_id"]
    conn.execute(
        sa.update(runs_t)
        .where(runs_t.c.run_id == rid)
        .values(
            status=WorkflowStatus.RUNNING.value,
            lease_owner=owner,
            lease_expires_at=expires,
            wake_at=None,
            started_at=row["started_at"] or now,
            updated_at=now,
        )
    )
    if row["status"] == WorkflowStatus.PENDING.value:
        count_run_change(
            conn,
            workspace_id=row["workspace_id"],
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
                "taken_over": row["lease_owner"] is not None,
            },
        )


def read_run(conn: sa.Connection, run_id: str) -> WorkflowRun:
    """The run as it is in this transaction."""
    row = conn.execute(sa.select(runs_t).where(runs_t.c.run_id == run_id)).mappings().one()
    return row_to_run(row)


def park(
    conn: sa.Connection,
    run_id: str,
    owner: str,
    now: datetime,
    wake_at: datetime,
    reason: str,
    child_run_id: str | None,
) -> None:
    """Release the held run until ``wake_at``; the caller checked the lease."""
    if child_run_id is not None:
        # Read after the lease check locked this run: a child finishing concurrently
        # either committed already (seen here) or waits for this transaction and then
        # wakes the parked run (see finish); no wake-up is lost.
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


def release(conn: sa.Connection, run_id: str, owner: str, now: datetime) -> None:
    """Give the run back at once, if ``owner`` holds it."""
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


def finish(
    conn: sa.Connection,
    run_id: str,
    status: WorkflowStatus,
    now: datetime,
    outputs: Mapping[str, Any] | None,
    failure: StepFailure | None,
    listeners: Publisher,
) -> WorkflowRun:
    """Record the run COMPLETED, FAILED or CANCELLED, release it, and wake its parent."""
    before = (
        conn.execute(
            sa.select(
                runs_t.c.workflow_name,
                runs_t.c.created_at,
                runs_t.c.status,
                runs_t.c.duration_ms,
                runs_t.c.started_at,
                runs_t.c.parent_run_id,
                runs_t.c.workspace_id,
            ).where(runs_t.c.run_id == run_id)
        )
        .mappings()
        .one()
    )
    parent = before["parent_run_id"]
    if parent is not None:
        _lock_run(conn, parent)
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
        workspace_id=before["workspace_id"],
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
        _wake_parent(conn, parent, run_id, now)
    finished = read_run(conn, run_id)
    if listeners.wanted(EventType.RUN_FINISHED):
        listeners.publish(conn, run_finished(finished))
    return finished


def _lock_run(conn: sa.Connection, run_id: str) -> None:
    """Lock a run's row until commit (SQLite's write lock already covers everything)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(runs_t.c.run_id).where(runs_t.c.run_id == run_id).with_for_update())


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
