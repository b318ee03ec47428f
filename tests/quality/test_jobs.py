"""Check schedules and jobs: queued by the scheduler's hook, claimed durably by workers."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from spine.bootstrap import Services
from spine.core.clock import FrozenClock
from spine.core.storage.schema.dq_platform import check_results, jobs, schedules
from spine.quality import JobStatus
from spine.quality.errors import ClaimLost
from spine.quality.jobs import JobWorker


def _rows(services: Services, table: sa.Table) -> list[dict[str, object]]:
    return services.database.run_read(
        lambda conn: [dict(r) for r in conn.execute(sa.select(table)).mappings()]
    )


def _worker(services: Services, name: str, **kwargs: int) -> JobWorker:
    worker = services.check_worker()
    worker.worker_id = name
    for key, value in kwargs.items():
        setattr(worker, key, value)
    return worker


def test_due_schedules_queue_one_job_each_and_a_worker_runs_a_table_in_one_scan(
    services: Services, clock: FrozenClock
) -> None:
    quality = services.quality
    for name, kind in (("rows", "row_count"), ("cols", "column_count")):
        quality.add_check(
            name, connection="shop", check_type=kind, table="orders", cron="0 * * * *"
        )
    [schedule, _] = _rows(services, schedules)
    assert schedule["next_run_at"] == clock.now().replace(minute=0) + timedelta(hours=1)
    scheduling = services.check_scheduling()
    # Not due yet: nothing queued; the hook says when to look again.
    assert scheduling.tick() == schedule["next_run_at"]
    assert _rows(services, jobs) == []
    clock.advance(timedelta(hours=1))
    other = services.check_scheduling()
    scheduling.tick()
    other.tick()  # a second scheduler at the same moment queues nothing more
    queued = quality.list_jobs()
    assert len(queued) == 2
    assert {j.triggered_by for j in queued} == {"schedule"}
    assert all(j.schedule_id is not None and j.status is JobStatus.QUEUED for j in queued)
    moved = _rows(services, schedules)
    assert {s["next_run_at"] for s in moved} == {clock.now() + timedelta(hours=1)}
    worker = _worker(services, "w1")
    assert worker.run(once=True) == 2
    done = quality.list_jobs()
    assert {j.status for j in done} == {JobStatus.COMPLETED}
    results = _rows(services, check_results)
    assert len(results) == 2
    assert {j.result_id for j in done} == {r["id"] for r in results}
    assert len({r["executed_at"] for r in results}) == 1  # one scan for the table
    assert [o["name"] for o in quality.summary().due] == []


def test_a_job_whose_worker_died_is_finished_by_another_with_one_result(
    services: Services, clock: FrozenClock
) -> None:
    quality = services.quality
    quality.add_check("rows", connection="shop", check_type="row_count", table="orders")
    job = quality.queue_job("rows")
    store = services.quality_store()
    [(held, check)] = store.claim_jobs("dead", lease_seconds=30, max_attempts=3)
    assert held.id == job.id and held.attempts == 1
    # The lease holds: nobody else can take it.
    assert store.claim_jobs("alive", lease_seconds=30, max_attempts=3) == []
    clock.advance(timedelta(seconds=31))
    worker = _worker(services, "alive")
    assert worker.run(once=True) == 1
    finished = quality.get_job(str(job.id))
    assert finished.status is JobStatus.COMPLETED and finished.attempts == 2
    assert finished.claimed_by == "alive"
    # The first worker wakes up late: its recording is refused and writes nothing.
    from spine.quality.store import JobClaim, Recording

    late = Recording(
        check=check,
        executed_at=clock.now(),
        execution_time_ms=1,
        sensor_value=20,
        passed=True,
        severity=None,
        job=JobClaim(job_id=job.id, claimed_by="dead"),
    )
    with pytest.raises(ClaimLost):
        store.record(late)
    assert len(_rows(services, check_results)) == 1


def test_a_job_claimed_too_often_fails_and_a_disabled_checks_job_is_cancelled(
    services: Services, clock: FrozenClock
) -> None:
    quality = services.quality
    quality.add_check("rows", connection="shop", check_type="row_count", table="orders")
    quality.add_check("cols", connection="shop", check_type="column_count", table="orders")
    stuck = quality.queue_job("rows")
    store = services.quality_store()
    for n in range(2):
        assert len(store.claim_jobs(f"w{n}", lease_seconds=1, max_attempts=2)) == 1
        clock.advance(timedelta(seconds=2))
    assert store.claim_jobs("w3", lease_seconds=1, max_attempts=2) == []
    failed = quality.get_job(str(stuck.id))
    assert failed.status is JobStatus.FAILED and "abandoned" in (failed.error_message or "")
    later = quality.queue_job("cols")
    quality.set_enabled("cols", False)
    assert quality.get_job(str(later.id)).status is JobStatus.CANCELLED
    queued = quality.queue_job("rows")
    assert quality.cancel_job(str(queued.id)).status is JobStatus.CANCELLED
    assert [j.status for j in quality.list_jobs(status="cancelled")] == [
        JobStatus.CANCELLED,
        JobStatus.CANCELLED,
    ]


def test_the_scheduler_runs_the_check_hook(services: Services, clock: FrozenClock) -> None:
    services.quality.add_check(
        "rows", connection="shop", check_type="row_count", table="orders", cron="*/5 * * * *"
    )
    scheduler = services.scheduler()
    wake = scheduler.tick_extras()
    assert wake is not None and wake > clock.now()
    clock.advance(timedelta(minutes=5))
    scheduler.tick_extras()
    [job] = services.quality.list_jobs()
    assert job.triggered_by == "schedule"


def test_two_workers_at_once_run_each_job_once(services: Services, target: Path) -> None:
    with sqlite3.connect(target) as conn:
        for n in range(4):
            conn.execute(f"CREATE TABLE t{n} AS SELECT * FROM orders")
    quality = services.quality
    for n in range(4):
        for kind in ("row_count", "column_count"):
            quality.add_check(f"{kind}_{n}", connection="shop", check_type=kind, table=f"t{n}")
    queued = [quality.queue_job(c.name) for c in quality.list_checks()]
    workers = [_worker(services, f"w{n}", batch_size=1) for n in range(2)]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(w.executed for w in workers) == len(queued) == 8
    done = quality.list_jobs()
    assert {j.status for j in done} == {JobStatus.COMPLETED}
    assert {j.attempts for j in done} == {1}
    results = _rows(services, check_results)
    assert len(results) == 8
    # The two checks of a table ran in one scan, whichever worker took the table.
    by_table: dict[object, set[object]] = {}
    for job in done:
        check = quality.get_check(str(job.check_id))
        by_table.setdefault(check.target_table, set()).add(job.claimed_by)
    assert all(len(holders) == 1 for holders in by_table.values())


def test_two_schedulers_at_once_queue_each_due_time_once(
    services: Services, clock: FrozenClock
) -> None:
    quality = services.quality
    for n in range(30):
        quality.add_check(
            f"rows_{n:02d}",
            connection="shop",
            check_type="row_count",
            table="orders",
            cron="*/10 * * * *",
        )
    clock.advance(timedelta(minutes=10))
    hooks = [services.check_scheduling() for _ in range(2)]
    for hook in hooks:
        hook.batch_size = 7  # several transactions each, interleaved
    threads = [threading.Thread(target=hook.tick) for hook in hooks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queued = quality.list_jobs()
    assert len(queued) == 30
    assert len({j.check_id for j in queued}) == 30
