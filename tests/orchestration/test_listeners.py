"""``run.finished`` listeners: called in the transaction that finishes a run; a failing
one is isolated."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from spine import Step, Workflow
from spine.core.clock import FrozenClock
from spine.core.events import Connection, Event, EventType
from spine.core.storage import Database, sql_connection
from spine.orchestration.history import WorkflowStatus
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from tests.event_recorder import Abort, Aborter, create_seen_table, seen
from tests.event_recorder import Recorder as EventRecorder


class Recorder:
    """Writes a row per finished run it wants, on the finishing transaction."""

    event_types = frozenset({EventType.RUN_FINISHED})

    def __init__(self, only: WorkflowStatus | None = None) -> None:
        self.only = only
        self.seen: list[tuple[str, str]] = []

    def wants(self, event: Event) -> bool:
        return self.only is None or event.payload["status"] == self.only.value

    def handle(self, conn: Connection, event: Event) -> None:
        run_id, status = event.subject_id, event.payload["status"]
        sql_connection(conn).execute(sa.insert(seen_t).values(run_id=run_id, status=status))
        self.seen.append((run_id, status))


class Broken:
    event_types = frozenset({EventType.RUN_FINISHED})

    def wants(self, event: Event) -> bool:
        return True

    def handle(self, conn: Connection, event: Event) -> None:
        sql_connection(conn).execute(sa.text("INSERT INTO no_such_table VALUES (1)"))


seen_t = sa.Table(
    "test_listener_seen",
    sa.MetaData(),
    sa.Column("run_id", sa.String(26), primary_key=True),
    sa.Column("status", sa.String(20)),
)


@pytest.fixture(autouse=True)
def _seen_table(db: Database) -> None:
    with db.write() as conn:
        seen_t.create(conn)


def _runner(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry, *listeners: Any
) -> WorkflowRunner:
    store = RunStore(db, clock, listeners=listeners)
    return WorkflowRunner(
        store, clock=clock, workflow_registry=workflows, pipeline_registry=PipelineRegistry()
    )


def _seen(db: Database) -> dict[str, str]:
    with db.read() as conn:
        return {row.run_id: row.status for row in conn.execute(sa.select(seen_t))}


def _boom(ctx: Any) -> None:
    raise ValueError("bad row")


def test_listener_sees_finished_runs_in_their_transaction(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry
) -> None:
    Workflow("ok", [Step.lambda_("a", lambda ctx: None)], registry=workflows)
    Workflow("bad", [Step.lambda_("a", _boom)], registry=workflows)
    failed_only = Recorder(WorkflowStatus.FAILED)
    runner = _runner(db, clock, workflows, failed_only)

    ok = runner.run("ok")
    bad = runner.run("bad")

    assert ok.status == "COMPLETED" and bad.status == "FAILED"
    assert failed_only.seen == [(bad.run_id, "FAILED")]
    assert _seen(db) == {bad.run_id: "FAILED"}


def test_failing_listener_is_rolled_back_alone_and_the_run_still_finishes(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry
) -> None:
    Workflow("ok", [Step.lambda_("a", lambda ctx: None)], registry=workflows)
    after = Recorder()
    runner = _runner(db, clock, workflows, Broken(), after)

    run = runner.run("ok")

    assert run.status == "COMPLETED"
    assert _seen(db) == {run.run_id: "COMPLETED"}
    assert RunStore(db, clock).get_workflow_run(run.run_id).status == "COMPLETED"  # type: ignore[union-attr]


def test_cancelled_pending_run_notifies(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry
) -> None:
    Workflow("ok", [Step.lambda_("a", lambda ctx: None)], registry=workflows)
    recorder = Recorder()
    runner = _runner(db, clock, workflows, recorder)
    run = runner.submit("ok")

    RunStore(db, clock, listeners=[recorder]).request_cancel(run.run_id)

    assert _seen(db) == {run.run_id: "CANCELLED"}


def test_run_finished_is_published_once_in_the_finishing_transaction(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry
) -> None:
    Workflow("ok", [Step.lambda_("a", lambda ctx: None)], registry=workflows)
    create_seen_table(db)
    run = _runner(db, clock, workflows).submit("ok")
    recorder = EventRecorder(EventType.RUN_FINISHED)

    with pytest.raises(Abort):
        RunStore(db, clock, listeners=[recorder, Aborter(EventType.RUN_FINISHED)]).request_cancel(
            run.run_id
        )
    assert RunStore(db, clock).get_workflow_run(run.run_id).status == "PENDING"  # type: ignore[union-attr]
    assert seen(db) == []

    RunStore(db, clock, listeners=[recorder]).request_cancel(run.run_id)
    assert seen(db) == [("run.finished", run.run_id, "CANCELLED")]


def test_no_run_finished_payload_is_built_without_a_listener_of_it(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry
) -> None:
    Workflow("ok", [Step.lambda_("a", lambda ctx: None)], registry=workflows)
    create_seen_table(db)
    other = EventRecorder(EventType.ALERT_RECORDED)
    store = RunStore(db, clock, listeners=[other])
    assert not store.listeners.wanted(EventType.RUN_FINISHED)
    run = _runner(db, clock, workflows, other).run("ok")
    assert run.status == "COMPLETED" and seen(db) == []
