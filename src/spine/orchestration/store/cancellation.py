"""Cancellation: a run no worker holds ends at once; a held run is marked for its worker."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from spine.core.events import Publisher
from spine.core.storage.schema.workflow_history import core_workflow_events as events_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.orchestration.history.store import add_event
from spine.orchestration.history.types import WorkflowRun, WorkflowStatus
from spine.orchestration.models import StepFailure
from spine.orchestration.store.runs import ACTIVE, finish
from spine.orchestration.store.steps import fail_open_attempts

CANCELLED = StepFailure(error="cancelled", category="CANCELLED", retryable=False)


def cancel_tree(
    conn: sa.Connection,
    run_id: str,
    now: datetime,
    listeners: Publisher,
    reason: str | None = None,
) -> None:
    """Ask the run and its active children to stop; end at once those no worker holds.

    ``reason`` goes on the ``run.cancel_requested`` event and, when the run ends, into
    its error (``cancelled: <reason>``), whoever ends it.
    """
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
            payload={"reason": reason} if reason else None,
        )
    if not held:
        cancel_now(conn, run_id, now, listeners)
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
        cancel_tree(conn, child, now, listeners)


def cancel_now(
    conn: sa.Connection, run_id: str, now: datetime, listeners: Publisher
) -> WorkflowRun:
    """Close the run's open attempts and record it CANCELLED (with the reason asked)."""
    reason = _reason(conn, run_id)
    failure = CANCELLED
    if reason:
        failure = StepFailure(error=f"cancelled: {reason}", category="CANCELLED", retryable=False)
    fail_open_attempts(
        conn, run_id, now, error=failure.error, category="CANCELLED", execution_status="CANCELLED"
    )
    return finish(conn, run_id, WorkflowStatus.CANCELLED, now, None, failure, listeners)


def _reason(conn: sa.Connection, run_id: str) -> str | None:
    """The reason given when the run's cancellation was asked, if any."""
    payload = conn.execute(
        sa.select(events_t.c.payload).where(
            events_t.c.run_id == run_id, events_t.c.event_type == "run.cancel_requested"
        )
    ).scalar_one_or_none()
    reason = (payload or {}).get("reason")
    return reason if isinstance(reason, str) and reason else None
