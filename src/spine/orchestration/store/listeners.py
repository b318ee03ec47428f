"""Hooks run inside the transaction that finishes a workflow run.

Parts above orchestration (scheduling, alerting) react to a finished run without the
engine importing them: :mod:`spine.bootstrap` hands the run store a tuple of listeners.
A listener writes in the same transaction as the run's final state (an outbox), so a
crash can never record a FAILED run without its alert or its schedule run's status.

Each listener runs in a savepoint: a listener that fails (say, its part's tables are not
migrated yet) is logged and rolled back alone; the run still finishes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import sqlalchemy as sa

from spine.orchestration.history.types import WorkflowRun

log = logging.getLogger(__name__)


class RunListener(Protocol):
    """Reacts to a run that reached COMPLETED, FAILED or CANCELLED."""

    def wants(self, run: WorkflowRun) -> bool:
        """Whether :meth:`run_finished` has anything to do for ``run`` (no SQL here)."""
        ...

    def run_finished(self, conn: sa.Connection, run: WorkflowRun) -> None:
        """Write what follows from ``run`` finishing, on ``conn`` (do not commit)."""
        ...


def notify_finished(
    conn: sa.Connection, run: WorkflowRun, listeners: Sequence[RunListener]
) -> None:
    """Call each interested listener in its own savepoint; log and skip one that fails."""
    for listener in listeners:
        if not listener.wants(run):
            continue
        try:
            with conn.begin_nested():
                listener.run_finished(conn, run)
        except Exception:
            log.exception(
                "run listener %s failed for run %s (%s); the run is recorded without it",
                type(listener).__name__,
                run.run_id,
                run.status,
            )
