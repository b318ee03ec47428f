"""Runs in workspaces: each store reads and writes its actor's workspace, the worker all."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from spine import Step, Workflow
from spine.core.clock import FrozenClock
from spine.core.events import Connection, Event, EventType
from spine.core.storage import Database
from spine.core.storage.schema.dq_platform import audit_log as audit_t
from spine.core.storage.schema.workflow_history import core_workflow_run_stats as stats_t
from spine.orchestration.context import StepServices
from spine.orchestration.errors import RunNotFound
from spine.orchestration.history import HistoryStore, WorkflowRun, WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.orchestration.worker import Worker
from spine.tenancy import DEFAULT_WORKSPACE_ID, OPERATOR, Actor, TenancyService
from spine.tenancy.store import TenancyStore


class FinishedRuns:
    """Records the ``run.finished`` events it is given."""

    event_types = frozenset({EventType.RUN_FINISHED})

    def __init__(self) -> None:
        self.events: list[Event] = []

    def wants(self, event: Event) -> bool:
        return True

    def handle(self, conn: Connection, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
def other(db: Database, clock: FrozenClock) -> Actor:
    """The CLI in workspace ``data`` of organization ``acme``."""
    tenancy = TenancyService(TenancyStore(db, clock), clock)
    tenancy.create_organization("acme")
    return Actor(workspace_id=tenancy.create_workspace("data", "acme", OPERATOR).id)


def _audit_rows(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        query = sa.select(audit_t).where(audit_t.c.entity_type == "run").order_by(audit_t.c.id)
        return list(conn.execute(query).mappings())


def test_each_workspace_sees_only_its_runs(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, other: Actor
) -> None:
    Workflow("wf", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    mine = runner.submit("wf")
    other_store = store.acting_as(other)
    other_runner = WorkflowRunner(other_store, clock=runner.clock, workflow_registry=workflows)
    their = other_runner.submit("wf")

    assert mine.workspace_id == DEFAULT_WORKSPACE_ID
    assert their.workspace_id == other.workspace_id
    assert [r.run_id for r in store.list_workflow_runs()] == [mine.run_id]
    assert [r.run_id for r in other_store.list_workflow_runs()] == [their.run_id]
    assert store.count_workflow_runs() == other_store.count_workflow_runs() == 1
    assert store.get_workflow_run(their.run_id) is None
    with pytest.raises(RunNotFound):
        store.run_row(their.run_id)
    assert store.get_events(their.run_id) == []
    assert store.get_step_runs(their.run_id) == []
    assert store.get_step_logs(their.run_id) == []
    with pytest.raises(RunNotFound):
        store.request_cancel(their.run_id)
    with pytest.raises(RunNotFound):
        store.record_event(their.run_id, "custom")
    # Spec 002's store without an actor is the default workspace's.
    assert [r.run_id for r in HistoryStore(store.db, store.clock).list_workflow_runs()] == [
        mine.run_id
    ]


def test_a_run_of_another_workspace_cannot_be_saved_over(
    store: RunStore, other: Actor, clock: FrozenClock
) -> None:
    run = WorkflowRun(
        run_id="01J0000000000000000000000A", workflow_name="wf", created_at=clock.now()
    )
    store.acting_as(other).save_workflow_run(run)
    run.status = WorkflowStatus.FAILED

    with pytest.raises(RunNotFound):
        store.save_workflow_run(run)

    assert store.acting_as(other).run_row(run.run_id).status is WorkflowStatus.PENDING


def test_idempotency_keys_are_per_workspace(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, other: Actor
) -> None:
    Workflow("wf", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    other_runner = WorkflowRunner(
        store.acting_as(other), clock=runner.clock, workflow_registry=workflows
    )

    first = runner.submit("wf", idempotency_key="k")
    again = runner.submit("wf", idempotency_key="k")
    theirs = other_runner.submit("wf", idempotency_key="k")

    assert again.run_id == first.run_id
    assert theirs.run_id != first.run_id
    assert other_runner.submit("wf", idempotency_key="k").run_id == theirs.run_id


def test_statistics_count_only_the_workspace(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, other: Actor
) -> None:
    Workflow("wf", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    other_store = store.acting_as(other)
    other_runner = WorkflowRunner(other_store, clock=runner.clock, workflow_registry=workflows)
    runner.run("wf")
    for _ in range(3):
        other_runner.submit("wf")

    assert store.run_statistics().total_runs == 1
    assert store.run_statistics().completed == 1
    assert other_store.run_statistics().total_runs == 3
    assert other_store.run_statistics().pending == 3
    since = runner.clock.now() - timedelta(hours=1)
    assert other_store.run_statistics(since=since).total_runs == 3
    assert store.run_statistics(since=since).total_runs == 1
    # The rollup's rows are the workspace's, and a rebuild keeps them apart.
    store.rebuild_run_statistics()
    assert other_store.run_statistics().pending == 3
    assert store.run_statistics().completed == 1
    with store.db.engine.connect() as conn:
        per_workspace = dict(
            conn.execute(
                sa.select(stats_t.c.workspace_id, sa.func.sum(stats_t.c.run_count)).group_by(
                    stats_t.c.workspace_id
                )
            ).all()
        )
    assert per_workspace == {DEFAULT_WORKSPACE_ID: 1, other.workspace_id: 3}


def test_a_worker_finishes_the_runs_of_every_workspace(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, other: Actor
) -> None:
    Workflow("child", [Step.lambda_("c", lambda ctx: {"ok": True})], registry=workflows)
    Workflow(
        "parent",
        [
            Step.map("each", lambda ctx: [1, 2], Step.lambda_("item", lambda ctx: {"i": ctx.item})),
            Step.workflow("sub", "child"),
        ],
        registry=workflows,
    )
    listener = FinishedRuns()
    engine = WorkflowRunner(
        RunStore(store.db, store.clock, listeners=[listener]),
        clock=runner.clock,
        workflow_registry=workflows,
    )
    other_store = store.acting_as(other)
    other_runner = WorkflowRunner(other_store, clock=runner.clock, workflow_registry=workflows)
    mine = runner.submit("parent")
    theirs = other_runner.submit("parent")

    Worker(engine, concurrency=1).run(once=True)

    assert store.run_row(mine.run_id).status is WorkflowStatus.COMPLETED
    assert other_store.run_row(theirs.run_id).status is WorkflowStatus.COMPLETED
    # The child run belongs to its parent's workspace.
    their_runs = other_store.list_workflow_runs()
    assert {r.workflow_name for r in their_runs} == {"parent", "child"}
    assert {r.workspace_id for r in their_runs} == {other.workspace_id}
    assert {r.workflow_name for r in store.list_workflow_runs()} == {"parent", "child"}
    by_run = {e.subject_id: e.workspace_id for e in listener.events}
    assert by_run[theirs.run_id] == str(other.workspace_id)
    assert by_run[mine.run_id] == str(DEFAULT_WORKSPACE_ID)
    assert len(by_run) == 4


def test_prune_in_one_workspace_leaves_the_others_runs(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    store: RunStore,
    other: Actor,
    clock: FrozenClock,
) -> None:
    Workflow("wf", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    other_store = store.acting_as(other)
    other_runner = WorkflowRunner(other_store, clock=runner.clock, workflow_registry=workflows)
    runner.run("wf")
    theirs = other_runner.run("wf")
    clock.advance(timedelta(days=10))

    assert store.count_old_runs(1) == {"runs": 1, "steps": 1, "events": 5}
    assert store.delete_old_runs(1) == 1

    assert store.list_workflow_runs() == []
    assert [r.run_id for r in other_store.list_workflow_runs()] == [theirs.run_id]
    assert other_store.run_statistics().completed == 1
    assert store.run_statistics().total_runs == 0


def test_starting_and_cancelling_are_audited_for_users_only(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, other: Actor, db: Database
) -> None:
    Workflow("wf", [Step.wait("w", seconds=60)], registry=workflows)
    other_runner = WorkflowRunner(
        store.acting_as(other), clock=runner.clock, workflow_registry=workflows
    )
    run = other_runner.submit("wf", {"a": 1}, idempotency_key="k")
    other_runner.submit("wf", {"a": 1}, idempotency_key="k")  # the same run: no change
    store.acting_as(other).request_cancel(run.run_id)
    with pytest.raises(RunNotFound):
        store.request_cancel(run.run_id)  # refused: writes nothing
    system = WorkflowRunner(
        store.acting_as(Actor.system_in(other.workspace_id)),
        clock=runner.clock,
        workflow_registry=workflows,
    )
    system.submit("wf")

    rows = _audit_rows(db)
    assert [(r["entity_type"], r["action"]) for r in rows] == [
        ("run", "create"),
        ("run", "update"),
    ]
    assert {r["workspace_id"] for r in rows} == {other.workspace_id}
    assert {r["api_key_id"] for r in rows} == {None}
    assert {r["entity_id"] for r in rows} == {uuid.UUID(bytes=_ulid_bytes(run.run_id))}
    created, cancelled = rows[0]["changes"], rows[1]["changes"]
    assert created["workflow_name"] == {"old": None, "new": "wf"}
    assert created["params"] == {"old": None, "new": {"a": 1}}
    assert cancelled["status"] == {"old": "PENDING", "new": "CANCELLED"}
    assert cancelled["cancel_requested_at"]["old"] is None


def _ulid_bytes(run_id: str) -> bytes:
    from ulid import ULID

    return ULID.from_str(run_id).bytes


def test_steps_get_the_services_of_their_runs_workspace(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore, other: Actor
) -> None:
    Workflow("wf", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    asked: list[uuid.UUID | None] = []

    def in_workspace(workspace_id: uuid.UUID | None) -> StepServices:
        asked.append(workspace_id)
        return StepServices()

    engine = make_runner(step_services=StepServices(in_workspace=in_workspace))
    WorkflowRunner(store.acting_as(other), workflow_registry=workflows).submit("wf")

    assert Worker(engine).run(once=True) == 1
    assert asked == [other.workspace_id]
