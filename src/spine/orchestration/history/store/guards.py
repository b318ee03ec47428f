"""Checks a store makes before it writes or reads a run's rows."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.orchestration.errors import RunNotFound


def require_run(conn: sa.Connection, run_id: str, workspace_id: uuid.UUID) -> None:
    """Raise :class:`RunNotFound` rather than let a foreign key fail with a driver error.

    A run of another workspace is not found either.
    """
    found = conn.execute(
        sa.select(runs_t.c.run_id).where(
            runs_t.c.run_id == run_id, runs_t.c.workspace_id == workspace_id
        )
    ).first()
    if found is None:
        raise RunNotFound(run_id)
