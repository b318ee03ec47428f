"""Failures explain themselves: tracebacks, step logs and run views, through the real CLI.

Every test runs the ``spine`` console script on SQLite and on PostgreSQL (``db_url``).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from spine.core.storage import Database
from spine.core.storage.schema.workflow_history import core_workflow_step_logs
from spine.orchestration.history import WorkflowStatus
from spine.orchestration.store import RunStore
from tests.cli.spine_process import SPINE, Completed, run_spine, run_spines, wait_for

APP = textwrap.dedent(
    """
    import time
    from pathlib import Path

    from spine import RetryPolicy, Step, Workflow

    GO = Path(__file__).with_name("go")


    def check_week(week):
        raise ValueError(f"bad week_ending {week!r}")


    def parse(ctx):
        ctx.log.info("parsing %s", "2025-13-01")
        try:
            check_week("2025-13-01")
        except ValueError as error:
            raise RuntimeError("cannot parse the file") from error


    def greet(ctx):
        ctx.log.info("hello from greet")
        return {}


    def flaky(ctx):
        ctx.log.info("trying, attempt %d", ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("the server went away")
        ctx.log.warning("worked at attempt %d", ctx.attempt)
        return {}


    def chatty(ctx):
        for i in range(100_000):
            ctx.log.info("line %d", i)
        return {}


    def wait_for_go(ctx):
        ctx.log.info("waiting for go")
        deadline = time.monotonic() + 120
        while not GO.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        ctx.log.info("went")
        return {}


    def noop(ctx):
        return {}


    def last(ctx):
        raise ValueError("the last step fails")


    ONCE = RetryPolicy(max_attempts=2, backoff_seconds=0, jitter=0)
    Workflow("logs.boom", [Step.lambda_("greet", greet), Step.lambda_("parse", parse)])
    Workflow("logs.flaky", [Step.lambda_("greet", greet), Step.lambda_("flaky", flaky, ONCE)])
    Workflow("logs.chatty", [Step.lambda_("chatty", chatty)])
    Workflow("logs.wait", [Step.lambda_("greet", greet), Step.lambda_("wait", wait_for_go)])
    Workflow(
        "logs.long",
        [Step.lambda_(f"s{i}", noop) for i in range(33)]
        + [Step.lambda_("flaky", flaky, ONCE), Step.lambda_("last", last)],
    )
    """
)


def cli(tmp_path: Path, url: str) -> Callable[..., Completed]:
    """``spine(*args)`` with the database and the test app."""
    (tmp_path / "logs_app.py").write_text(APP)

    def spine(*args: str, env: dict[str, str] | None = None) -> Completed:
        return run_spine("--database-url", url, "--app", "logs_app", *args, cwd=tmp_path, env=env)

    return spine


def spines(tmp_path: Path, url: str, *commands: list[str]) -> list[Completed]:
    """Run ``spine --database-url URL --app logs_app COMMAND`` for each, side by side."""
    return run_spines(
        [(["--database-url", url, "--app", "logs_app", *c], None, tmp_path) for c in commands]
    )


def run_id_of(done: Completed) -> str:
    return done.stdout.splitlines()[0]


def popen(tmp_path: Path, url: str, *args: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    return subprocess.Popen(
        [str(SPINE), "--database-url", url, "--app", "logs_app", *args],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Lines:
    """Reads a process's pipe on a thread, so a test can wait for a line without blocking."""

    def __init__(self, pipe: object) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: object) -> None:
        with pipe:  # type: ignore[attr-defined]
            for line in pipe:  # type: ignore[attr-defined]
                self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> str:
        self._thread.join(60)
        return self.text()


def test_a_failed_step_shows_its_traceback_with_the_users_frames(
    tmp_path: Path, db_url: str
) -> None:
    spine = cli(tmp_path, db_url)
    run = spine("run", "logs.boom")
    assert run.code == 1, run.stderr
    run_id = run_id_of(run)

    shown, as_json = spines(
        tmp_path,
        db_url,
        ["runs", "show", run_id],
        ["runs", "show", run_id, "--json"],
    )

    assert shown.code == 0, shown.stderr
    assert "Traceback of parse (attempt 1):" in shown.stdout
    assert "in check_week" in shown.stdout
    assert "RuntimeError: cannot parse the file" in shown.stdout
    steps = {s["step_name"]: s for s in json.loads(as_json.stdout)["steps"]}
    traceback = steps["parse"]["error_traceback"]
    assert steps["greet"]["error_traceback"] is None
    # The user's frames and the exception chain, and none of the engine's frames.
    assert 'logs_app.py", line' in traceback
    assert "in parse" in traceback and "in check_week" in traceback
    assert "ValueError: bad week_ending '2025-13-01'" in traceback
    assert "direct cause of the following exception" in traceback
    assert "spine/orchestration" not in traceback
    assert "leaf.py" not in shown.stdout


def test_each_attempt_keeps_its_log_lines_and_logs_filters_by_step(
    tmp_path: Path, db_url: str
) -> None:
    spine = cli(tmp_path, db_url)
    run = spine("run", "logs.flaky")
    assert run.code == 0, run.stderr
    run_id = run_id_of(run)

    everything, flaky, as_json = spines(
        tmp_path,
        db_url,
        ["runs", "logs", run_id],
        ["runs", "logs", run_id, "--step", "flaky"],
        ["runs", "logs", run_id, "--json"],
    )

    assert everything.code == 0, everything.stderr
    lines = everything.stdout.splitlines()
    assert [line.split(" ", 2)[2].split(None, 1)[1] for line in lines] == [
        "greet[1] hello from greet",
        "flaky[1] trying, attempt 1",
        "flaky[2] trying, attempt 2",
        "flaky[2] worked at attempt 2",
    ]
    assert lines[3].split()[2] == "WARNING"
    assert "greet" not in flaky.stdout
    assert len(flaky.stdout.splitlines()) == 3
    attempts = [(a["step_name"], a["attempt"], len(a["lines"])) for a in json.loads(as_json.stdout)]
    assert attempts == [("greet", 1, 1), ("flaky", 1, 1), ("flaky", 2, 2)]


def test_a_step_that_logs_100k_lines_keeps_the_bound_and_is_pruned_with_its_run(
    tmp_path: Path, db_url: str, db: Database
) -> None:
    spine = cli(tmp_path, db_url)
    run = spine("run", "logs.chatty")
    assert run.code == 0, run.stderr
    run_id = run_id_of(run)

    logs = spine("runs", "logs", run_id, "--json")

    [attempt] = json.loads(logs.stdout)
    messages = [line["message"] for line in attempt["lines"]]
    assert attempt["dropped_lines"] > 90_000
    assert len(messages) == 100_000 - attempt["dropped_lines"] + 1  # the marker line
    assert messages[0] == "line 0" and messages[-1] == "line 99999"
    [marker] = [line for line in attempt["lines"] if line["level"] == "-"]
    assert f"{attempt['dropped_lines']} lines dropped" in marker["message"]
    stored = sum(len(m) for m in messages)
    assert stored < 64 * 1024

    pruned = spine("runs", "prune", "--older-than-days", "0", "--yes")

    assert pruned.code == 0, pruned.stderr
    query = sa.select(sa.func.count()).select_from(core_workflow_step_logs)
    with db.read() as conn:
        assert conn.execute(query).scalar_one() == 0


def test_spine_run_streams_step_logs_as_the_run_goes_and_json_stays_pure(
    tmp_path: Path, db_url: str
) -> None:
    cli(tmp_path, db_url)
    process = popen(tmp_path, db_url, "run", "logs.wait", "--json")
    stdout, stderr = Lines(process.stdout), Lines(process.stderr)
    try:
        wait_for(
            lambda: "wait[1] waiting for go" in stderr.text(), "the streamed line", seconds=120
        )
        assert process.poll() is None  # printed while the step still runs
        assert "greet[1] hello from greet" in stderr.text()
        (tmp_path / "go").touch()
        assert process.wait(120) == 0
    finally:
        process.kill()
        process.wait()
    out = json.loads(stdout.join())
    assert out["run"]["status"] == "COMPLETED"
    assert "wait[1] went" in stderr.join()


def test_logs_follow_prints_until_the_run_ends(tmp_path: Path, db_url: str, db: Database) -> None:
    spine = cli(tmp_path, db_url)
    submitted = spine("run", "logs.wait", "--no-wait")
    assert submitted.code == 0, submitted.stderr
    run_id = run_id_of(submitted)
    follow = popen(tmp_path, db_url, "runs", "logs", run_id, "--follow")
    worker = popen(tmp_path, db_url, "worker", "--once")
    out, follow_err, worker_out, worker_err = (
        Lines(p) for p in (follow.stdout, follow.stderr, worker.stdout, worker.stderr)
    )
    store = RunStore(db)
    try:
        # The first step's lines are stored when it ends; the run goes on.
        wait_for(
            lambda: "greet[1] hello from greet" in out.text(), "the first step's lines", seconds=120
        )
        assert store.run_row(run_id).status is WorkflowStatus.RUNNING
        assert follow.poll() is None
        (tmp_path / "go").touch()
        assert follow.wait(120) == 0
        assert worker.wait(120) == 0, worker_err.join()
    finally:
        for process in (follow, worker):
            process.kill()
            process.wait()
    worker_out.join()
    follow_err.join()
    text = out.join()
    assert "wait[1] waiting for go" in text and "wait[1] went" in text


def test_long_runs_are_summarised_unless_all_steps(tmp_path: Path, db_url: str) -> None:
    spine = cli(tmp_path, db_url)
    run = spine("run", "logs.long")
    assert run.code == 1, run.stderr
    run_id = run_id_of(run)

    show, show_all, run_all = spines(
        tmp_path,
        db_url,
        ["runs", "show", run_id],
        ["runs", "show", run_id, "--all-steps"],
        ["run", "logs.long", "--all-steps"],
    )

    for summary in (run.stdout, show.stdout):
        assert "35 steps (36 attempts): 34 COMPLETED, 1 FAILED" in summary
        assert "failed: last" in summary
        assert "retried: flaky (2 attempts)" in summary
        assert "slowest: " in summary
        assert "│ s20 " not in summary  # no row of the table
    assert "step.started and step.completed events not shown" in show.stdout
    assert "Traceback of last (attempt 1):" in show.stdout
    for every_row in (show_all.stdout, run_all.stdout):
        assert "│ s20 " in every_row
        assert "steps (36 attempts)" not in every_row


def test_events_name_their_steps(tmp_path: Path, db_url: str) -> None:
    spine = cli(tmp_path, db_url)
    run = spine("run", "logs.flaky")
    assert run.code == 0, run.stderr
    run_id = run_id_of(run)

    shown, as_json = spines(
        tmp_path,
        db_url,
        ["runs", "show", run_id],
        ["runs", "show", run_id, "--json"],
    )

    events = shown.stdout.split("Events", 1)[1]
    assert "greet #1" in events and "flaky #1" in events and "flaky #2" in events
    for step in json.loads(as_json.stdout)["steps"]:
        assert step["step_id"] not in events


def test_the_worker_logs_each_outcome_as_one_json_line(tmp_path: Path, db_url: str) -> None:
    spine = cli(tmp_path, db_url)
    submitted = spine("run", "logs.boom", "--no-wait")
    run_id = run_id_of(submitted)

    worker = spine("--log-format", "json", "worker", "--once", env={"SPINE_LOG_LEVEL": "info"})

    assert worker.code == 0, worker.stderr
    records = [json.loads(line) for line in worker.stderr.splitlines()]
    [outcome] = [r for r in records if "FAILED in" in r["message"]]
    assert outcome["level"] == "INFO"
    assert outcome["run_id"] == run_id
    assert "logs.boom" in outcome["message"]
    steps = [r for r in records if r.get("step") == "parse"]
    assert [r["message"] for r in steps] == ["parsing 2025-13-01"]
    assert steps[0]["run_id"] == run_id and steps[0]["attempt"] == 1
