"""Stopping is clean: what Ctrl-C and SIGTERM do to the work in progress.

Real ``spine`` processes, real signals, on SQLite and PostgreSQL. The slow step of the
test workflow says it started (a file per attempt) and then waits for the file
``release``: the tests decide when it may end, and never sleep to guess.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from spine.core.storage import Database, create_database
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.store import RunStore
from tests.cli.spine_process import (
    catches,
    in_its_loop,
    run_spine,
    start_spine,
    stop,
    wait_for,
)
from tests.orchestration.invariants import assert_history_consistent

APP = """
import time
from pathlib import Path

from spine import Step, Workflow


def slow(ctx):
    Path(f"started-{ctx.attempt}").touch()
    while not Path("release").exists():
        time.sleep(0.02)
    return {"slow": ctx.attempt}


def last(ctx):
    with open("last.log", "a") as log:
        log.write(ctx.run_id + "\\n")
    return {"last": True}


Workflow(
    "stop.slow",
    [
        Step.lambda_("first", lambda ctx: {"first": True}),
        Step.lambda_("slow", slow),
        Step.lambda_("last", last),
    ],
)
"""

# Workflows that park; ``once_app`` has only these.
PARKS = """
from spine import Step, Workflow

Workflow(
    "stop.parks",
    [
        Step.lambda_("before", lambda ctx: {"before": True}),
        Step.wait("pause", seconds=1),
        Step.lambda_("after", lambda ctx: {"after": True}),
    ],
)
Workflow(
    "stop.long_wait",
    [Step.wait("pause", seconds=3600), Step.lambda_("after", lambda ctx: None)],
)
"""

# Long enough that a run handed back is never taken over because its lease ran out.
LONG_LEASE = "600"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A working directory with the test workflows' module."""
    (tmp_path / "stop_app.py").write_text(APP + PARKS)
    (tmp_path / "once_app.py").write_text(PARKS)
    return tmp_path


@pytest.fixture
def store(db_url: str) -> Iterator[RunStore]:
    """The run store of the database the processes use."""
    database: Database = create_database(db_url)
    yield RunStore(database)
    database.dispose()


def _env(db_url: str, **more: str) -> dict[str, str]:
    return {
        "SPINE_DATABASE_URL": db_url,
        "SPINE_APP": "stop_app",
        "SPINE_WORKER_POLL_SECONDS": "0.2",
        "SPINE_WORKER_LEASE_SECONDS": LONG_LEASE,
        "SPINE_WORKER_STOP_GRACE_SECONDS": "1",
        **more,
    }


def _submit(app: Path, env: dict[str, str], workflow: str = "stop.slow") -> str:
    done = run_spine("run", workflow, "--no-wait", cwd=app, env=env)
    assert done.code == 0, done.stderr
    return done.stdout.strip()


def _interrupt_when_in_slow_step(
    process: subprocess.Popen[str], app: Path, sig: signal.Signals = signal.SIGINT
) -> None:
    wait_for((app / "started-1").exists, "the slow step to start", process)
    wait_for(lambda: catches(process.pid, signal.SIGINT), "the handlers", process)
    process.send_signal(sig)


def _said(path: Path, text: str) -> bool:
    return text in path.read_text()


def _slow_attempts(store: RunStore, run_id: str) -> list[tuple[StepStatus, str]]:
    return [(s.status, s.error or "") for s in store.steps_of(run_id) if s.step_name == "slow"]


def _completes_once(store: RunStore, run_id: str, app: Path) -> None:
    """The run COMPLETED, every step's output recorded once, the last step run once."""
    run = store.run_row(run_id)
    assert run.status is WorkflowStatus.COMPLETED, run.error
    completed = [s.step_name for s in store.steps_of(run_id) if s.status is StepStatus.COMPLETED]
    assert sorted(completed) == ["first", "last", "slow"]
    assert (app / "last.log").read_text().split() == [run_id]
    assert_history_consistent(store, run_id)


def test_ctrl_c_on_a_worker_hands_the_run_on_at_once(
    app: Path, db_url: str, store: RunStore
) -> None:
    env = _env(db_url)
    run_id = _submit(app, env)
    worker = start_spine("worker", "--concurrency", "1", cwd=app, env=env)
    _interrupt_when_in_slow_step(worker, app)
    stdout, stderr = stop(worker)

    assert worker.returncode == 0, stderr
    assert "stopping: finishing 1 run in progress" in stderr
    assert "Traceback" not in stderr
    assert "stopped after 1 run executions" in stdout
    # The attempt is recorded interrupted and the lease released: nobody holds the run,
    # and it is due now, not when the 600 s lease would have run out.
    ((status, error),) = _slow_attempts(store, run_id)
    assert status is StepStatus.FAILED
    assert error.startswith("interrupted: worker ")
    assert store.lease_owner(run_id) is None
    assert store.run_row(run_id).status is WorkflowStatus.RUNNING

    (app / "release").touch()
    resumed = run_spine("worker", "--once", cwd=app, env=env)
    assert resumed.code == 0, resumed.stderr
    assert [s for s, _ in _slow_attempts(store, run_id)] == [
        StepStatus.FAILED,
        StepStatus.COMPLETED,
    ]
    _completes_once(store, run_id, app)


def test_a_second_ctrl_c_stops_a_worker_at_once_and_loses_nothing(
    app: Path, db_url: str, store: RunStore, tmp_path: Path
) -> None:
    # A grace that never ends within the test: only the second Ctrl-C can end it.
    env = _env(db_url, SPINE_WORKER_STOP_GRACE_SECONDS="600", SPINE_WORKER_LEASE_SECONDS="2")
    run_id = _submit(app, env)
    said = tmp_path / "worker.err"
    worker = start_spine("worker", "--concurrency", "1", cwd=app, env=env, stderr=said)
    _interrupt_when_in_slow_step(worker, app)
    wait_for(lambda: _said(said, "stopping:"), "the first Ctrl-C's line", worker)
    worker.send_signal(signal.SIGINT)
    stop(worker)

    assert worker.returncode == 130, said.read_text()
    assert "stopping now" in said.read_text()
    assert "Traceback" not in said.read_text()
    # Left as a dead worker leaves it: another worker takes it over once the lease runs
    # out, and completes it.
    (app / "release").touch()
    other = start_spine("worker", "--concurrency", "1", cwd=app, env=env)
    try:
        wait_for(lambda: store.run_row(run_id).is_terminal, "the run to finish", other)
    finally:
        other.send_signal(signal.SIGTERM)
        stop(other)
    assert other.returncode == 0
    _completes_once(store, run_id, app)


def test_ctrl_c_on_spine_run_cancels_the_run(app: Path, db_url: str, store: RunStore) -> None:
    env = _env(db_url)
    process = start_spine("run", "stop.slow", cwd=app, env=env)
    _interrupt_when_in_slow_step(process, app)
    stdout, stderr = stop(process)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    run_id = stdout.split()[0]
    assert f"cancelling run {run_id}" in stderr
    run = store.run_row(run_id)
    assert run.status is WorkflowStatus.CANCELLED
    assert run.error == "cancelled: Ctrl-C in spine run"
    assert f"run {run_id} CANCELLED" in stderr
    assert store.lease_owner(run_id) is None
    assert_history_consistent(store, run_id)


def test_a_second_ctrl_c_on_spine_run_exits_at_once_and_the_run_is_still_cancelled(
    app: Path, db_url: str, store: RunStore, tmp_path: Path
) -> None:
    env = _env(db_url, SPINE_WORKER_STOP_GRACE_SECONDS="600", SPINE_WORKER_LEASE_SECONDS="2")
    said = tmp_path / "run.err"
    process = start_spine("run", "stop.slow", cwd=app, env=env, stderr=said)
    _interrupt_when_in_slow_step(process, app)
    wait_for(lambda: _said(said, "cancelling run"), "the first Ctrl-C's line", process)
    process.send_signal(signal.SIGINT)
    stdout, _ = stop(process)

    assert process.returncode == 130, said.read_text()
    run_id = stdout.split()[0]
    # The cancellation was recorded at the first Ctrl-C: the worker that takes the run
    # over when the dead process's lease runs out cancels it, with the reason.
    (app / "release").touch()
    worker = start_spine("worker", "--concurrency", "1", cwd=app, env=env)
    try:
        wait_for(lambda: store.run_row(run_id).is_terminal, "the run to end", worker)
    finally:
        worker.send_signal(signal.SIGTERM)
        stop(worker)
    run = store.run_row(run_id)
    assert (run.status, run.error) == (
        WorkflowStatus.CANCELLED,
        "cancelled: Ctrl-C in spine run",
    )
    assert not (app / "last.log").exists()
    assert_history_consistent(store, run_id)


def test_sigterm_on_spine_run_cancels_the_run_too(app: Path, db_url: str, store: RunStore) -> None:
    env = _env(db_url)
    process = start_spine("run", "stop.slow", cwd=app, env=env)
    _interrupt_when_in_slow_step(process, app, signal.SIGTERM)
    stdout, stderr = stop(process)

    assert process.returncode == 128 + signal.SIGTERM, stderr
    run = store.run_row(stdout.split()[0])
    assert (run.status, run.error) == (
        WorkflowStatus.CANCELLED,
        "cancelled: SIGTERM in spine run",
    )


def test_ctrl_c_on_spine_run_detach_hands_the_run_to_the_workers(
    app: Path, db_url: str, store: RunStore
) -> None:
    env = _env(db_url)
    process = start_spine("run", "stop.slow", "--detach", cwd=app, env=env)
    _interrupt_when_in_slow_step(process, app)
    stdout, stderr = stop(process)

    assert process.returncode == 130, stderr
    run_id = stdout.split()[0]
    assert f"run {run_id} handed back" in stderr
    assert store.run_row(run_id).status is WorkflowStatus.RUNNING
    assert store.lease_owner(run_id) is None

    (app / "release").touch()
    resumed = run_spine("worker", "--once", cwd=app, env=env)
    assert resumed.code == 0, resumed.stderr
    _completes_once(store, run_id, app)


def test_worker_once_continues_a_run_through_a_short_park(
    app: Path, db_url: str, store: RunStore
) -> None:
    env = _env(db_url)
    short = _submit(app, env, "stop.parks")
    long = _submit(app, env, "stop.long_wait")
    unknown = _submit(app, env, "stop.slow")

    # A worker that knows only the workflows that park.
    done = run_spine("worker", "--once", cwd=app, env={**env, "SPINE_APP": "once_app"})

    assert done.code == 0, done.stderr
    assert store.run_row(short).status is WorkflowStatus.COMPLETED
    assert store.run_row(long).status is WorkflowStatus.RUNNING
    assert store.run_row(unknown).status is WorkflowStatus.PENDING
    wake = store.wake_at_of(long)
    assert wake is not None
    assert (
        f"left: 1 run parked until {wake:%Y-%m-%dT%H:%M:%SZ}, "
        "1 run of workflows this worker does not know"
    ) in done.stdout


def test_a_long_running_command_in_its_loop_says_it_stops(app: Path, db_url: str) -> None:
    # The stop line names the runs in progress: none here.
    worker = start_spine("worker", cwd=app, env=_env(db_url))
    wait_for(in_its_loop(worker.pid), "the worker's loop", worker)
    worker.send_signal(signal.SIGTERM)
    _, stderr = stop(worker)
    assert worker.returncode == 0
    assert "stopping: finishing 0 runs in progress" in stderr
