"""Every state change of a run or a step writes exactly one event, in its own transaction.

The statements the engine sends are watched through SQLAlchemy's engine events (the
database is real): each committed transaction that changes a run's or a step's state
must insert exactly as many ``core_workflow_events`` rows as it makes state changes.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from spine import RetryPolicy, Step, Workflow, pipeline
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.orchestration.history import WorkflowStatus
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.orchestration.worker import Worker
from tests.orchestration.invariants import all_events, assert_history_consistent

# Columns whose change is a state change (a guard's `updated_at`, a lease renewal's
# `lease_expires_at` and the counters that go with a step's change are not).
STATE_COLUMNS = {
    "core_workflow_runs": {"status", "lease_owner", "wake_at", "cancel_requested_at"},
    "core_workflow_steps": {"status", "params"},
}
UPDATE = re.compile(r"^\s*UPDATE (core_workflow_runs|core_workflow_steps) SET (.*?) WHERE", re.S)
INSERT = re.compile(
    r"^\s*INSERT INTO (core_workflow_runs|core_workflow_steps|core_workflow_events)"
)


@dataclass
class Transaction:
    changes: int = 0
    events: int = 0
    event_statements: int = 0
    statements: list[str] = field(default_factory=list)
    committed: bool = False


class TransactionLog:
    """Counts state changes and event inserts per transaction, from the engine's events."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.transactions: dict[int, Transaction] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def _begin(self, conn: sa.Connection) -> None:
        with self._lock:
            number = next(self._ids)
            self.transactions[number] = Transaction()
        conn.info["spine_test_txn"] = number

    def _commit(self, conn: sa.Connection) -> None:
        number = conn.info.get("spine_test_txn")
        if number is not None:
            self.transactions[number].committed = True

    def _statement(self, conn: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
        number = conn.info.get("spine_test_txn")
        if number is None:
            return
        txn = self.transactions[number]
        txn.statements.append(statement.split(" WHERE")[0][:120])
        # Rows the statement changed: an UPDATE that matched nothing changed nothing.
        rows = max(cursor.rowcount, 0)
        if match := INSERT.match(statement):
            if match.group(1) == "core_workflow_events":
                txn.event_statements += 1
                txn.events += rows
            else:
                txn.changes += rows
        elif match := UPDATE.match(statement):
            columns = {part.split("=")[0].strip() for part in match.group(2).split(",")}
            if columns & STATE_COLUMNS[match.group(1)]:
                txn.changes += rows

    def __enter__(self) -> TransactionLog:
        sa.event.listen(self.engine, "begin", self._begin)
        sa.event.listen(self.engine, "commit", self._commit)
        sa.event.listen(self.engine, "after_cursor_execute", self._statement)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "begin", self._begin)
        sa.event.remove(self.engine, "commit", self._commit)
        sa.event.remove(self.engine, "after_cursor_execute", self._statement)

    def committed(self) -> Iterator[Transaction]:
        return (t for t in self.transactions.values() if t.committed)


def build(workflows: WorkflowRegistry, pipelines: PipelineRegistry) -> None:
    """A workflow with every step type, a retry, a skip, a wait and a child."""

    @pipeline("load", registry=pipelines)
    def load(ctx: Any) -> dict[str, Any]:
        if ctx.attempt == 1:
            raise ConnectionError("blip")
        return {"row_count": 3}

    Workflow("child", [Step.lambda_("c", lambda ctx: {"child": True})], registry=workflows)
    Workflow(
        "everything",
        [
            Step.lambda_("fetch", lambda ctx: {"files": ["a", "b", "c"]}),
            Step.pipeline("load", "load", retry=RetryPolicy(max_attempts=2, backoff_seconds=60)),
            Step.choice("route", lambda ctx: "fan"),
            Step.lambda_("skipped", lambda ctx: None),
            Step.map("fan", "fetch", Step.lambda_("one", lambda ctx: {"f": ctx.item}), 2),
            Step.wait("pause", seconds=30),
            Step.workflow("sub", "child"),
        ],
        registry=workflows,
    )


def test_each_state_change_and_its_event_share_a_transaction(
    db: Database,
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    pipelines: PipelineRegistry,
    store: RunStore,
    clock: FrozenClock,
) -> None:
    build(workflows, pipelines)
    Workflow("doomed", [Step.wait("w", seconds=3600)], registry=workflows)
    worker = Worker(runner, concurrency=2)

    with TransactionLog(db.engine) as log:
        run = runner.submit("everything")
        doomed = runner.submit("doomed")
        for _ in range(10):
            worker.run(once=True)
            if store.run_row(run.run_id).is_terminal:
                break
            clock.advance(timedelta(seconds=30))
        store.request_cancel(doomed.run_id)

    assert store.run_row(run.run_id).status is WorkflowStatus.COMPLETED
    assert store.run_row(doomed.run_id).status is WorkflowStatus.CANCELLED
    changed = [t for t in log.committed() if t.changes or t.events]
    assert changed, "no transaction was seen"
    for txn in changed:
        assert txn.events == txn.changes, txn.statements
    # No event was dropped as a duplicate: each insert that committed made a row.
    assert sum(t.event_statements for t in log.committed()) == len(all_events(db))
    assert_history_consistent(store, run.run_id)
    assert_history_consistent(store, doomed.run_id)


def test_idempotency_keys_are_unique_across_runs(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    pipelines: PipelineRegistry,
    clock: FrozenClock,
    store: RunStore,
    db: Database,
) -> None:
    build(workflows, pipelines)
    runs = [runner.submit("everything") for _ in range(3)]
    worker = Worker(runner, concurrency=3)
    for _ in range(10):
        worker.run(once=True)
        if all(store.run_row(r.run_id).is_terminal for r in runs):
            break
        clock.advance(timedelta(seconds=30))

    assert {store.run_row(r.run_id).status for r in runs} == {WorkflowStatus.COMPLETED}
    keys = [event.idempotency_key for event in all_events(db)]
    assert len(keys) == len(set(keys))


def test_a_transition_refused_for_a_lost_lease_writes_nothing(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    from spine.orchestration.errors import LeaseLost
    from spine.orchestration.history import StepRun, StepStatus
    from spine.orchestration.models import FinishedStep

    Workflow("wf", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    run = runner.submit("wf")
    stale = store.claim("stale", lease_seconds=5)
    assert stale is not None
    step = store.start_step(stale.lease, StepRun("s1", run.run_id, "s", "lambda", 0))
    clock.advance(6)
    fresh = store.claim("fresh", lease_seconds=5)
    assert fresh is not None and fresh.taken_over
    before = store.get_events(run.run_id)

    with pytest.raises(LeaseLost):
        store.finish_step(
            stale.lease,
            FinishedStep(step=step, status=StepStatus.COMPLETED, outputs={"late": True}),
        )

    assert store.get_events(run.run_id) == before
    (row,) = store.get_step_runs(run.run_id)
    assert row.status is StepStatus.FAILED
    assert row.error is not None and row.error.startswith("interrupted: worker stale")
    assert store.run_row(run.run_id).completed_steps == 0


def test_run_statistics_follow_every_engine_transition(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    pipelines: PipelineRegistry,
    store: RunStore,
    clock: FrozenClock,
    db: Database,
) -> None:
    from spine.core.storage.schema.workflow_history import core_workflow_run_stats

    def counts() -> list[tuple[Any, ...]]:
        with db.read() as conn:
            rows = conn.execute(sa.select(core_workflow_run_stats)).all()
        return sorted(tuple(row) for row in rows if row.run_count or row.duration_count)

    build(workflows, pipelines)
    Workflow("broken", [Step.lambda_("s", lambda ctx: {}["x"])], registry=workflows)
    Workflow("parked", [Step.wait("w", seconds=3600)], registry=workflows)
    runs = [runner.submit(name) for name in ("everything", "broken", "parked", "parked")]
    worker = Worker(runner, concurrency=2)
    for _ in range(6):
        worker.run(once=True)
        clock.advance(timedelta(seconds=30))
    store.request_cancel(runs[3].run_id)
    runner.submit("broken")  # stays PENDING

    kept = counts()
    store.rebuild_run_statistics()

    assert counts() == kept
    stats = store.run_statistics()
    assert (stats.completed, stats.failed, stats.cancelled, stats.running, stats.pending) == (
        2,  # everything and its child
        1,
        1,
        1,
        1,
    )
