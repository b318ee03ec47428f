"""``spine standalone``: every loop of spine in one real process, stopped by real signals.

The process runs on a SQLite file with a small app; the tests drive it from outside as a
user would (the login link it prints, the API, ``spine run --no-wait``, a schedule, an
automation rule) and read what it did through spine's own stores.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from spine.bootstrap import Services, build
from spine.orchestration.history.types import WorkflowStatus
from tests.cli.long_running import Process, wait_for
from tests.cli.spine_process import run_spine

APP = """
import pathlib
import time

from spine import Step, Workflow

HERE = pathlib.Path(__file__).parent


def _wait_for_release(ctx):
    # A long step: it says it started, then runs until the test creates `release`.
    with (HERE / "started.txt").open("a") as started:
        started.write("started\\n")
    deadline = time.monotonic() + 120
    while not (HERE / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"released": True}


Workflow("tiny.hello", [Step.lambda_("a", lambda ctx: {"x": 1})])
Workflow("tiny.scheduled", [Step.lambda_("a", lambda ctx: {"x": 2})])
Workflow(
    "tiny.slow",
    [Step.lambda_("wait", _wait_for_release), Step.lambda_("after", lambda ctx: {"x": 3})],
)
"""

RULES = """
rules:
  - name: hello-done
    entity: core_workflow_runs
    trigger: on_update
    conditions:
      - {field_name: workflow_name, operator: equals, value: tiny.hello}
      - {field_name: status, operator: changed_to, value: COMPLETED}
    actions:
      - name: tell-oncall
        type: create_alert
        execution_order: 1
        config:
          title: "tiny.hello completed: {{ new.run_id }}"
          message: "{{ new.workflow_name }}"
          severity: low
          recipients: [{type: role, name: oncall}]
"""

_DASHBOARD = re.compile(r"(http://127\.0\.0\.1:\d+)/ui/\?token=([\w-]+)")
# The contract: stopped within 10 s of the first signal.
_STOP_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Standalone:
    """``spine standalone`` processes on one SQLite file, and that file's stores."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.db_url = f"sqlite:///{cwd / 'spine.db'}"
        (cwd / "tiny_app.py").write_text(APP)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
        self.env.update(
            SPINE_DATABASE_URL=self.db_url,
            SPINE_APP="tiny_app",
            SPINE_WORKER_POLL_SECONDS="0.2",
            SPINE_WORKER_LEASE_SECONDS="3",
            SPINE_SCHEDULER_MAX_SLEEP_SECONDS="0.2",
        )
        self.processes: list[Process] = []
        self._services: Services | None = None

    def spine(self, *args: str) -> str:
        """Run ``spine ARGS`` on the file; its stdout (it must succeed)."""
        done = run_spine(*args, cwd=self.cwd, env=self.env)
        assert (done.code, done.stderr) == (0, ""), done.stderr
        return done.stdout

    def start(self, **extra: str) -> tuple[Process, str]:
        """Start ``spine standalone``; the process and its base URL once it is listening."""
        env = {**self.env, **extra}
        process = Process.start(
            "standalone", ["standalone", "--port", str(_free_port())], self.cwd, env
        )
        self.processes.append(process)
        wait_for(lambda: _DASHBOARD.search(process.output), "the dashboard's URL", [process])
        match = _DASHBOARD.search(process.output)
        assert match is not None
        return process, match.group(1)

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = build(database_url=self.db_url)
        return self._services

    def status(self, run_id: str) -> WorkflowStatus:
        return self.services.runs.run_row(run_id).status

    def queue(self, workflow: str) -> str:
        """Queue a run the way a user does (``spine run --no-wait``); its id."""
        run_id: str = json.loads(self.spine("run", workflow, "--no-wait", "--json"))["run_id"]
        return run_id

    def started(self) -> int:
        path = self.cwd / "started.txt"
        return len(path.read_text().splitlines()) if path.exists() else 0

    def close(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait()
        if self._services is not None:
            self._services.close()


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    fixture = Standalone(tmp_path)
    try:
        yield fixture
    finally:
        fixture.close()


def _signal_and_wait(process: Process, sig: signal.Signals) -> tuple[int, float]:
    """Send ``sig``; the exit code and the seconds the process took to exit."""
    sent = time.monotonic()
    process.popen.send_signal(sig)
    code = process.popen.wait(timeout=60)
    return code, time.monotonic() - sent


def test_one_process_serves_runs_schedules_dispatches_and_stops_on_sigint(
    standalone: Standalone,
) -> None:
    standalone.spine("automation", "watch", "core_workflow_runs")
    standalone.spine("roles", "add", "oncall")
    (standalone.cwd / "rules.yaml").write_text(RULES)
    standalone.spine("automation", "apply", "rules.yaml")
    standalone.spine("schedules", "add", "soon", "--workflow", "tiny.scheduled", "--every", "2")

    process, base = standalone.start()
    output = process.output
    for loop in ("api", "worker", "check jobs", "scheduler", "alert delivery", "automation"):
        assert re.search(rf"^  {loop} +\S", output, re.MULTILINE), output
    assert f"API docs: {base}/docs" in output

    # The one-time link logs in (a session cookie), once.
    link = _DASHBOARD.search(output)
    assert link is not None
    with httpx.Client(base_url=base, timeout=10) as browser:
        login = browser.get(f"/ui/?token={link.group(2)}")
        assert login.status_code == 303, login.text
        assert "spine_session" in browser.cookies
        assert browser.get("/ui/").status_code == 200
    with httpx.Client(base_url=base, timeout=10) as other:
        again = other.get(f"/ui/?token={link.group(2)}")
        assert again.status_code == 303 and "/ui/login" in again.headers["location"]
        assert other.get("/health").json()["status"] == "ok"

    # The worker executes a queued run; the dispatcher answers its completion.
    run_id = standalone.queue("tiny.hello")
    wait_for(lambda: standalone.status(run_id) is WorkflowStatus.COMPLETED, "the run", [process])
    wait_for(
        lambda: any(
            e["status"] == "success" and e["rule"] == "hello-done"
            for e in json.loads(standalone.spine("automation", "executions", "--json"))
        ),
        "the rule's execution",
        [process],
    )
    # The scheduler fires the schedule; the worker completes the runs it queued.
    wait_for(
        lambda: standalone.services.runs.list_workflow_runs(
            workflow_name="tiny.scheduled", status=WorkflowStatus.COMPLETED.value, limit=1
        ),
        "a scheduled run",
        [process],
    )

    code, seconds = _signal_and_wait(process, signal.SIGINT)
    assert code == 0, process.output
    assert seconds < _STOP_SECONDS
    assert "Traceback" not in process.output
    assert "spine standalone stopped after" in process.output
    (line,) = [line for line in process.lines if line.startswith("stopping:")]
    assert line.rstrip().endswith("Ctrl-C again to stop now")


def test_sigterm_hands_a_long_step_back_and_a_second_signal_exits_at_once(
    standalone: Standalone,
) -> None:
    # SIGTERM while a step runs: the step gets its grace, then its run is handed back.
    first, _ = standalone.start(SPINE_WORKER_STOP_GRACE_SECONDS="1")
    run_id = standalone.queue("tiny.slow")
    wait_for(lambda: standalone.started() == 1, "the long step", [first])
    code, seconds = _signal_and_wait(first, signal.SIGTERM)
    assert code == 0, first.output
    assert seconds < _STOP_SECONDS
    assert "Traceback" not in first.output
    assert not standalone.status(run_id).is_terminal

    # Restarted, it takes the run up again; a second signal stops it at once.
    second, _ = standalone.start()
    wait_for(lambda: standalone.started() == 2, "the step again", [second])
    second.popen.send_signal(signal.SIGINT)
    wait_for(lambda: second.count("stopping:"), "the first signal's line", [second])
    code, seconds = _signal_and_wait(second, signal.SIGINT)
    assert code == 128 + signal.SIGINT, second.output
    assert seconds < _STOP_SECONDS

    # Nothing lost: once its lease expires the next start finishes the run.
    (standalone.cwd / "release").touch()
    third, _ = standalone.start()
    wait_for(lambda: standalone.status(run_id) is WorkflowStatus.COMPLETED, "the run", [third])
    code, _ = _signal_and_wait(third, signal.SIGTERM)
    assert code == 0, third.output


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_spine(
            "--database-url",
            f"sqlite:///{tmp_path / 'spine.db'}",
            "standalone",
            "--port",
            str(port),
            cwd=tmp_path,
        )
    assert done.code == 2
    assert (
        done.stderr.strip()
        == f"error: port {port} on 127.0.0.1 is in use: pass another with --port"
    )
    assert done.stdout == ""
