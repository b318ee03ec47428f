"""Durable execution: a dead worker's run is resumed elsewhere, nothing done is done again.

The fast tests end a worker in-process (an exception that escapes the runner, like a
kill: nothing after it is recorded) and move a frozen clock past its lease. The slow
ones run real ``spine worker`` processes, kill one with SIGKILL, and run two at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from spine import RetryPolicy, Step, Workflow
from spine.core.clock import FrozenClock, SystemClock
from spine.core.storage import Database
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import MAX_INTERRUPTIONS, WorkflowRunner
from spine.orchestration.store import RunStore
from tests.orchestration.invariants import (
    all_events,
    assert_history_consistent,
    assert_nothing_running,
    attempts,
)

SPINE = Path(sys.executable).parent / "spine"


class Crash(BaseException):
    """Escapes the runner like a killed process: nothing after it is recorded."""


def crashing_workflow(workflows: WorkflowRegistry, calls: list[str], retry: RetryPolicy) -> None:
    def first(ctx: Any) -> dict[str, Any]:
        calls.append(f"first:{ctx.attempt}")
        return {"token": "from-first"}

    def second(ctx: Any) -> dict[str, Any]:
        calls.append(f"second:{ctx.attempt}")
        if ctx.attempt == 1:
            raise Crash
        return {"attempt": ctx.attempt}

    def third(ctx: Any) -> dict[str, Any]:
        calls.append(f"third:{ctx.attempt}")
        return {"seen": ctx.outputs["first"]["token"]}

    Workflow(
        "wf",
        [
            Step.lambda_("first", first),
            Step.lambda_("second", second, retry=retry),
            Step.lambda_("third", third),
        ],
        registry=workflows,
    )


def crash_first_worker(make_runner: Any, lease_seconds: float) -> tuple[str, str]:
    """Submit a run, and have a worker die in it; return the run id and the dead owner."""
    dying = make_runner(worker_id="dying", lease_seconds=lease_seconds)
    run = dying.submit("wf")
    claim = dying.claim()
    assert claim is not None
    with pytest.raises(Crash):
        dying.execute(claim)
    return run.run_id, claim.owner


def test_dead_workers_run_resumes_without_redoing_completed_steps(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock, db: Any
) -> None:
    calls: list[str] = []
    crashing_workflow(workflows, calls, RetryPolicy(max_attempts=3, backoff_seconds=0))
    run_id, dead = crash_first_worker(make_runner, lease_seconds=30)
    rescuer = make_runner(worker_id="rescuer", lease_seconds=30)

    assert rescuer.claim(run_id=run_id) is None  # the lease still runs
    clock.advance(timedelta(seconds=31))
    finished = rescuer.drive(run_id)

    assert finished.status is WorkflowStatus.COMPLETED
    assert calls == ["first:1", "second:1", "second:2", "third:1"]
    steps = attempts(store, run_id)
    assert [a.status for a in steps["first"]] == [StepStatus.COMPLETED]
    interrupted, retried = steps["second"]
    assert interrupted.status is StepStatus.FAILED
    assert interrupted.error == f"interrupted: worker {dead} stopped renewing its lease"
    assert interrupted.error_category == "UNAVAILABLE"
    assert retried.status is StepStatus.COMPLETED
    assert steps["third"][0].output_data == {"seen": "from-first"}
    assert finished.outputs == {"seen": "from-first"}
    assert (finished.completed_steps, finished.failed_steps) == (3, 0)
    resumed = [e for e in store.get_events(run_id) if e.event_type == "run.resumed"]
    assert [(e.payload["previous_worker"], e.payload["taken_over"]) for e in resumed] == [
        (dead, True)
    ]
    assert_nothing_running(db)
    assert_history_consistent(store, run_id)


def test_interrupted_step_runs_again_even_without_a_retry_policy(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    calls: list[str] = []
    crashing_workflow(workflows, calls, RetryPolicy(max_attempts=1))
    run_id, _ = crash_first_worker(make_runner, lease_seconds=5)
    clock.advance(6)

    finished = make_runner(worker_id="rescuer").drive(run_id)

    # A dead worker is not the step's failure: the attempt runs again.
    assert finished.status is WorkflowStatus.COMPLETED
    assert calls == ["first:1", "second:1", "second:2", "third:1"]
    assert (finished.completed_steps, finished.failed_steps) == (3, 0)
    assert_history_consistent(store, run_id)


def test_a_step_that_keeps_killing_its_worker_fails_the_run(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    calls: list[int] = []

    def poison(ctx: Any) -> None:
        calls.append(ctx.attempt)
        raise Crash

    Workflow("wf", [Step.lambda_("poison", poison)], registry=workflows)
    run_id = make_runner(worker_id="first").submit("wf").run_id
    for number in range(MAX_INTERRUPTIONS + 1):
        worker = make_runner(worker_id=f"w{number}", lease_seconds=5)
        claim = worker.claim(run_id=run_id)
        assert claim is not None
        with pytest.raises(Crash):
            worker.execute(claim)
        clock.advance(6)

    finished = make_runner(worker_id="last").drive(run_id)

    assert finished.status is WorkflowStatus.FAILED
    assert calls == list(range(1, MAX_INTERRUPTIONS + 2))
    assert finished.error is not None and "interrupted" in finished.error
    assert (finished.error_category, finished.failed_steps) == ("UNAVAILABLE", 1)
    assert_history_consistent(store, run_id)


def test_stalled_worker_stops_when_its_run_was_taken_over(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    taken: list[Any] = []
    rescuer = make_runner(worker_id="rescuer", lease_seconds=30)

    def stall(ctx: Any) -> dict[str, Any]:
        if ctx.attempt == 1:
            clock.advance(31)  # the worker hangs past its lease; another takes the run
            taken.append(rescuer.claim(run_id=ctx.run_id))
        return {"attempt": ctx.attempt}

    retry = RetryPolicy(max_attempts=2, backoff_seconds=0)
    Workflow("wf", [Step.lambda_("stall", stall, retry=retry)], registry=workflows)
    stalled = make_runner(worker_id="stalled", lease_seconds=30)
    run = stalled.submit("wf")
    claim = stalled.claim()
    assert claim is not None

    assert stalled.execute(claim) is None  # its late result is refused, not recorded
    assert taken[0] is not None and taken[0].taken_over
    finished = rescuer.execute(taken[0])

    assert finished is not None and finished.status is WorkflowStatus.COMPLETED
    first, second = attempts(store, run.run_id)["stall"]
    assert first.status is StepStatus.FAILED and first.error is not None
    assert first.error.startswith("interrupted")
    assert second.output_data == {"attempt": 2}
    assert_history_consistent(store, run.run_id)


def test_lease_keeper_renews_a_live_workers_lease(
    db: Database, workflows: WorkflowRegistry
) -> None:
    store = RunStore(db, SystemClock())
    started: list[str] = []
    claims: list[Any] = []

    def slow(ctx: Any) -> None:
        started.append(ctx.run_id)
        # Two and a half lease lengths. The lease is a whole second so that a busy CI
        # machine delaying the renewal thread by a few hundred ms cannot fail the test.
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            claims.append(store.claim("intruder", lease_seconds=1.0))
            time.sleep(0.1)

    Workflow("wf", [Step.lambda_("slow", slow)], registry=workflows)
    runner = WorkflowRunner(store, workflow_registry=workflows, lease_seconds=1.0)

    run = runner.run("wf")

    assert run.status is WorkflowStatus.COMPLETED
    assert claims and all(c is None for c in claims)


# ---------------------------------------------------------------- real processes

APP = textwrap.dedent(
    """
    import os
    import time

    from spine import RetryPolicy, Step, Workflow

    LOG = os.environ["DURABILITY_LOG"]


    def append(line):
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\\n").encode())
        finally:
            os.close(fd)


    def first(ctx):
        append(f"{ctx.run_id},first,{ctx.attempt}")
        return {"token": "from-first"}


    def second(ctx):
        append(f"{ctx.run_id},second,{ctx.attempt}")
        if ctx.attempt == 1:
            time.sleep(30)
        return {"attempt": ctx.attempt}


    def third(ctx):
        append(f"{ctx.run_id},third,{ctx.attempt}")
        return {"seen": ctx.outputs["first"]["token"]}


    Workflow(
        "durable.crash",
        [
            Step.lambda_("first", first),
            Step.lambda_("second", second, retry=RetryPolicy(max_attempts=3, backoff_seconds=0)),
            Step.lambda_("third", third),
        ],
    )


    def logged(name):
        def step(ctx):
            append(f"{ctx.run_id},{name},{ctx.attempt},{os.getpid()}")
            time.sleep(0.05)
            return {name: ctx.attempt}

        return step


    Workflow("durable.many", [Step.lambda_(name, logged(name)) for name in ("a", "b", "c")])
    """
)


class Processes:
    """Starts ``spine`` processes in one working directory; kills what is left."""

    def __init__(self, cwd: Path, url: str, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.url = url
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
        self.env.update(env, PYTHONPATH=str(cwd))
        self.started: list[subprocess.Popen[bytes]] = []

    def command(self, *args: str) -> list[str]:
        return [str(SPINE), "--database-url", self.url, "--app", "durable_app", *args]

    def run(self, *args: str) -> str:
        done = subprocess.run(
            self.command(*args), cwd=self.cwd, env=self.env, capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.cwd / f"process-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            self.command(*args), cwd=self.cwd, env=self.env, stdout=log, stderr=log
        )
        log.close()
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture
def processes(tmp_path: Path, db_url: str) -> Iterator[Callable[[dict[str, str]], Processes]]:
    (tmp_path / "durable_app.py").write_text(APP)
    made: list[Processes] = []

    def make(env: dict[str, str]) -> Processes:
        env = {"DURABILITY_LOG": str(tmp_path / "steps.log"), **env}
        made.append(Processes(tmp_path, db_url, env))
        return made[-1]

    yield make
    for group in made:
        group.close()


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds} s waiting for {what}")
        time.sleep(0.1)


def log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.slow
def test_killed_worker_process_is_resumed_by_another(
    processes: Callable[[dict[str, str]], Processes], db: Database, tmp_path: Path
) -> None:
    spine = processes({"SPINE_WORKER_LEASE_SECONDS": "1", "SPINE_WORKER_POLL_SECONDS": "0.2"})
    store = RunStore(db)
    log = tmp_path / "steps.log"
    run_id = spine.run("run", "durable.crash", "--no-wait").splitlines()[0]
    assert store.run_row(run_id).status is WorkflowStatus.PENDING

    doomed = spine.start("worker", "--concurrency", "1")
    wait_for(lambda: f"{run_id},second,1" in log_lines(log), 30, "the worker to enter step 2")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    assert store.run_row(run_id).status is WorkflowStatus.RUNNING
    rescuer = spine.start("worker", "--concurrency", "1")
    wait_for(lambda: store.run_row(run_id).is_terminal, 30, "the run to finish")
    spine.stop(rescuer)

    run = store.run_row(run_id)
    assert run.status is WorkflowStatus.COMPLETED, run.error
    assert log_lines(log) == [
        f"{run_id},first,1",
        f"{run_id},second,1",
        f"{run_id},second,2",
        f"{run_id},third,1",
    ]
    steps = attempts(store, run_id)
    assert [(a.attempt, a.status) for a in steps["first"]] == [(1, StepStatus.COMPLETED)]
    interrupted, retried = steps["second"]
    assert (interrupted.attempt, interrupted.status) == (1, StepStatus.FAILED)
    assert interrupted.error is not None and interrupted.error.startswith("interrupted")
    assert (retried.attempt, retried.status) == (2, StepStatus.COMPLETED)
    assert steps["third"][0].output_data == {"seen": "from-first"}
    assert (run.completed_steps, run.failed_steps) == (3, 0)
    events = store.get_events(run_id)
    assert [e.event_type for e in events].count("run.completed") == 1
    assert_history_consistent(store, run_id)
    assert_nothing_running(db)
    assert rescuer.returncode == 0


@pytest.mark.slow
def test_two_worker_processes_execute_each_step_once(
    processes: Callable[[dict[str, str]], Processes], db: Database, tmp_path: Path
) -> None:
    # A lease long enough that a loaded machine never lets one live worker take over
    # another's run: this test is about sharing, the other one about taking over.
    spine = processes({"SPINE_WORKER_LEASE_SECONDS": "10", "SPINE_WORKER_POLL_SECONDS": "0.2"})
    store = RunStore(db)
    registry = WorkflowRegistry()
    Workflow("durable.many", [Step.lambda_(n, lambda ctx: None) for n in "abc"], registry=registry)
    submitter = WorkflowRunner(store, workflow_registry=registry)
    run_ids = [submitter.submit("durable.many").run_id for _ in range(30)]

    workers = [spine.start("worker", "--concurrency", "2") for _ in range(2)]
    wait_for(lambda: all(store.run_row(r).is_terminal for r in run_ids), 60, "every run to finish")
    for worker in workers:
        spine.stop(worker)

    assert {store.run_row(r).status for r in run_ids} == {WorkflowStatus.COMPLETED}
    lines = [line.rsplit(",", 1) for line in log_lines(tmp_path / "steps.log")]
    executed = Counter(step for step, _ in lines)
    assert executed.most_common(1)[0][1] == 1, executed.most_common(3)
    assert set(executed) == {f"{r},{n},1" for r in run_ids for n in "abc"}
    assert len({pid for _, pid in lines}) == 2, "both workers should have taken runs"
    keys = [event.idempotency_key for event in all_events(db)]
    assert len(keys) == len(set(keys))
    for run_id in run_ids:
        assert_history_consistent(store, run_id)
    assert_nothing_running(db)
    assert [worker.returncode for worker in workers] == [0, 0]
