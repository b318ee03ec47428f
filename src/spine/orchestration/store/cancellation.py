"""Cancellation: a run no worker holds ends at once; a held run is marked for its worker."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from spine.core.events import Publisher
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.orchestration.history.store import add_event
from spine.orchestration.history.types import WorkflowRun, WorkflowStatus
from spine.orchestration.models import StepFailure
from spine.orchestration.store.runs import ACTIVE, finish
from spine.orchestration.store.steps import fail_open_attempts

CANCELLED = StepFailure(error="cancelled", category="CANCELLED", retryable=False)


def cancel_tree(conn: sa.Connection, run_id: str, now: datetime, listeners: Publisher) -> None:
    """Ask the run and its active children to stop; end at once those no worker holds."""
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
    """Close the run's open attempts and record it CANCELLED."""
    fail_open_attempts(
        conn, run_id, now, error="cancelled", category="CANCELLED", execution_status="CANCELLED"
    )
    return finish(conn, run_id, WorkflowStatus.CANCELLED, now, None, CANCELLED, listeners)
