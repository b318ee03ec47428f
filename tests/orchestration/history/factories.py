"""Runs recorded the way users record them: through spec 002's ``HistoryTracker``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.core.storage.schema.workflow_history import (
    core_workflow_events,
    core_workflow_runs,
    core_workflow_steps,
)
from spine.orchestration.history import (
    HistoryStore,
    HistoryTracker,
    WorkflowRun,
    WorkflowStatus,
)

START = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
WORKFLOW = "finra.weekly_ingest"
DOMAIN = "finra.otc_transparency"


@dataclass
class History:
    """A store on a frozen clock, and a tracker that records runs through it."""

    db: Database
    clock: FrozenClock

    def __post_init__(self) -> None:
        self.store = HistoryStore(self.db, clock=self.clock)
        self.tracker = HistoryTracker(self.store)

    def record(
        self,
        status: WorkflowStatus = WorkflowStatus.COMPLETED,
        *,
        workflow_name: str = WORKFLOW,
        domain: str | None = DOMAIN,
        seconds: float = 2.0,
        steps: Sequence[str] = ("fetch",),
        params: dict[str, Any] | None = None,
    ) -> WorkflowRun:
        """Record a run that took ``seconds`` on the clock and ended in ``status``.

        A RUNNING run is left open (entered, never exited); a FAILED one ends with
        ``ValueError("boom")``; a CANCELLED one through ``cancel()``.
        """
        tracked = self.tracker.track_workflow(workflow_name, domain=domain, params=params)
        tracked.__enter__()
        for name in steps:
            with tracked.track_step(name, "lambda") as step:
                step.record_records(10)
        self.clock.advance(seconds)
        if status is WorkflowStatus.CANCELLED:
            tracked.cancel()
        elif status is WorkflowStatus.FAILED:
            error = ValueError("boom")
            tracked.__exit__(ValueError, error, None)
        elif status is WorkflowStatus.COMPLETED:
            tracked.__exit__(None, None, None)
        elif status is not WorkflowStatus.RUNNING:
            raise AssertionError(f"cannot record a {status} run")
        return tracked.run

    def rows(self, table: sa.Table, run_id: str) -> int:
        """How many rows of ``table`` belong to ``run_id``."""
        query = sa.select(sa.func.count()).select_from(table).where(table.c.run_id == run_id)
        with self.db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def all_rows(self, run_id: str) -> tuple[int, int, int]:
        """Rows of the run, its steps and its events."""
        return (
            self.rows(core_workflow_runs, run_id),
            self.rows(core_workflow_steps, run_id),
            self.rows(core_workflow_events, run_id),
        )
