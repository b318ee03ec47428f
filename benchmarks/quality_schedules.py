"""Scheduled checks: 1,000 checks over 100 tables, all due every minute, on SQLite.

    .venv/bin/python -m benchmarks.quality_schedules                  # 3 minutes, 2 workers
    .venv/bin/python -m benchmarks.quality_schedules --minutes 1 --workers 1

Two schedulers (``CheckScheduling.tick``, the hook ``spine scheduler`` runs) and N check
workers (``JobWorker``, the loop ``spine worker`` runs in a thread) share one SQLite
database of spine, in real time; the checks read a second SQLite file (the user's
database) of 100 tables. Figures: jobs queued per minute (exactly one per check and due
time: two schedulers never queue one twice), the lag from due time (the minute) to the
job's result recorded (``jobs.completed_at``), p50/p95/p99/max, and the scans per
minute (one per table: the due checks of a table run together).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.storage.migrator import Migrator
from spine.core.storage.schema.dq_platform import check_results, jobs

KINDS = (
    ("row_count", None),
    ("null_count", "a"),
    ("null_percent", "s"),
    ("min", "b"),
    ("max", "b"),
    ("mean", "b"),
    ("distinct_count", "a"),
    ("max_length", "s"),
    ("sum", "a"),
    ("column_count", None),
)


def _user_database(path: Path, tables: int, rows: int) -> None:
    with sqlite3.connect(path) as conn:
        for t in range(tables):
            conn.execute(f"CREATE TABLE t{t:03d} (id INTEGER PRIMARY KEY, a INT, b REAL, s TEXT)")
            conn.executemany(
                f"INSERT INTO t{t:03d} VALUES (?, ?, ?, ?)",
                [
                    (i, None if i % 50 == 0 else i % 97, i * 0.5, None if i % 33 == 0 else f"s{i}")
                    for i in range(rows)
                ],
            )


def _setup(services: Services, target: Path, tables: int, checks: int) -> None:
    services.sources.connections.add("user", dialect="sqlite", database=str(target))
    quality = services.quality
    for n in range(checks):
        kind, column = KINDS[(n // tables) % len(KINDS)]
        quality.add_check(
            f"c{n:04d}",
            connection="user",
            check_type=kind,
            table=f"t{n % tables:03d}",
            column=column,
            cron="* * * * *",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=3, help="Minutes of due checks.")
    parser.add_argument("--workers", type=int, default=2, help="Check workers (threads).")
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1000, help="Rows per user table.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spine-bench-q-") as tmp:
        url = f"sqlite:///{tmp}/spine.db"
        target = Path(tmp) / "user.db"
        _user_database(target, args.tables, args.rows)
        settings = load_settings(
            database_url=url, secret_key=Fernet.generate_key().decode(), worker_poll_seconds=0.2
        )
        services = build(settings)
        Migrator(services.database).upgrade()
        started = time.monotonic()
        _setup(services, target, args.tables, args.checks)
        print(f"{machine()}")
        print(
            f"set-up: {args.checks} checks on {args.tables} tables of {args.rows} rows "
            f"in {time.monotonic() - started:.1f} s"
        )
        stop = threading.Event()

        def schedule_loop() -> None:
            hook = services.check_scheduling()
            while not stop.is_set():
                wake = hook.tick()
                now = services.clock.now()
                delay = 1.0 if wake is None else (wake - now).total_seconds()
                stop.wait(max(0.01, min(1.0, delay)))

        workers = [services.check_worker() for _ in range(args.workers)]
        threads = [threading.Thread(target=schedule_loop) for _ in range(2)]
        threads += [threading.Thread(target=w.run) for w in workers]
        first_due = services.quality_store().next_due()
        assert first_due is not None
        for thread in threads:
            thread.start()
        end = first_due + timedelta(minutes=args.minutes)
        while services.clock.now() < end:
            time.sleep(0.5)
        stop.set()  # no more queuing; the workers finish what is queued
        for thread in threads[:2]:
            thread.join()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            left = services.quality_store().list_jobs(
                status="queued"
            ) + services.quality_store().list_jobs(status="running")
            if not left:
                break
            time.sleep(0.5)
        for worker in workers:
            worker.stop()
        for thread in threads[2:]:
            thread.join()
        rows = services.database.run_read(
            lambda conn: conn.execute(
                sa.select(jobs.c.check_id, jobs.c.created_at, jobs.c.completed_at, jobs.c.status)
            ).all()
        )
        results = services.database.run_read(
            lambda conn: conn.execute(
                sa.select(check_results.c.executed_at, sa.func.count()).group_by(
                    check_results.c.executed_at
                )
            ).all()
        )
        services.close()
    per_due: Counter[tuple[object, object]] = Counter()
    lags: list[float] = []
    statuses: Counter[str] = Counter()
    for check_id, created, completed, status in rows:
        due = created.replace(second=0, microsecond=0)
        per_due[(check_id, due)] += 1
        statuses[status] += 1
        if completed is not None:
            lags.append((completed - due).total_seconds())
    minutes = len({due for _, due in per_due})
    print(
        f"jobs: {len(rows)} over {minutes} due minutes; statuses {dict(statuses)}; "
        f"queued twice for one due time: {sum(1 for n in per_due.values() if n > 1)}"
    )
    print(
        f"scans (distinct executed_at): {len(results)}, "
        f"{len(results) / max(1, minutes):.0f} per minute for {args.tables} tables"
    )
    if lags:
        lags.sort()
        q = statistics.quantiles(lags, n=100)
        print(
            f"lag due -> result (s): p50 {q[49]:.2f}  p95 {q[94]:.2f}  p99 {q[98]:.2f}  "
            f"max {lags[-1]:.2f}  ({args.workers} workers)"
        )


if __name__ == "__main__":
    main()
