"""The worker: claims due runs, a bounded number at a time, and shares them with others."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from spine import Step, Workflow
from spine.core.clock import FrozenClock
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.orchestration.worker import Worker
from tests.orchestration.invariants import assert_history_consistent, attempts, event_types


def test_once_executes_every_pending_run_then_returns(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    Workflow("wf", [Step.lambda_("s", lambda ctx: {"n": ctx.params["n"]})], registry=workflows)
    runs = [runner.submit("wf", {"n": n}) for n in range(5)]
    worker = Worker(runner, concurrency=2)

    assert worker.run(once=True) == 5

    assert sorted(r.outputs["n"] for r in worker.finished) == [0, 1, 2, 3, 4]
    assert {store.run_row(r.run_id).status for r in runs} == {WorkflowStatus.COMPLETED}
    assert worker.run(once=True) == 0


def test_worker_claims_only_workflows_it_knows(
    make_runner: Any,
    workflows: WorkflowRegistry,
    store: RunStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    Workflow("mine", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    Workflow("theirs", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    submitter = make_runner()
    mine, theirs = submitter.submit("mine"), submitter.submit("theirs")
    only_mine = WorkflowRegistry()
    only_mine.register(workflows.get("mine"))

    # A worker that knows no workflow (no --app) must not take, and fail, any run.
    assert Worker(make_runner(workflow_registry=WorkflowRegistry())).run(once=True) == 0
    assert "no workflow is registered" in caplog.text
    assert store.run_row(mine.run_id).status is WorkflowStatus.PENDING
    assert Worker(make_runner(workflow_registry=only_mine)).run(once=True) == 1

    assert store.run_row(mine.run_id).status is WorkflowStatus.COMPLETED
    assert store.run_row(theirs.run_id).status is WorkflowStatus.PENDING


def test_concurrency_bounds_the_runs_executed_at_once(
    runner: WorkflowRunner, workflows: WorkflowRegistry
) -> None:
    lock = threading.Lock()
    inside = 0
    peak = 0
    gate = threading.Barrier(2, timeout=5)

    def step(ctx: Any) -> None:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        gate.wait()  # two runs are inside together, or this breaks
        with lock:
            inside -= 1

    Workflow("wf", [Step.lambda_("s", step)], registry=workflows)
    for _ in range(6):
        runner.submit("wf")

    Worker(runner, concurrency=2).run(once=True)

    assert peak == 2
    assert not gate.broken


def test_workers_in_threads_execute_each_step_once(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore
) -> None:
    lock = threading.Lock()
    executed: list[tuple[str, str, int]] = []

    def step(ctx: Any) -> None:
        with lock:
            executed.append((ctx.run_id, ctx.step_name, ctx.attempt))

    Workflow("wf", [Step.lambda_(n, step) for n in ("a", "b", "c")], registry=workflows)
    submitter = make_runner()
    runs = [submitter.submit("wf") for _ in range(12)]
    workers = [Worker(make_runner(worker_id=f"w{i}"), concurrency=2) for i in range(3)]
    errors: list[BaseException] = []

    def work(worker: Worker) -> None:
        try:
            worker.run(once=True)
        except BaseException as error:  # reported by the test, not as a thread warning
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert {store.run_row(r.run_id).status for r in runs} == {WorkflowStatus.COMPLETED}
    assert len(executed) == 36
    assert Counter(executed).most_common(1)[0][1] == 1
    assert sum(w.executed for w in workers) == 12
    for run in runs:
        assert_history_consistent(store, run.run_id)


def test_stopped_worker_releases_its_run_for_another_to_finish(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore
) -> None:
    calls: list[str] = []
    stopping: list[Worker] = []

    def first(ctx: Any) -> dict[str, Any]:
        calls.append("first")
        stopping[0].stop()
        return {"token": 7}

    def second(ctx: Any) -> dict[str, Any]:
        calls.append("second")
        return {"token": ctx.outputs["first"]["token"]}

    Workflow(
        "wf", [Step.lambda_("first", first), Step.lambda_("second", second)], registry=workflows
    )
    leaving = Worker(make_runner(worker_id="leaving"))
    stopping.append(leaving)
    run = make_runner().submit("wf")

    leaving.run()

    released = store.run_row(run.run_id)
    assert released.status is WorkflowStatus.RUNNING
    assert "run.released" in event_types(store, run.run_id)
    assert Worker(make_runner(worker_id="staying")).run(once=True) == 1
    assert calls == ["first", "second"]
    finished = store.run_row(run.run_id)
    assert (finished.status, finished.outputs) == (WorkflowStatus.COMPLETED, {"token": 7})
    assert [a.status for a in attempts(store, run.run_id)["first"]] == [StepStatus.COMPLETED]
    assert_history_consistent(store, run.run_id)


def test_live_lease_is_not_taken_over(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    Workflow("wf", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    make_runner().submit("wf")
    holder = store.claim("holder", lease_seconds=10)
    assert holder is not None and not holder.taken_over

    clock.advance(10)
    assert store.claim("other", lease_seconds=10) is None
    assert store.renew_lease(holder.lease, 10)
    clock.advance(10)
    assert store.claim("other", lease_seconds=10) is None
    clock.advance(0.001)
    taken = store.claim("other", lease_seconds=10)

    assert taken is not None and taken.taken_over
    assert not store.renew_lease(holder.lease, 10)
