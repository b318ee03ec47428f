"""Check jobs (spec 004 ``jobs``): queued by the API and the scheduler, claimed by workers.

Claiming is durable. A worker writes its id and a lease on the jobs it takes
(``claimed_by``, ``lease_expires_at``, ``attempts`` + 1) with a conditional UPDATE (on
PostgreSQL after ``FOR UPDATE SKIP LOCKED``; SQLite's write lock serialises claims). A
job whose lease ran out (its worker died) is claimable again; after
``max_attempts`` claims it is recorded failed instead of run forever. The due jobs of one
table (connection, schema, table) are claimed together, so that they run in one scan.

Queuing scheduled checks moves ``schedules.next_run_at`` with a compare-and-set on its
old value, so two schedulers never queue one due time twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from spine.quality.models import CheckDefinition, Job, JobStatus
from spine.quality.store.rows import (
    check_from_row,
    check_query,
    checks_t,
    job_from_row,
    jobs_t,
    schedules_t,
)

log = logging.getLogger(__name__)

NextFire = Callable[[str, str, datetime], datetime]

#: The PostgreSQL advisory lock claims take in turn (any fixed 64-bit number).
_CLAIM_LOCK = 0x5350_494E_4551_4A42  # "SPINEQJB"


def insert_job(
    conn: sa.Connection,
    check_id: uuid.UUID,
    now: datetime,
    *,
    triggered_by: str,
    schedule_id: uuid.UUID | None = None,
    job_id: uuid.UUID | None = None,
) -> Job:
    """Queue a job for the check."""
    job = Job(
        id=job_id or uuid.uuid4(),
        check_id=check_id,
        status=JobStatus.QUEUED,
        created_at=now,
        triggered_by=triggered_by,
        schedule_id=schedule_id,
    )
    conn.execute(
        sa.insert(jobs_t).values(
            id=job.id,
            check_id=check_id,
            status=job.status.value,
            created_at=now,
            triggered_by=triggered_by,
            schedule_id=schedule_id,
            attempts=0,
        )
    )
    return job


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        jobs_t.c.status == JobStatus.QUEUED.value,
        sa.and_(jobs_t.c.status == JobStatus.RUNNING.value, jobs_t.c.lease_expires_at < now),
    )


def claim_table_batch(
    conn: sa.Connection,
    worker_id: str,
    now: datetime,
    *,
    lease_seconds: float,
    max_attempts: int,
    limit: int,
) -> list[tuple[Job, CheckDefinition]]:
    """Claim the oldest claimable jobs and every other claimable job of their tables.

    Up to ``limit`` oldest jobs choose the tables; all of those tables' due jobs are
    claimed with them, so that each table's due checks run in one scan.

    At most one job per check is claimed at a time (the others wait for the next
    batch). Jobs of a disabled check are cancelled; jobs claimed ``max_attempts``
    times already are failed.
    """
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # Claims take turns (as SQLite's write lock makes them): with SKIP LOCKED alone,
        # two workers could each lock one job of a table and split its scan in two.
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_LOCK)))
    joined = jobs_t.join(checks_t, checks_t.c.id == jobs_t.c.check_id)
    first_q = (
        sa.select(checks_t.c.connection_id, checks_t.c.target_schema, checks_t.c.target_table)
        .select_from(joined)
        .where(_claimable(now))
        .order_by(jobs_t.c.created_at, jobs_t.c.id)
        .limit(limit)
    )
    if postgres:
        first_q = first_q.with_for_update(of=jobs_t, skip_locked=True)
    keys = {tuple(row) for row in conn.execute(first_q)}
    if not keys:
        return []
    batch_q = (
        sa.select(jobs_t, *[c.label(f"chk_{c.name}") for c in checks_t.c])
        .select_from(joined)
        .where(
            _claimable(now),
            checks_t.c.connection_id.in_({k[0] for k in keys}),
            checks_t.c.target_table.in_({k[2] for k in keys}),
        )
        .order_by(jobs_t.c.created_at, jobs_t.c.id)
        .limit(limit * 10)
    )
    if postgres:
        batch_q = batch_q.with_for_update(of=jobs_t, skip_locked=True)
    rows = [
        row
        for row in conn.execute(batch_q).mappings().all()
        if (row["chk_connection_id"], row["chk_target_schema"], row["chk_target_table"]) in keys
    ]
    wanted: dict[uuid.UUID, Any] = {}
    for row in rows:
        job = job_from_row(row)
        if not row["chk_enabled"]:
            _end(conn, job.id, JobStatus.CANCELLED, now, "the check is disabled")
        elif job.attempts >= max_attempts:
            why = f"abandoned: claimed {job.attempts} times and never finished (workers died?)"
            _end(conn, job.id, JobStatus.FAILED, now, why)
        elif job.check_id not in wanted:
            wanted[job.check_id] = job
    if not wanted:
        return []
    checks = {
        c.id: c
        for c in (
            check_from_row(r)
            for r in conn.execute(check_query().where(checks_t.c.id.in_(list(wanted))))
            .mappings()
            .all()
        )
    }
    lease = now + timedelta(seconds=lease_seconds)
    ids = [job.id for job in wanted.values()]
    conn.execute(
        sa.update(jobs_t)
        .where(jobs_t.c.id.in_(ids), _claimable(now))
        .values(
            status=JobStatus.RUNNING.value,
            claimed_by=worker_id,
            lease_expires_at=lease,
            attempts=jobs_t.c.attempts + 1,
            started_at=sa.func.coalesce(jobs_t.c.started_at, now),
        )
    )
    # What this claim took (on PostgreSQL the rows are locked; on SQLite no other writer
    # runs): the jobs now held by this worker with this lease.
    took = {
        row[0]
        for row in conn.execute(
            sa.select(jobs_t.c.id).where(
                jobs_t.c.id.in_(ids),
                jobs_t.c.claimed_by == worker_id,
                jobs_t.c.lease_expires_at == lease,
            )
        )
    }
    claimed: list[tuple[Job, CheckDefinition]] = []
    for check_id, job in wanted.items():
        if job.id in took and check_id in checks:
            held = Job(
                id=job.id,
                check_id=job.check_id,
                status=JobStatus.RUNNING,
                created_at=job.created_at,
                started_at=job.started_at or now,
                triggered_by=job.triggered_by,
                schedule_id=job.schedule_id,
                attempts=job.attempts + 1,
                claimed_by=worker_id,
                lease_expires_at=lease,
            )
            claimed.append((held, checks[check_id]))
    return claimed


def _end(
    conn: sa.Connection, job_id: uuid.UUID, status: JobStatus, now: datetime, why: str
) -> None:
    conn.execute(
        sa.update(jobs_t)
        .where(jobs_t.c.id == job_id)
        .values(status=status.value, completed_at=now, error_message=why, lease_expires_at=None)
    )


def release(conn: sa.Connection, job_id: uuid.UUID, worker_id: str, error: str) -> bool:
    """Fail a held job that could not be recorded (an error outside any check)."""
    done = conn.execute(
        sa.update(jobs_t)
        .where(
            jobs_t.c.id == job_id,
            jobs_t.c.claimed_by == worker_id,
            jobs_t.c.status == JobStatus.RUNNING.value,
        )
        .values(status=JobStatus.FAILED.value, error_message=error, lease_expires_at=None)
    )
    return done.rowcount == 1


def queue_due(conn: sa.Connection, now: datetime, next_fire: NextFire, *, limit: int) -> list[Job]:
    """Queue one job for each due schedule of an enabled check; move its next run on.

    Fires missed while no scheduler ran are not made up: one job, then the next fire
    after now (a check measures the table as it is now; catching up would measure the
    same state several times).
    """
    query = (
        sa.select(
            schedules_t.c.id,
            schedules_t.c.check_id,
            schedules_t.c.cron_expression,
            schedules_t.c.timezone,
            schedules_t.c.next_run_at,
        )
        .join(checks_t, checks_t.c.id == schedules_t.c.check_id)
        .where(
            schedules_t.c.enabled == sa.true(),
            checks_t.c.enabled == sa.true(),
            schedules_t.c.next_run_at <= now,
        )
        # A table's checks next to each other: a batch rarely splits a table's scan.
        .order_by(
            schedules_t.c.next_run_at,
            checks_t.c.connection_id,
            checks_t.c.target_schema,
            checks_t.c.target_table,
        )
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=schedules_t, skip_locked=True)
    queued: list[Job] = []
    for schedule_id, check_id, cron, zone, due in conn.execute(query).all():
        values: dict[str, Any] = {"last_run_at": due, "updated_at": now}
        try:
            values["next_run_at"] = next_fire(cron, zone, now)
        except Exception as error:  # a schedule that cannot fire again stops, on record
            log.error("check schedule %s stopped: %s", schedule_id, error)
            values.update(next_run_at=None, enabled=False)
        job_id = uuid.uuid4()
        moved = conn.execute(
            sa.update(schedules_t)
            .where(schedules_t.c.id == schedule_id, schedules_t.c.next_run_at == due)
            .values(last_run_job_id=job_id, **values)
        )
        if moved.rowcount != 1:
            continue  # another scheduler queued this due time
        queued.append(
            insert_job(
                conn,
                check_id,
                now,
                triggered_by="schedule",
                schedule_id=schedule_id,
                job_id=job_id,
            )
        )
    return queued


def next_due(conn: sa.Connection) -> datetime | None:
    """The earliest ``next_run_at`` of an enabled schedule of an enabled check."""
    return conn.execute(
        sa.select(sa.func.min(schedules_t.c.next_run_at))
        .join(checks_t, checks_t.c.id == schedules_t.c.check_id)
        .where(schedules_t.c.enabled == sa.true(), checks_t.c.enabled == sa.true())
    ).scalar()


def listing(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    *,
    status: str | None = None,
    check_id: uuid.UUID | None = None,
    after: uuid.UUID | None = None,
    limit: int | None = None,
) -> list[Job]:
    """The workspace's jobs, newest first; ``after`` continues after that job."""
    query = (
        sa.select(jobs_t)
        .join(checks_t, checks_t.c.id == jobs_t.c.check_id)
        .where(checks_t.c.workspace_id == workspace_id)
    )
    if status is not None:
        query = query.where(jobs_t.c.status == status)
    if check_id is not None:
        query = query.where(jobs_t.c.check_id == check_id)
    if after is not None:
        mark = conn.execute(sa.select(jobs_t.c.created_at).where(jobs_t.c.id == after)).scalar()
        if mark is not None:
            query = query.where(
                sa.or_(
                    jobs_t.c.created_at < mark,
                    sa.and_(jobs_t.c.created_at == mark, jobs_t.c.id < after),
                )
            )
    query = query.order_by(jobs_t.c.created_at.desc(), jobs_t.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [job_from_row(r) for r in conn.execute(query).mappings()]


def get(conn: sa.Connection, workspace_id: uuid.UUID, job_id: uuid.UUID) -> Job | None:
    """The workspace's job ``job_id``."""
    row = (
        conn.execute(
            sa.select(jobs_t)
            .join(checks_t, checks_t.c.id == jobs_t.c.check_id)
            .where(checks_t.c.workspace_id == workspace_id, jobs_t.c.id == job_id)
        )
        .mappings()
        .first()
    )
    return None if row is None else job_from_row(row)
