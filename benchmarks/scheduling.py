"""Scheduler speed with 10,000 enabled schedules, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.scheduling                      # SQLite, then PostgreSQL
    .venv/bin/python -m benchmarks.scheduling --backend sqlite
    .venv/bin/python -m benchmarks.scheduling --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Figures:
1. next fire time of every schedule (a mix of cron expressions in ten zones, intervals);
2. dispatching one minute's due fires when all 10,000 fall due at the same instant
   (``* * * * *``): one tick, fires recorded with their workflow runs;
3. dispatch lateness (recorded ``started_at`` minus ``scheduled_at``) of the real-time
   loop when 10,000 interval schedules of 60 s fall due spread over the minute, and of
   the all-at-once case.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
from _common import fresh_database, machine, median_seconds, row

from spine import Step, Workflow
from spine.core.clock import Clock, FrozenClock, SystemClock
from spine.core.ids import new_id
from spine.core.storage import Database
from spine.core.storage.schema.scheduler import core_schedule_runs, core_schedules
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.scheduling import Scheduler, ScheduleRunTracker, ScheduleStore
from spine.scheduling.triggers import trigger_for

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
    "Asia/Tokyo",
    "America/Los_Angeles",
]
CRONS = ["*/5 * * * *", "0 6 * * 1-5", "30 2 * * *", "15 */2 * * *", "0 0 1 * *", "@hourly"]


def _registry() -> WorkflowRegistry:
    registry = WorkflowRegistry()
    Workflow("bench.noop", [Step.lambda_("a", lambda ctx: None)], registry=registry)
    return registry


def _scheduler(database: Database, clock: Clock) -> Scheduler:
    store = RunStore(database, clock, listeners=(ScheduleRunTracker(),))
    runner = WorkflowRunner(
        store, clock=clock, workflow_registry=_registry(), pipeline_registry=PipelineRegistry()
    )
    return Scheduler(ScheduleStore(database, clock), runner, clock=clock, batch_size=500)


def _insert(database: Database, rows: list[dict[str, object]]) -> None:
    with database.write() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(sa.insert(core_schedules), rows[start : start + 1000])


def _base(i: int, now: datetime, **values: object) -> dict[str, object]:
    return {
        "id": new_id(),
        "name": f"bench.{i:05d}",
        "target_type": "workflow",
        "target_name": "bench.noop",
        "params": {},
        "timezone": "UTC",
        "enabled": True,
        "max_instances": 1_000,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "catchup": "coalesce",
        "cron_expression": None,
        "interval_seconds": None,
        "next_run_at": None,
        **values,
    }


def next_fire_figure(database: Database, count: int, repeat: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rows = []
    for i in range(count):
        if i % 4 == 3:
            rows.append(_base(i, now, schedule_type="interval", interval_seconds=60 + i % 600))
        else:
            rows.append(
                _base(
                    i,
                    now,
                    schedule_type="cron",
                    cron_expression=CRONS[i % len(CRONS)],
                    timezone=ZONES[i % len(ZONES)],
                )
            )
    _insert(database, rows)
    schedules = ScheduleStore(database, SystemClock()).list_schedules()

    def compute() -> None:
        for schedule in schedules:
            trigger_for(schedule).next_after(now)

    median, _ = median_seconds(compute, repeat)
    row(
        f"next fire time of {count:,} schedules",
        f"{median:.3f} s",
        f"{median / count * 1e6:.0f} µs each",
    )


def dispatch_figure(database: Database, count: int, repeat: int) -> list[float]:
    minute = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    created = minute - timedelta(seconds=30)
    _insert(
        database,
        [
            _base(i, created, schedule_type="cron", cron_expression="* * * * *", next_run_at=minute)
            for i in range(count)
        ],
    )
    clock = FrozenClock(minute)
    scheduler = _scheduler(database, clock)
    times = []
    for attempt in range(repeat):
        clock.set(minute + timedelta(minutes=attempt))
        start = time.perf_counter()
        fired = len(scheduler.tick())
        times.append(time.perf_counter() - start)
        assert fired == count, fired
    median = statistics.median(times)
    row(
        f"dispatch {count:,} fires due at one instant",
        f"{median:.2f} s",
        f"{count / median:,.0f} fires/s (median of {repeat})",
    )
    return times


def lateness_figure(database: Database, count: int, interval: int) -> None:
    # Fires spread evenly over the interval, starting now: the real-time loop.
    start = datetime.now(UTC) + timedelta(seconds=2)
    rows = []
    for i in range(count):
        first = start + timedelta(seconds=interval * i / count)
        rows.append(
            _base(
                i,
                first - timedelta(seconds=interval),
                schedule_type="interval",
                interval_seconds=interval,
                next_run_at=first,
            )
        )
    _insert(database, rows)
    scheduler = _scheduler(database, SystemClock())
    thread = threading.Thread(target=scheduler.run, daemon=True)
    thread.start()
    time.sleep(interval + 3)
    scheduler.stop()
    thread.join()
    _lateness(database, f"lateness, {count:,} fires spread over {interval} s")


def _lateness(database: Database, label: str) -> None:
    with database.read() as conn:
        rows = conn.execute(
            sa.select(core_schedule_runs.c.scheduled_at, core_schedule_runs.c.started_at).where(
                core_schedule_runs.c.started_at.is_not(None)
            )
        ).all()
    late = sorted((r.started_at - r.scheduled_at).total_seconds() for r in rows)
    if not late:
        row(label, "no fires")
        return
    p50 = late[len(late) // 2]
    p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
    row(f"{label}: p50", f"{p50 * 1000:.0f} ms", f"{len(late):,} fires")
    row(f"{label}: p99", f"{p99 * 1000:.0f} ms", f"goal < 1000 ms, {p99:.2f}x of it" if p99 else "")


def real_time_burst(database: Database, count: int) -> None:
    # All fall due at one real instant: lateness is the time to dispatch them all.
    due = datetime.now(UTC) + timedelta(seconds=2)
    _insert(
        database,
        [
            _base(i, due - timedelta(minutes=5), schedule_type="interval", interval_seconds=3600,
                  next_run_at=due)
            for i in range(count)
        ],
    )  # fmt: skip
    scheduler = _scheduler(database, SystemClock())
    thread = threading.Thread(target=scheduler.run, daemon=True)
    thread.start()
    while True:
        time.sleep(0.5)
        with database.read() as conn:
            done = conn.execute(sa.select(sa.func.count()).select_from(core_schedule_runs)).scalar()
        if done == count:
            break
    scheduler.stop()
    thread.join()
    _lateness(database, f"lateness, {count:,} fires due at one instant")


def figures(backend: str, count: int, repeat: int, interval: int) -> None:
    print(f"\n{backend}")
    with fresh_database(backend) as (database, _):
        next_fire_figure(database, count, repeat)
    with fresh_database(backend) as (database, _):
        dispatch_figure(database, count, repeat)
    with fresh_database(backend) as (database, _):
        real_time_burst(database, count)
    with fresh_database(backend) as (database, _):
        lateness_figure(database, count, interval)


def main() -> None:
    """Parse options and print every figure."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--postgres", help="PostgreSQL server URL (a scratch database is made)")
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--interval", type=int, default=60, help="seconds, for the lateness run")
    args = parser.parse_args()
    if args.postgres:
        _common.PG_URL = args.postgres
    print(f"machine: {machine()}")
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    for backend in backends:
        figures(backend, args.schedules, args.repeat, args.interval)


if __name__ == "__main__":
    main()
