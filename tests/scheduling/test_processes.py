"""Three real ``spine scheduler`` processes on one database; one is SIGKILLed.

Counted per ``(schedule_id, scheduled_at)``: no fire is recorded twice and none is lost
(each schedule's fires form an unbroken sequence up to its ``next_run_at``), on SQLite
and on PostgreSQL. Interval schedules of 1 s and a 1 s lock keep it to seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from spine import Step, Workflow
from spine.core.clock import SystemClock
from spine.core.storage import Database, create_database
from spine.core.storage.schema.scheduler import (
    core_schedule_locks,
    core_schedule_runs,
    core_schedules,
)
from spine.core.storage.schema.workflow_history import core_workflow_runs
from spine.orchestration.registry import WorkflowRegistry
from spine.scheduling import ScheduleStore, new_schedule
from tests.cli.spine_process import SPINE

APP = """
from spine import Step, Workflow

Workflow("demo.tick", [Step.lambda_("a", lambda ctx: None)])
"""
SCHEDULES = 30


def _start(cwd: Path, url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    env.update(
        SPINE_DATABASE_URL=url,
        SPINE_APP="sched_app",
        SPINE_SCHEDULER_LOCK_SECONDS="1",
        SPINE_SCHEDULER_MAX_SLEEP_SECONDS="0.2",
        SPINE_SCHEDULER_BATCH_SIZE="10",
    )
    return subprocess.Popen(
        [str(SPINE), "scheduler"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _kill_while_holding_locks(process: subprocess.Popen[str], database: Database) -> int:
    """SIGKILL ``process`` at a moment it holds schedule locks; return how many it held.

    The process is frozen (SIGSTOP) and its locks counted; if it holds none it is thawed
    and tried again a little later. A scheduler holds locks only inside its passes, about
    2 % of the time with these settings, so it may take a few hundred tries: up to 2,000
    (about 50 s) before giving up.
    """
    owner = f"{socket.gethostname()}:{process.pid}:%"
    query = sa.select(sa.func.count()).where(core_schedule_locks.c.locked_by.like(owner))
    for _ in range(2000):
        process.send_signal(signal.SIGSTOP)
        with database.read() as conn:
            held = int(conn.execute(query).scalar() or 0)
        if held:
            process.send_signal(signal.SIGKILL)
            return held
        process.send_signal(signal.SIGCONT)
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    return 0


def test_three_schedulers_one_killed_no_fire_doubled_or_lost(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "sched_app.py").write_text(APP)
    registry = WorkflowRegistry()
    Workflow("demo.tick", [Step.lambda_("a", lambda ctx: None)], registry=registry)
    database = create_database(db_url)
    store = ScheduleStore(database, SystemClock())
    now = datetime.now(UTC)
    for i in range(SCHEDULES):
        store.add(
            new_schedule(
                f"s{i:02d}", workflow="demo.tick", now=now, registry=registry, every=1,
                catchup="all", max_instances=10_000,
            )
        )  # fmt: skip

    def fires(name: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(core_schedule_runs)
        if name is not None:
            query = query.where(core_schedule_runs.c.schedule_name == name)
        with database.read() as conn:
            return int(conn.execute(query).scalar() or 0)

    processes = [_start(tmp_path, db_url) for _ in range(3)]
    try:
        _wait_for(lambda: fires() >= SCHEDULES)
        held = _kill_while_holding_locks(processes[0], database)
        processes[0].communicate(timeout=30)
        assert held, "the killed scheduler held no lock: the takeover was not exercised"
        # A schedule added by another process while the schedulers run is picked up.
        store.add(
            new_schedule(
                "late", workflow="demo.tick", now=datetime.now(UTC), registry=registry,
                every=1, catchup="all", max_instances=10_000,
            )
        )  # fmt: skip
        seen = fires()
        _wait_for(lambda: fires() >= seen + SCHEDULES * 2 and fires("late") >= 2)
    finally:
        for process in processes[1:]:
            process.send_signal(signal.SIGTERM)
        for process in processes[1:]:
            _out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
    assert processes[0].returncode == -signal.SIGKILL

    with database.read() as conn:
        rows = conn.execute(
            sa.select(
                core_schedule_runs.c.schedule_id,
                core_schedule_runs.c.scheduled_at,
                core_schedule_runs.c.status,
                core_schedule_runs.c.run_id,
            )
        ).all()
        schedules = {
            r.id: r
            for r in conn.execute(
                sa.select(
                    core_schedules.c.id,
                    core_schedules.c.name,
                    core_schedules.c.created_at,
                    core_schedules.c.next_run_at,
                )
            )
        }
        scheduled_runs = conn.execute(
            sa.select(sa.func.count())
            .select_from(core_workflow_runs)
            .where(core_workflow_runs.c.schedule_id.is_not(None))
        ).scalar()
    database.dispose()

    per_fire: dict[tuple[str, datetime], int] = defaultdict(int)
    by_schedule: dict[str, list[datetime]] = defaultdict(list)
    for row in rows:
        per_fire[(row.schedule_id, row.scheduled_at)] += 1
        by_schedule[row.schedule_id].append(row.scheduled_at)
        assert row.status == "RUNNING" and row.run_id is not None
    assert max(per_fire.values()) == 1  # none doubled
    assert scheduled_runs == len(rows)  # no workflow run without its fire
    assert set(by_schedule) == set(schedules)  # every schedule fired, the late one too
    for schedule_id, times in by_schedule.items():
        schedule = schedules[schedule_id]
        times.sort()
        expected = [schedule.created_at + timedelta(seconds=k) for k in range(1, len(times) + 1)]
        assert times == expected, schedule.name  # none lost
        assert schedule.next_run_at == times[-1] + timedelta(seconds=1)
