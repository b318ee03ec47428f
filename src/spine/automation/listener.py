"""Spine's own tables recorded by the parts that change them, where a trigger would fire.

Runs, check results and incidents are written on spine's hot paths (a run's steps, a
check's result), so no trigger sits on their tables: the part publishes its event in the
transaction that makes the change, and :class:`OwnTableChanges` appends the change
there (``automation_changes``, with the event's workspace), only when the workspace
watches the table. It reacts to a run's finish, never to its steps.

What each event records:

- ``run.finished``: ``core_workflow_runs``, ``update``; the new row is the run as it is
  now, the old one the same row with the status it had before (``RUNNING``, or
  ``PENDING`` for a run cancelled before it started) and no ``completed_at``.
- ``check.result``: ``check_results``, ``insert`` of the result row.
- ``incident.changed``: ``incidents``, ``insert`` when it is created, else ``update``
  (old row: the status before acknowledging or resolving).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from spine.automation.models import Operation
from spine.automation.store import own_rows
from spine.automation.store.changes import append
from spine.automation.store.entities import is_watched
from spine.core.clock import Clock
from spine.core.events import Connection, Event, EventType
from spine.core.workspaces import DEFAULT_WORKSPACE_ID

__all__ = ["TABLE_OF", "OwnTableChanges"]

#: The table each event is a change of.
TABLE_OF = {
    EventType.RUN_FINISHED: "core_workflow_runs",
    EventType.CHECK_RESULT: "check_results",
    EventType.INCIDENT_CHANGED: "incidents",
}
_INCIDENT_CREATED = "incident.created"
_INCIDENT_ACKNOWLEDGED = "incident.acknowledged"


class OwnTableChanges:
    """Appends the change of a run, check result or incident when its table is watched.

    Args:
        clock: The change record's ``created_at``.
    """

    event_types = frozenset(TABLE_OF)

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def wants(self, event: Event) -> bool:
        """Every event of its types (whether the table is watched needs a read)."""
        return event.type in TABLE_OF

    def handle(self, conn: Connection, event: Event) -> None:
        """Append the change on ``conn`` if the event's workspace watches its table."""
        table = TABLE_OF[event.type]
        workspace = (
            DEFAULT_WORKSPACE_ID if event.workspace_id is None else uuid.UUID(event.workspace_id)
        )
        if not is_watched(conn, table, workspace):
            return
        found = _rows(conn, event)
        if found is None:
            return
        operation, old, new = found
        append(
            conn,
            table_name=table,
            operation=operation,
            old=old,
            new=new,
            at=self.clock.now(),
            workspace_id=workspace,
        )


_Rows = tuple[Operation, Mapping[str, Any] | None, Mapping[str, Any]]


def _rows(conn: Connection, event: Event) -> _Rows | None:
    if event.type is EventType.RUN_FINISHED:
        run = own_rows.run_row(conn, event.subject_id)
        if run is None:
            return None
        before = "RUNNING" if run.get("started_at") is not None else "PENDING"
        return Operation.UPDATE, {**run, "status": before, "completed_at": None}, run
    if event.type is EventType.CHECK_RESULT:
        result = own_rows.check_result_row(conn, int(event.payload["result_id"]))
        return None if result is None else (Operation.INSERT, None, result)
    incident = own_rows.incident_row(conn, event.subject_id)
    if incident is None:
        return None
    what = event.payload.get("event")
    if what == _INCIDENT_CREATED:
        return Operation.INSERT, None, incident
    if what == _INCIDENT_ACKNOWLEDGED:
        old = {**incident, "status": "open", "acknowledged_by": None, "acknowledged_at": None}
    else:  # resolved
        was = "acknowledged" if incident.get("acknowledged_at") is not None else "open"
        old = {**incident, "status": was, "resolved_at": None, "resolution_notes": None}
    return Operation.UPDATE, old, incident
