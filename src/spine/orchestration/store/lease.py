"""Lease checks: every write a worker makes for a run first proves it still holds it."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from spine.orchestration.errors import LeaseLost
from spine.orchestration.models import Lease
from spine.orchestration.store.statements import RENEW, StepWrites


def guard(
    conn: sa.Connection,
    writes: StepWrites,
    lease: Lease,
    now: datetime,
    *,
    counter: str | None = None,
) -> bool:
    """Check the lease in this transaction; return whether cancellation was asked.

    ``counter`` (``completed_steps`` ...) is incremented by the same statement. A
    cancellation request is also signalled on the lease.

    Raises:
        LeaseLost: If the lease's owner no longer holds the run.
    """
    row = writes.guard(conn, counter, {"g_run": lease.run_id, "g_owner": lease.owner, "g_now": now})
    if row is None:
        raise LeaseLost(lease.run_id)
    requested = row[0] is not None
    if requested:
        lease.cancel.set()
    return requested


def renew(conn: sa.Connection, lease: Lease, now: datetime, lease_seconds: float) -> bool:
    """Extend the lease; return ``False`` if its owner no longer holds the run."""
    row = conn.execute(
        RENEW,
        {
            "g_run": lease.run_id,
            "g_owner": lease.owner,
            "g_expires": now + timedelta(seconds=lease_seconds),
        },
    ).first()
    if row is None:
        return False
    if row[0] is not None:
        lease.cancel.set()
    return True
