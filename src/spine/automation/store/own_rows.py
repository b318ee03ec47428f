"""Spine's own watchable rows, read in the transaction that changes them.

The listener (:mod:`spine.automation.listener`) records a change of a run, a check
result or an incident as a trigger would: the row as it is now, on the connection of
the change. These reads are its only SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from spine.core.events import Connection as EventConnection
from spine.core.storage import sql_connection
from spine.core.storage.schema.dq_platform import check_results as results_t
from spine.core.storage.schema.dq_platform import incidents as incidents_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t

__all__ = ["check_result_row", "incident_row", "run_row"]


def _one(conn: EventConnection, table: sa.Table, column: str, value: Any) -> dict[str, Any] | None:
    row = sql_connection(conn).execute(sa.select(table).where(table.c[column] == value)).first()
    return None if row is None else dict(row._mapping)


def run_row(conn: EventConnection, run_id: str) -> Mapping[str, Any] | None:
    """The ``core_workflow_runs`` row of ``run_id`` (``None`` if there is none)."""
    return _one(conn, runs_t, "run_id", run_id)


def check_result_row(conn: EventConnection, result_id: int) -> Mapping[str, Any] | None:
    """The ``check_results`` row ``result_id`` (``None`` if there is none)."""
    return _one(conn, results_t, "id", result_id)


def incident_row(conn: EventConnection, incident_id: str) -> Mapping[str, Any] | None:
    """The ``incidents`` row ``incident_id`` (``None`` if there is none)."""
    return _one(conn, incidents_t, "id", uuid.UUID(incident_id))
