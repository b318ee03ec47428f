"""Appending to ``core_workflow_events``: one row per state change, keyed for idempotency."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.storage.dialect_sql import insert_if_absent
from spine.core.storage.schema.workflow_history import core_workflow_events as events_t


def add_event(
    conn: sa.Connection,
    *,
    run_id: str,
    event_type: str,
    key: str,
    now: datetime,
    step_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> bool:
    """Append an event unless one with the same idempotency key exists; return if added."""
    return insert_if_absent(
        conn,
        events_t,
        {
            "run_id": run_id,
            "step_id": step_id,
            "event_type": event_type,
            "timestamp": now,
            "payload": dict(payload or {}),
            "idempotency_key": key,
        },
        key=["idempotency_key"],
    )


def transition_key(
    conn: sa.Connection, base: str, *, run_id: str, event_type: str, step_id: str | None = None
) -> str:
    """The idempotency key of the next ``event_type`` event of a run (or of one step).

    The first is ``base``; a status entered again later (a run sent back to PENDING and
    started again) gets ``base:2``, ``base:3`` ..., so every change keeps its own event.
    Callers hold the row's lock, so the count cannot move under them.
    """
    query = (
        sa.select(sa.func.count())
        .select_from(events_t)
        .where(events_t.c.run_id == run_id, events_t.c.event_type == event_type)
    )
    if step_id is not None:
        query = query.where(events_t.c.step_id == step_id)
    seen = int(conn.execute(query).scalar_one())
    return base if seen == 0 else f"{base}:{seen + 1}"
