"""Cancellation: at once when no worker holds the run, else before its next step or item."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from spine import RetryPolicy, Step, Workflow, pipeline
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.orchestration.errors import RunFinished, RunNotFound
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.orchestration.worker import Worker
from tests.orchestration.invariants import (
    assert_history_consistent,
    assert_nothing_running,
    attempts,
    event_types,
    executions_of,
)


class Crash(BaseException):
    """Escapes the runner like a killed process: nothing after it is recorded."""


def test_pending_run_is_cancelled_at_once_and_never_runs(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    ran: list[str] = []
    Workflow("wf", [Step.lambda_("s", lambda ctx: ran.append("s"))], registry=workflows)
    run = runner.submit("wf")

    cancelled = store.request_cancel(run.run_id)

    assert cancelled.status is WorkflowStatus.CANCELLED
    assert (cancelled.error, cancelled.error_category, cancelled.error_retryable) == (
        "cancelled",
        "CANCELLED",
        False,
    )
    assert Worker(runner).run(once=True) == 0
    assert ran == []
    assert event_types(store, run.run_id) == [
        "run.created",
        "run.cancel_requested",
        "run.cancelled",
    ]
    assert_history_consistent(store, run.run_id)


def test_parked_run_is_cancelled_at_once(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    Workflow(
        "wf",
        [Step.wait("w", seconds=3600), Step.lambda_("after", lambda ctx: None)],
        registry=workflows,
    )
    run = runner.submit("wf")
    Worker(runner).run(once=True)

    cancelled = store.request_cancel(run.run_id)

    assert cancelled.status is WorkflowStatus.CANCELLED
    (wait,) = attempts(store, run.run_id)["w"]
    assert (wait.status, wait.error, wait.error_category) == (
        StepStatus.FAILED,
        "cancelled",
        "CANCELLED",
    )
    assert store.wake_at_of(run.run_id) is None
    assert_nothing_running(db)
    assert_history_consistent(store, run.run_id)


def test_held_run_stops_before_its_next_step(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    answers: list[WorkflowStatus] = []

    def first(ctx: Any) -> dict[str, Any]:
        answers.append(store.request_cancel(ctx.run_id).status)
        return {"done": True}

    ran: list[str] = []
    Workflow(
        "wf",
        [Step.lambda_("first", first), Step.lambda_("second", lambda ctx: ran.append("x"))],
        registry=workflows,
    )

    run = runner.run("wf")

    assert answers == [WorkflowStatus.RUNNING]  # marked; the worker stops it
    assert run.status is WorkflowStatus.CANCELLED
    assert ran == []
    assert [s.step_name for s in store.get_step_runs(run.run_id)] == ["first"]
    assert (run.completed_steps, run.failed_steps) == (1, 0)
    assert run.error_category == "CANCELLED"
    assert_nothing_running(db)
    assert_history_consistent(store, run.run_id)


def test_cancel_inside_a_map_starts_no_more_items(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    seen: list[int] = []

    def item(ctx: Any) -> None:
        seen.append(ctx.item)
        if ctx.item == 1:
            store.request_cancel(ctx.run_id)

    Workflow(
        "wf",
        [
            Step.map("m", lambda ctx: list(range(6)), Step.lambda_("i", item), concurrency=1),
            Step.lambda_("after", lambda ctx: seen.append(-1)),
        ],
        registry=workflows,
    )

    run = runner.run("wf")

    assert run.status is WorkflowStatus.CANCELLED
    assert seen == [0, 1]
    (m,) = attempts(store, run.run_id)["m"]
    assert (m.status, m.error_category) == (StepStatus.FAILED, "CANCELLED")
    assert_nothing_running(db)
    assert_history_consistent(store, run.run_id)


def test_cancelling_a_parent_cancels_its_running_child(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    parents: list[str] = []

    def cancel_parent(ctx: Any) -> None:
        store.request_cancel(parents[0])

    ran: list[str] = []
    Workflow(
        "child",
        [Step.lambda_("a", cancel_parent), Step.lambda_("b", lambda ctx: ran.append("b"))],
        registry=workflows,
    )
    Workflow(
        "parent",
        [
            Step.workflow("sub", "child", retry=RetryPolicy(max_attempts=3)),
            Step.lambda_("after", lambda ctx: ran.append("after")),
        ],
        registry=workflows,
    )
    run = runner.submit("parent")
    parents.append(run.run_id)

    finished = runner.drive(run.run_id)

    assert finished.status is WorkflowStatus.CANCELLED
    (sub,) = attempts(store, run.run_id)["sub"]
    child = store.run_row(sub.input_params["child_run_id"])
    assert child.status is WorkflowStatus.CANCELLED
    assert ran == []
    assert_nothing_running(db)
    assert_history_consistent(store, run.run_id)
    assert_history_consistent(store, child.run_id)


def test_cancelling_a_parked_parent_cancels_its_parked_child(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    Workflow("child", [Step.wait("w", seconds=60)], registry=workflows)
    Workflow("parent", [Step.workflow("sub", "child")], registry=workflows)
    run = runner.submit("parent")
    Worker(runner).run(once=True)
    (sub,) = attempts(store, run.run_id)["sub"]
    child_id = sub.input_params["child_run_id"]

    store.request_cancel(run.run_id)

    assert store.run_row(run.run_id).status is WorkflowStatus.CANCELLED
    assert store.run_row(child_id).status is WorkflowStatus.CANCELLED
    assert "run.cancel_requested" in event_types(store, child_id)
    assert_nothing_running(db)
    assert_history_consistent(store, run.run_id)
    assert_history_consistent(store, child_id)


def test_run_of_a_dead_worker_is_cancelled_at_once_with_its_execution(
    make_runner: Any,
    workflows: WorkflowRegistry,
    pipelines: PipelineRegistry,
    store: RunStore,
    clock: FrozenClock,
    db: Database,
) -> None:
    @pipeline("hang", registry=pipelines)
    def hang(ctx: Any) -> None:
        raise Crash

    Workflow("wf", [Step.pipeline("load", "hang")], registry=workflows)
    runner = make_runner(lease_seconds=10)
    run = runner.submit("wf")
    claim = runner.claim()
    assert claim is not None
    with pytest.raises(Crash):
        runner.execute(claim)
    clock.advance(timedelta(seconds=11))

    cancelled = store.request_cancel(run.run_id)

    assert cancelled.status is WorkflowStatus.CANCELLED
    (execution,) = executions_of(db, run.run_id)
    assert (execution["status"], execution["error_category"]) == ("CANCELLED", "CANCELLED")
    assert_nothing_running(db)
    assert_history_consistent(store, run.run_id)


def test_cancel_of_a_finished_or_unknown_run_is_refused(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    Workflow("wf", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    run = runner.run("wf")

    with pytest.raises(RunFinished, match=f"run {run.run_id} is already COMPLETED"):
        store.request_cancel(run.run_id)
    with pytest.raises(RunNotFound, match="unknown run 'nope'"):
        store.request_cancel("nope")
    assert store.run_row(run.run_id).status is WorkflowStatus.COMPLETED
