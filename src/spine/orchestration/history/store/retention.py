"""Retention: which runs a prune deletes, and the deletes, one batch per transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from spine.core.errors import InvalidInput
from spine.core.storage.schema.workflow_history import core_workflow_events as events_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.core.storage.schema.workflow_history import core_workflow_step_logs as logs_t
from spine.core.storage.schema.workflow_history import core_workflow_steps as steps_t
from spine.orchestration.history.store.statistics import count_run_change
from spine.orchestration.history.types import TERMINAL_RUN_STATUSES


def prunable(
    workspace_id: uuid.UUID, now: datetime, days: int
) -> tuple[sa.ColumnElement[bool], ...]:
    """The runs retention deletes: the workspace's, finished, created ``days`` before ``now``.

    Raises:
        InvalidInput: If ``days`` is negative.
    """
    if days < 0:
        raise InvalidInput("days must be 0 or more")
    cutoff = now - timedelta(days=days)
    terminal = [s.value for s in TERMINAL_RUN_STATUSES]
    return (
        runs_t.c.workspace_id == workspace_id,
        runs_t.c.created_at < cutoff,
        runs_t.c.status.in_(terminal),
    )


def delete_batch(
    conn: sa.Connection,
    condition: tuple[sa.ColumnElement[bool], ...],
    workspace_id: uuid.UUID,
    batch_size: int,
) -> tuple[int, int]:
    """Delete up to ``batch_size`` runs matching ``condition``, with their children.

    Returns how many runs were selected and how many deleted.
    """
    rows = conn.execute(
        sa.select(
            runs_t.c.run_id,
            runs_t.c.workflow_name,
            runs_t.c.created_at,
            runs_t.c.status,
            runs_t.c.duration_ms,
        )
        .where(*condition)
        .order_by(runs_t.c.created_at)
        .limit(batch_size)
        # PostgreSQL: lock the batch so that no status changes under the delete,
        # and skip runs a writer holds now (the next prune takes them).
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0, 0
    ids = [row.run_id for row in rows]
    for row in rows:
        count_run_change(
            conn,
            workspace_id=workspace_id,
            workflow_name=row.workflow_name,
            created_at=row.created_at,
            old=(row.status, row.duration_ms),
            new=None,
        )
    # Children first: explicit deletes are cheaper than relying on cascades
    # row by row, and work the same with foreign keys off.
    conn.execute(sa.delete(events_t).where(events_t.c.run_id.in_(ids)))
    conn.execute(sa.delete(logs_t).where(logs_t.c.run_id.in_(ids)))
    conn.execute(sa.delete(steps_t).where(steps_t.c.run_id.in_(ids)))
    deleted = conn.execute(sa.delete(runs_t).where(runs_t.c.run_id.in_(ids), *condition)).rowcount
    return len(ids), int(deleted)


def count_prunable(
    conn: sa.Connection, condition: tuple[sa.ColumnElement[bool], ...]
) -> dict[str, int]:
    """How many runs, steps and events match ``condition`` now."""
    ids = sa.select(runs_t.c.run_id).where(*condition).scalar_subquery()
    counts = {}
    for name, table, where in (
        ("runs", runs_t, sa.and_(*condition)),
        ("steps", steps_t, steps_t.c.run_id.in_(ids)),
        ("events", events_t, events_t.c.run_id.in_(ids)),
    ):
        query = sa.select(sa.func.count()).select_from(table).where(where)
        counts[name] = int(conn.scalar(query) or 0)
    return counts
