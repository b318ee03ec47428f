"""The statements every workflow step runs, prepared once per dialect.

Part of the run store (only the store speaks SQL): the lease checks, which also bump a
run counter and report cancellation, and the per-step writes. On SQLite they are
:class:`~spine.core.storage.prepared.Prepared` (compiled by SQLAlchemy once, run on the
driver cursor); on PostgreSQL, whose round trips dominate, they go through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect

from spine.core.storage.prepared import Prepared
from spine.core.storage.schema.workflow_history import core_workflow_events as events_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.core.storage.schema.workflow_history import core_workflow_steps as steps_t
from spine.orchestration.history.store import add_event
from spine.orchestration.history.store.rows import STEP_FINISH_COLUMNS, STEP_START_COLUMNS
from spine.orchestration.history.types import StepStatus


def _guard_statement(counter: str | None) -> sa.Update:
    values: dict[str, Any] = {"updated_at": sa.bindparam("g_now")}
    if counter is not None:
        values[counter] = runs_t.c[counter] + 1
    return (
        sa.update(runs_t)
        .where(
            runs_t.c.run_id == sa.bindparam("g_run"),
            runs_t.c.lease_owner == sa.bindparam("g_owner"),
        )
        .values(values)
        .returning(runs_t.c.cancel_requested_at)
    )


# Built once: the lease check runs twice per step, and building a statement costs more
# than executing it.
_GUARDS = {
    name: _guard_statement(name)
    for name in (None, "completed_steps", "failed_steps", "skipped_steps")
}
_STEP_INSERT = sa.insert(steps_t)
_STEP_UPDATE = sa.update(steps_t).where(steps_t.c.step_id == sa.bindparam("b_step_id"))
RENEW = (
    sa.update(runs_t)
    .where(
        runs_t.c.run_id == sa.bindparam("g_run"), runs_t.c.lease_owner == sa.bindparam("g_owner")
    )
    .values(lease_expires_at=sa.bindparam("g_expires"))
    .returning(runs_t.c.cancel_requested_at)
)
COUNTERS = {
    StepStatus.COMPLETED: "completed_steps",
    StepStatus.FAILED: "failed_steps",
    StepStatus.SKIPPED: "skipped_steps",
}


_EVENT_COLUMNS = ("run_id", "step_id", "event_type", "timestamp", "payload", "idempotency_key")


def _binds(names: Sequence[str]) -> dict[str, Any]:
    return {name: sa.bindparam(name) for name in names}


class StepWrites:
    """The statements every step runs twice: prepared on SQLite, SQLAlchemy elsewhere.

    On SQLite a step's two transactions are mostly SQLAlchemy's own execution overhead;
    :class:`Prepared` statements (compiled by SQLAlchemy once, with the same type
    conversions) run them on the driver directly. PostgreSQL's round trips dominate, so
    it keeps the ordinary path.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.prepared = dialect.name == "sqlite"
        if not self.prepared:
            return
        self.guards = {name: Prepared(statement, dialect) for name, statement in _GUARDS.items()}
        self.insert_step = Prepared(sa.insert(steps_t).values(_binds(STEP_START_COLUMNS)), dialect)
        self.update_step = Prepared(
            sa.update(steps_t)
            .where(steps_t.c.step_id == sa.bindparam("b_step_id"))
            .values(_binds(STEP_FINISH_COLUMNS)),
            dialect,
        )
        self.insert_event = Prepared(
            sqlite_insert(events_t)
            .values(_binds(_EVENT_COLUMNS))
            .on_conflict_do_nothing(index_elements=["idempotency_key"]),
            dialect,
        )

    def guard(self, conn: sa.Connection, counter: str | None, params: dict[str, Any]) -> Any:
        """Run the lease check (moving ``counter``); return its row, ``None`` if lost."""
        if self.prepared:
            return self.guards[counter].execute(conn, params).fetchone()
        return conn.execute(_GUARDS[counter], params).first()

    def start(self, conn: sa.Connection, values: dict[str, Any]) -> None:
        """Insert a RUNNING attempt."""
        if self.prepared:
            self.insert_step.execute(conn, values)
        else:
            conn.execute(_STEP_INSERT, values)

    def finish(self, conn: sa.Connection, values: dict[str, Any]) -> int:
        """Update an attempt's end; return the number of rows updated (0 or 1)."""
        if self.prepared:
            return int(self.update_step.execute(conn, values).rowcount)
        return int(conn.execute(_STEP_UPDATE, values).rowcount)

    def event(
        self,
        conn: sa.Connection,
        *,
        run_id: str,
        step_id: str,
        event_type: str,
        key: str,
        now: datetime,
        payload: dict[str, Any],
    ) -> None:
        """Append an event unless its idempotency key exists."""
        if not self.prepared:
            add_event(
                conn,
                run_id=run_id,
                step_id=step_id,
                event_type=event_type,
                key=key,
                now=now,
                payload=payload,
            )
            return
        self.insert_event.execute(
            conn,
            {
                "run_id": run_id,
                "step_id": step_id,
                "event_type": event_type,
                "timestamp": now,
                "payload": payload,
                "idempotency_key": key,
            },
        )
