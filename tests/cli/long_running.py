"""Real long-running ``spine`` processes (worker, scheduler, deliverer) and their work.

:class:`Fleet` prepares a database with the work they do (a multi-step run, an interval
schedule, a webhook channel) and reads back what they did through its own connection,
never through the proxy an outage test cuts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from spine import Step, Workflow
from spine.alerting import send_alert
from spine.bootstrap import build
from spine.core.clock import SystemClock
from spine.core.storage import Database, create_database
from spine.core.storage.schema.scheduler import core_schedule_runs, core_schedules
from spine.orchestration.history.types import WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.scheduling import ScheduleStore, new_schedule
from tests.alerting.conftest import WHSEC
from tests.alerting.receiver import Receiver
from tests.cli.spine_process import SPINE

STEPS = 12
APP = f"""
import time
from spine import Step, Workflow


def _slow(ctx):
    time.sleep(0.5)
    return {{"step": ctx.step_name}}


Workflow("outage.steps", [Step.lambda_(f"s{{i}}", _slow) for i in range({STEPS})])
Workflow("outage.tick", [Step.lambda_("a", lambda ctx: None)])
"""

COMMANDS = {
    "worker": ["worker", "--concurrency", "2"],
    "scheduler": ["scheduler"],
    "deliver": ["alerts", "deliver", "--poll-seconds", "0.2"],
}


def wait_for(
    condition: Callable[[], object],
    what: str,
    processes: list[Process] | None = None,
    timeout: float = 120.0,
) -> None:
    """Poll ``condition`` until true; fail if a process exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes or ():
            process.assert_alive()
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


@dataclass
class Process:
    """A ``spine`` process whose stdout and stderr are read as it runs."""

    name: str
    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, name: str, args: list[str], cwd: Path, env: dict[str, str]) -> Process:
        popen = subprocess.Popen(
            [str(SPINE), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        process = cls(name, popen)
        threading.Thread(target=process._read, daemon=True).start()
        return process

    def _read(self) -> None:
        assert self.popen.stdout is not None
        with self.popen.stdout:
            for line in self.popen.stdout:
                self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def assert_alive(self) -> None:
        if self.popen.poll() is not None:
            time.sleep(0.2)  # the reader's last lines
            raise AssertionError(
                f"spine {self.name} exited ({self.popen.returncode}):\n{self.output}"
            )

    def stop(self) -> int:
        """SIGTERM, then the exit code (SIGKILL after a minute)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise


@dataclass
class Fleet:
    """The work of a worker, a scheduler and a delivery worker on one database."""

    db_url: str
    cwd: Path
    receiver: Receiver
    database: Database = field(init=False)
    runner: WorkflowRunner = field(init=False)
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        (self.cwd / "outage_app.py").write_text(APP)
        registry = WorkflowRegistry()
        slow = [Step.lambda_(f"s{i}", lambda ctx: None) for i in range(STEPS)]
        Workflow("outage.steps", slow, registry=registry)
        Workflow("outage.tick", [Step.lambda_("a", lambda ctx: None)], registry=registry)
        self.database = create_database(self.db_url)
        clock = SystemClock()
        self.runner = WorkflowRunner(RunStore(self.database, clock), workflow_registry=registry)
        ScheduleStore(self.database, clock).add(
            new_schedule(
                "tick", workflow="outage.tick", now=datetime.now(UTC), registry=registry,
                every=1, catchup="all", max_instances=10_000,
            )
        )  # fmt: skip
        services = build(database_url=self.db_url, alerting_allow_private_urls=True)
        services.alerting().add_channel(
            "ops", "webhook", {"url": self.receiver.url(), "secret_ref": "env:HOOK_SECRET"}
        )
        services.close()

    def env(self, url: str, **extra: str) -> dict[str, str]:
        """The environment of a process connecting to ``url``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
        env.update(
            SPINE_DATABASE_URL=url,
            SPINE_APP="outage_app",
            SPINE_WORKER_POLL_SECONDS="0.2",
            SPINE_WORKER_LEASE_SECONDS="6",
            SPINE_SCHEDULER_MAX_SLEEP_SECONDS="0.2",
            SPINE_SCHEDULER_LOCK_SECONDS="3",
            SPINE_ALERTING_ALLOW_PRIVATE_URLS="true",
            HOOK_SECRET=WHSEC,
            **extra,
        )
        return env

    def start(self, url: str, names: list[str] | None = None, **extra: str) -> list[Process]:
        """Start the named processes (all three by default) on ``url``."""
        started = [
            Process.start(name, COMMANDS[name], self.cwd, self.env(url, **extra))
            for name in names or list(COMMANDS)
        ]
        self.processes.extend(started)
        return started

    def stop_all(self) -> dict[str, int]:
        """SIGTERM every process; their exit codes by name."""
        return {p.name: p.stop() for p in self.processes}

    # ------------------------------------------------------------ the work

    def submit(self) -> str:
        """A multi-step run for the worker; its id."""
        return self.runner.submit("outage.steps").run_id

    def alert(self, title: str) -> str:
        """An alert for the delivery worker; its id."""
        return send_alert("ERROR", title, "m", source="outage", database=self.database)

    def delivered(self, alert_id: str) -> bool:
        """Whether the receiver got the alert."""
        return any(
            json.loads(r.body)["data"]["alert_id"] == alert_id for r in self.receiver.requests
        )

    def steps_done(self, run_id: str) -> int:
        return self.runner.store.run_row(run_id).completed_steps

    def finished(self, run_id: str) -> bool:
        return self.runner.store.run_row(run_id).is_terminal

    def fires(self) -> int:
        with self.database.read() as conn:
            query = sa.select(sa.func.count()).select_from(core_schedule_runs)
            return int(conn.execute(query).scalar() or 0)

    def check_run(self, run_id: str) -> None:
        """The run completed each step once; no attempt failed but by interruption.

        An attempt under way when the database went away may be recorded FAILED as
        ``interrupted`` (its worker stopped renewing its lease) and run again: that is
        what happened, and it is not counted as a failure of the step.
        """
        run = self.runner.store.run_row(run_id)
        assert run.status is WorkflowStatus.COMPLETED, run
        assert run.completed_steps == STEPS
        steps = self.runner.store.get_step_runs(run_id)
        completed = [s.step_name for s in steps if s.status.value == "COMPLETED"]
        assert sorted(completed) == sorted(f"s{i}" for i in range(STEPS))
        for step in steps:
            if step.status.value != "COMPLETED":
                assert step.status.value == "FAILED" and step.error, step
                assert step.error.startswith("interrupted:"), step

    def check_fires(self) -> None:
        """Every fire of the schedule recorded once, none skipped (1 s apart, no gap)."""
        with self.database.read() as conn:
            times = sorted(conn.execute(sa.select(core_schedule_runs.c.scheduled_at)).scalars())
            schedule = conn.execute(sa.select(core_schedules)).one()
        assert len(times) == len(set(times))  # none doubled
        expected = [schedule.created_at + timedelta(seconds=k) for k in range(1, len(times) + 1)]
        assert times == expected  # none lost

    def close(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait()
        self.database.dispose()
