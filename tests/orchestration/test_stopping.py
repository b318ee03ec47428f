"""A worker told to stop: the attempt in progress gets the grace, then is handed on.

In-process, real threads, on SQLite and PostgreSQL; the CLI side (signals, exit codes)
is in ``tests/cli/test_stopping.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from spine.core.clock import FrozenClock
from spine.orchestration import Step, Workflow
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.orchestration.worker import Worker
from tests.orchestration.invariants import assert_history_consistent, attempts, event_types


class Slow:
    """A step that waits for ``release``; says when an attempt started."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls: list[int] = []

    def __call__(self, ctx: Any) -> dict[str, Any]:
        self.calls.append(ctx.attempt)
        self.started.set()
        assert self.release.wait(60), "never released"
        return {"attempt": ctx.attempt}


def _stop_while_in_step(worker: Worker, slow: Slow) -> None:
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert slow.started.wait(60)
    worker.stop()
    thread.join(60)
    assert not thread.is_alive()


def test_an_attempt_past_the_grace_is_recorded_interrupted_and_its_run_due_at_once(
    make_runner: Callable[..., WorkflowRunner],
    workflows: WorkflowRegistry,
    store: RunStore,
    clock: FrozenClock,
) -> None:
    slow = Slow()
    after: list[str] = []
    Workflow(
        "wf",
        [Step.lambda_("slow", slow), Step.lambda_("after", lambda ctx: after.append("ran"))],
        registry=workflows,
    )
    first = make_runner(stop_grace_seconds=0.2, worker_id="first")
    run = first.submit("wf")

    _stop_while_in_step(Worker(first, concurrency=1), slow)

    (interrupted,) = attempts(store, run.run_id)["slow"]
    assert interrupted.status is StepStatus.FAILED
    assert (interrupted.error or "").startswith("interrupted: worker first#")
    assert interrupted.error_category == "UNAVAILABLE"
    assert store.lease_owner(run.run_id) is None
    assert store.wake_at_of(run.run_id) == clock.now()  # due now, no lease to wait for
    assert event_types(store, run.run_id)[-2:] == ["step.failed", "run.parked"]
    assert store.run_row(run.run_id).failed_steps == 0

    slow.release.set()
    Worker(make_runner(worker_id="second")).run(once=True)

    assert store.run_row(run.run_id).status is WorkflowStatus.COMPLETED
    assert [a.status for a in attempts(store, run.run_id)["slow"]] == [
        StepStatus.FAILED,
        StepStatus.COMPLETED,
    ]
    assert after == ["ran"]
    assert_history_consistent(store, run.run_id)


def test_an_attempt_that_ends_within_the_grace_completes_and_the_run_is_released(
    make_runner: Callable[..., WorkflowRunner], workflows: WorkflowRegistry, store: RunStore
) -> None:
    slow = Slow()
    Workflow(
        "wf",
        [Step.lambda_("slow", slow), Step.lambda_("after", lambda ctx: None)],
        registry=workflows,
    )
    runner = make_runner(stop_grace_seconds=60)
    run = runner.submit("wf")
    worker = Worker(runner, concurrency=1)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert slow.started.wait(60)
    worker.stop()
    slow.release.set()  # ends within the grace
    thread.join(60)
    assert not thread.is_alive()

    (done,) = attempts(store, run.run_id)["slow"]
    assert done.status is StepStatus.COMPLETED
    assert "after" not in attempts(store, run.run_id)  # no step starts after the stop
    assert store.lease_owner(run.run_id) is None
    assert event_types(store, run.run_id)[-1] == "run.released"


def test_a_drive_told_to_stop_leaves_a_wait_at_once(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    Workflow(
        "wf",
        [Step.wait("w", seconds=3600), Step.lambda_("after", lambda ctx: None)],
        registry=workflows,
    )
    run = runner.submit("wf")
    slept: list[float] = []
    sleep = clock.sleep

    def sleep_then_stop(seconds: float) -> None:
        slept.append(seconds)
        sleep(seconds)
        runner.stopping.set()  # as Ctrl-C does, during the wait

    clock.sleep = sleep_then_stop  # type: ignore[method-assign]
    left = runner.drive(run.run_id)

    assert left.status is WorkflowStatus.RUNNING
    assert sum(slept) < 3600
    assert store.wake_at_of(run.run_id) is not None
