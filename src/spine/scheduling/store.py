"""The scheduling part's only SQL: schedules, their fires (schedule runs) and locks.

Firing is two steps, as in APScheduler 4's data store. :meth:`ScheduleStore.acquire_due`
writes a lock with an expiry (``core_schedule_locks``) on each due schedule no live
scheduler holds; :meth:`ScheduleStore.record_fires` then records the fires, creates
their workflow runs, moves ``next_run_at`` on and drops the locks, in one transaction.
A scheduler that dies between the two leaves locks that expire, and another takes the
schedules over. Three things each make a double fire impossible: the lock, a
compare-and-set on ``next_run_at``, and the unique key ``(schedule_id, scheduled_at)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from spine.core.clock import Clock
from spine.core.errors import Conflict, NotFound
from spine.core.events import Connection as EventConnection
from spine.core.events import EventType, Listener, Publisher
from spine.core.ids import new_id
from spine.core.storage import Database, sql_connection
from spine.core.storage.dialect_sql import dialect_insert
from spine.core.storage.schema.scheduler import (
    core_schedule_locks as locks_t,
)
from spine.core.storage.schema.scheduler import (
    core_schedule_runs as runs_t,
)
from spine.core.storage.schema.scheduler import (
    core_schedules as schedules_t,
)
from spine.core.storage.types import UtcDateTime
from spine.orchestration.history.types import WorkflowRun
from spine.orchestration.store import insert_runs
from spine.scheduling.events import PUBLISHED, fire_event
from spine.scheduling.models import (
    CatchUp,
    Schedule,
    ScheduleRun,
    ScheduleRunOutcome,
    ScheduleRunStatus,
    ScheduleType,
)

log = logging.getLogger(__name__)

ACTIVE = (ScheduleRunStatus.PENDING.value, ScheduleRunStatus.RUNNING.value)


class ScheduleNotFound(NotFound):
    """No schedule has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown schedule {name!r}")
        self.name = name


@dataclass(frozen=True, slots=True)
class PlannedFire:
    """One fire to record; ``missed`` says why it is MISSED instead of run."""

    scheduled_at: datetime
    missed: str | None = None


@dataclass(frozen=True, slots=True)
class FirePlan:
    """What to record for one acquired schedule.

    Attributes:
        schedule: The schedule as acquired; its ``next_run_at`` must still be current.
        fires: The fires, in order.
        next_run_at: The schedule's next fire time afterwards (``None``: never again).
    """

    schedule: Schedule
    fires: tuple[PlannedFire, ...]
    next_run_at: datetime | None


#: Builds the workflow run of a fire (``WorkflowRunner.new_run`` with
#: ``triggered_by="schedule"``).
RunFactory = Callable[[Schedule, datetime], WorkflowRun]


class ScheduleStore:
    """Schedules and schedule runs on spine's database.

    Args:
        database: Spine's database.
        clock: Where creation and update times come from.
        listeners: Get ``schedule.fire`` for each fire recorded MISSED or FAILED, in
            the transaction that records it (``spine.core.events``).
    """

    def __init__(
        self, database: Database, clock: Clock, *, listeners: Sequence[Listener] = ()
    ) -> None:
        self.database = database
        self.clock = clock
        self.listeners = Publisher(listeners)

    # ------------------------------------------------------------ definitions

    def add(self, schedule: Schedule) -> Schedule:
        """Insert ``schedule``.

        Raises:
            Conflict: If a schedule with that name exists.
        """

        def work(conn: sa.Connection) -> None:
            if conn.execute(
                sa.select(schedules_t.c.id).where(schedules_t.c.name == schedule.name)
            ).first():
                raise Conflict(f"schedule {schedule.name!r} already exists")
            conn.execute(sa.insert(schedules_t).values(_values(schedule)))

        try:
            self.database.run_write(work)
        except exc.IntegrityError:
            raise Conflict(f"schedule {schedule.name!r} already exists") from None
        return schedule

    def get(self, name: str) -> Schedule:
        """The schedule named ``name``.

        Raises:
            ScheduleNotFound: If there is none.
        """
        row = self.database.run_read(
            lambda conn: conn.execute(
                sa.select(schedules_t).where(schedules_t.c.name == name)
            ).first()
        )
        if row is None:
            raise ScheduleNotFound(name)
        return _schedule(row._mapping)

    def list_schedules(self) -> list[Schedule]:
        """Every schedule, by name."""
        rows = self.database.run_read(
            lambda conn: conn.execute(sa.select(schedules_t).order_by(schedules_t.c.name)).all()
        )
        return [_schedule(r._mapping) for r in rows]

    def set_enabled(self, name: str, enabled: bool, next_run_at: datetime | None) -> Schedule:
        """Pause or resume ``name``, with its new ``next_run_at``.

        Raises:
            ScheduleNotFound: If there is none.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> int:
            return conn.execute(
                sa.update(schedules_t)
                .where(schedules_t.c.name == name)
                .values(
                    enabled=enabled,
                    next_run_at=next_run_at,
                    updated_at=now,
                    version=schedules_t.c.version + 1,
                )
            ).rowcount

        if not self.database.run_write(work):
            raise ScheduleNotFound(name)
        return self.get(name)

    def remove(self, name: str) -> None:
        """Delete ``name`` with its lock and its fires (workflow runs stay).

        Raises:
            ScheduleNotFound: If there is none.
        """
        deleted = self.database.run_write(
            lambda conn: (
                conn.execute(sa.delete(schedules_t).where(schedules_t.c.name == name)).rowcount
            )
        )
        if not deleted:
            raise ScheduleNotFound(name)

    def runs(self, schedule_id: str, limit: int = 20) -> list[ScheduleRun]:
        """The latest fires of a schedule, newest first."""
        rows = self.database.run_read(
            lambda conn: conn.execute(
                sa.select(runs_t)
                .where(runs_t.c.schedule_id == schedule_id)
                .order_by(runs_t.c.scheduled_at.desc(), runs_t.c.id.desc())
                .limit(limit)
            ).all()
        )
        return [_schedule_run(r._mapping) for r in rows]

    # ------------------------------------------------------------ firing

    def locks_installed(self) -> bool:
        """Whether ``core_schedule_locks`` (advanced tier) exists."""
        with self.database.engine.connect() as conn:
            return sa.inspect(conn).has_table(locks_t.name)

    def next_due(self, owner: str, targets: Sequence[str] | None) -> datetime | None:
        """When something may next be due for ``owner``.

        That is the earliest ``next_run_at`` of an enabled schedule no other live
        scheduler holds, or the earliest expiry of a lock another one holds.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> datetime | None:
            query = (
                sa.select(sa.func.min(schedules_t.c.next_run_at))
                .select_from(schedules_t.outerjoin(locks_t, _lock_join()))
                .where(schedules_t.c.enabled == sa.true(), _free_for(owner, now))
            )
            if targets is not None:
                query = query.where(schedules_t.c.target_name.in_(targets))
            due: datetime | None = conn.execute(query).scalar()
            held: datetime | None = conn.execute(
                sa.select(sa.func.min(locks_t.c.expires_at)).where(
                    locks_t.c.locked_by != owner, locks_t.c.expires_at >= now
                )
            ).scalar()
            candidates = [t for t in (due, held) if t is not None]
            return min(candidates) if candidates else None

        return self.database.run_read(work)

    def acquire_due(
        self,
        owner: str,
        *,
        until: datetime,
        limit: int,
        targets: Sequence[str] | None,
    ) -> list[Schedule]:
        """Lock up to ``limit`` due schedules for ``owner`` until ``until``; return them.

        A schedule is taken when it is enabled, due, and unlocked, or its lock expired, or
        ``owner`` holds it already. Only schedules whose target is in ``targets`` are
        taken (``None``: any).
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> list[Schedule]:
            query = (
                sa.select(schedules_t)
                .select_from(schedules_t.outerjoin(locks_t, _lock_join()))
                .where(
                    schedules_t.c.enabled == sa.true(),
                    schedules_t.c.next_run_at <= now,
                    _free_for(owner, now),
                )
                .order_by(schedules_t.c.next_run_at)
                .limit(limit)
            )
            if targets is not None:
                query = query.where(schedules_t.c.target_name.in_(targets))
            if conn.dialect.name == "postgresql":
                # Other schedulers skip rows this one is reading instead of queueing.
                query = query.with_for_update(of=schedules_t, skip_locked=True)
            found = [_schedule(r._mapping) for r in conn.execute(query)]
            if not found:
                return []
            statement = dialect_insert(conn, locks_t).values(
                [
                    {"schedule_id": s.id, "locked_by": owner, "locked_at": now, "expires_at": until}
                    for s in found
                ]
            )
            statement = statement.on_conflict_do_update(
                index_elements=["schedule_id"],
                set_={
                    "locked_by": statement.excluded.locked_by,
                    "locked_at": statement.excluded.locked_at,
                    "expires_at": statement.excluded.expires_at,
                },
                # Re-checked on the current row: a lock taken meanwhile stays.
                where=sa.or_(locks_t.c.expires_at < now, locks_t.c.locked_by == owner),
            ).returning(locks_t.c.schedule_id)
            taken = set(conn.execute(statement).scalars())
            return [s for s in found if s.id in taken]

        return self.database.run_write(work)

    def release(self, owner: str, schedule_ids: Iterable[str]) -> None:
        """Drop ``owner``'s locks on ``schedule_ids``."""
        ids = list(schedule_ids)
        if not ids:
            return
        self.database.run_write(
            lambda conn: conn.execute(
                sa.delete(locks_t).where(
                    locks_t.c.schedule_id.in_(ids), locks_t.c.locked_by == owner
                )
            )
        )

    def record_fires(
        self,
        owner: str,
        plans: Sequence[FirePlan],
        make_run: RunFactory,
    ) -> list[ScheduleRunOutcome]:
        """Record the fires of ``plans`` in one transaction; return what each came to.

        A plan is skipped whole (nothing recorded) when its schedule was changed, paused
        or removed since it was acquired, or ``owner`` no longer holds its lock. A fire
        while ``max_instances`` fires of the schedule are active is SKIPPED.

        The batch is first written without savepoints, its fire rows and schedule
        updates sent as one ``executemany`` each (round trips are most of a fire's cost
        on PostgreSQL). If anything fails, the transaction is rolled back and the batch
        written again with a savepoint per plan: a plan that fails then (say, its fire
        is already recorded) is logged and skipped, the others are recorded.
        """

        def work(conn: sa.Connection, isolate: bool) -> list[ScheduleRunOutcome]:
            ids = [p.schedule.id for p in plans]
            current = _current(conn, owner, ids)
            active: dict[str, int] = dict(
                conn.execute(
                    sa.select(runs_t.c.schedule_id, sa.func.count())
                    .where(runs_t.c.schedule_id.in_(ids), runs_t.c.status.in_(ACTIVE))
                    .group_by(runs_t.c.schedule_id)
                ).all()
            )
            outcomes: list[ScheduleRunOutcome] = []
            rows: list[dict[str, Any]] = []
            moves: list[dict[str, Any]] = []
            new_runs: list[WorkflowRun] = []
            for plan in plans:
                schedule = plan.schedule
                if current.get(schedule.id) != schedule.next_run_at:
                    log.info("schedule %s changed since it was acquired; not fired", schedule.name)
                    continue
                count = int(active.get(schedule.id, 0))
                if not isolate:
                    done, fire_rows, move = _fire(conn, plan, self.clock, count, make_run, new_runs)
                    rows.extend(fire_rows)
                    moves.append(move)
                    outcomes.extend(done)
                    continue
                try:
                    with conn.begin_nested():
                        plan_runs: list[WorkflowRun] = []
                        done, fire_rows, move = _fire(
                            conn, plan, self.clock, count, make_run, plan_runs
                        )
                        insert_runs(conn, plan_runs, self.clock.now())
                        if fire_rows:
                            conn.execute(_INSERT_FIRE, fire_rows)
                        conn.execute(_MOVE_ON, move)
                except exc.IntegrityError:
                    log.warning(
                        "schedule %s: fire already recorded; not fired twice", schedule.name
                    )
                    continue
                except Exception:
                    log.exception("schedule %s: recording its fire failed", schedule.name)
                    continue
                outcomes.extend(done)
            insert_runs(conn, new_runs, self.clock.now())
            if rows:
                conn.execute(_INSERT_FIRE, rows)
            if moves:
                conn.execute(_MOVE_ON, moves)
            if self.listeners.wanted(EventType.SCHEDULE_FIRE):
                now = self.clock.now()
                for outcome in outcomes:
                    if outcome.status in PUBLISHED:
                        self.listeners.publish(conn, fire_event(outcome, now))
            conn.execute(
                sa.delete(locks_t).where(
                    locks_t.c.schedule_id.in_(ids), locks_t.c.locked_by == owner
                )
            )
            return outcomes

        try:
            return self.database.run_write(lambda conn: work(conn, False))
        except Exception:
            log.info("recording %d plans at once failed; again one by one", len(plans))
            return self.database.run_write(lambda conn: work(conn, True))

    # ------------------------------------------------------------ finished runs

    @staticmethod
    def finish_for_run(
        events_conn: EventConnection,
        run_id: str,
        status: ScheduleRunStatus,
        error: str | None,
        completed_at: datetime,
    ) -> ScheduleRunOutcome | None:
        """Record, on ``conn``, the end of the fire that started workflow run ``run_id``.

        Sets the fire's status, ``completed_at`` and ``error``, and the schedule's
        ``last_run_status``. Returns the outcome, or ``None`` if no fire started the run.
        ``events_conn`` is the connection a run-finished listener is handed.
        """
        conn = sql_connection(events_conn)
        row = conn.execute(
            sa.select(
                runs_t.c.id,
                runs_t.c.schedule_id,
                runs_t.c.schedule_name,
                runs_t.c.scheduled_at,
                schedules_t.c.target_name,
            )
            .select_from(runs_t.outerjoin(schedules_t, schedules_t.c.id == runs_t.c.schedule_id))
            .where(runs_t.c.run_id == run_id)
        ).first()
        if row is None:
            return None
        conn.execute(
            sa.update(runs_t)
            .where(runs_t.c.id == row.id)
            .values(status=status.value, completed_at=completed_at, error=error)
        )
        conn.execute(
            sa.update(schedules_t)
            .where(schedules_t.c.id == row.schedule_id)
            .values(last_run_status=status.value)
        )
        return ScheduleRunOutcome(
            schedule_id=row.schedule_id,
            schedule_name=row.schedule_name,
            target_name=row.target_name or "",
            scheduled_at=row.scheduled_at,
            status=status.value,
            reason=error,
            run_id=run_id,
        )


def _lock_join() -> sa.ColumnElement[bool]:
    return locks_t.c.schedule_id == schedules_t.c.id


def _free_for(owner: str, now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        locks_t.c.schedule_id.is_(None), locks_t.c.expires_at < now, locks_t.c.locked_by == owner
    )


def _current(conn: sa.Connection, owner: str, ids: list[str]) -> dict[str, datetime | None]:
    """``next_run_at`` of the enabled schedules among ``ids`` that ``owner`` holds."""
    query = (
        sa.select(schedules_t.c.id, schedules_t.c.next_run_at)
        .join(locks_t, _lock_join())
        .where(
            schedules_t.c.id.in_(ids),
            schedules_t.c.enabled == sa.true(),
            locks_t.c.locked_by == owner,
        )
    )
    if conn.dialect.name == "postgresql":
        # A concurrent `schedules pause` waits for this fire, then applies.
        query = query.with_for_update(of=schedules_t)
    return {r.id: r.next_run_at for r in conn.execute(query)}


# Built once: hot-path statements take their values as parameters, so SQLAlchemy does
# not rebuild and re-key a statement per fire.
_INSERT_FIRE = sa.insert(runs_t)
_FIRE_KEYS = (
    "id", "schedule_id", "schedule_name", "scheduled_at", "started_at", "completed_at",
    "status", "run_id", "error", "skip_reason",
)  # fmt: skip
_MOVE_ON = (
    sa.update(schedules_t)
    .where(schedules_t.c.id == sa.bindparam("b_id"))
    .values(
        next_run_at=sa.bindparam("b_next"),
        last_run_at=sa.func.coalesce(
            sa.bindparam("b_last_at", type_=UtcDateTime()), schedules_t.c.last_run_at
        ),
        last_run_status=sa.func.coalesce(
            sa.bindparam("b_last_status", type_=sa.String), schedules_t.c.last_run_status
        ),
    )
)


def _fire(
    conn: sa.Connection,
    plan: FirePlan,
    clock: Clock,
    active: int,
    make_run: RunFactory,
    new_runs: list[WorkflowRun],
) -> tuple[list[ScheduleRunOutcome], list[dict[str, Any]], dict[str, Any]]:
    """Build the runs of ``plan``'s fires into ``new_runs``.

    Returns the outcomes, the fire rows and the schedule's update; the caller writes the
    runs (:func:`insert_runs`, before the fire rows that refer to them), the rows and the
    update.
    """
    schedule = plan.schedule
    outcomes: list[ScheduleRunOutcome] = []
    rows: list[dict[str, Any]] = []
    last_at: datetime | None = None
    for fire in plan.fires:
        now = clock.now()
        values: dict[str, Any] = dict.fromkeys(_FIRE_KEYS)
        values.update(
            id=new_id(),
            schedule_id=schedule.id,
            schedule_name=schedule.name,
            scheduled_at=fire.scheduled_at,
        )
        run_id: str | None = None
        reason: str | None = None
        if fire.missed is not None:
            status, reason = ScheduleRunStatus.MISSED, fire.missed
            values.update(error=reason)
        elif active >= schedule.max_instances:
            status = ScheduleRunStatus.SKIPPED
            reason = (
                f"{active} run(s) of this schedule still active (max_instances "
                f"{schedule.max_instances})"
            )
            values.update(skip_reason=reason)
        else:
            try:
                run = make_run(schedule, fire.scheduled_at)
            except Exception as error:  # e.g. the workflow was unregistered meanwhile
                status, reason = ScheduleRunStatus.FAILED, str(error) or type(error).__name__
                values.update(error=reason, started_at=now, completed_at=now)
            else:
                new_runs.append(run)
                run_id = run.run_id
                status = ScheduleRunStatus.RUNNING
                values.update(run_id=run_id, started_at=now)
                active += 1
        values["status"] = status.value
        rows.append(values)
        last_at = now
        outcomes.append(
            ScheduleRunOutcome(
                schedule_id=schedule.id,
                schedule_name=schedule.name,
                target_name=schedule.target_name,
                scheduled_at=fire.scheduled_at,
                status=status.value,
                reason=reason,
                run_id=run_id,
            )
        )
    move = {
        "b_id": schedule.id,
        "b_next": plan.next_run_at,
        "b_last_at": last_at,
        "b_last_status": outcomes[-1].status if outcomes else None,
    }
    return outcomes, rows, move


def _values(schedule: Schedule) -> dict[str, Any]:
    values = schedule.to_dict()
    for name in ("run_at", "last_run_at", "next_run_at", "created_at", "updated_at"):
        values[name] = getattr(schedule, name)
    return values


def _schedule(row: Any) -> Schedule:
    return Schedule(
        id=row["id"],
        name=row["name"],
        target_type=row["target_type"],
        target_name=row["target_name"],
        params=dict(row["params"] or {}),
        schedule_type=ScheduleType(row["schedule_type"]),
        cron_expression=row["cron_expression"],
        interval_seconds=row["interval_seconds"],
        run_at=row["run_at"],
        timezone=row["timezone"],
        enabled=bool(row["enabled"]),
        max_instances=row["max_instances"],
        misfire_grace_seconds=row["misfire_grace_seconds"],
        last_run_at=row["last_run_at"],
        next_run_at=row["next_run_at"],
        last_run_status=row["last_run_status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        created_by=row["created_by"],
        version=row["version"],
        catchup=CatchUp(row["catchup"]),
        dst_policy=row["dst_policy"],
    )


def _schedule_run(row: Any) -> ScheduleRun:
    return ScheduleRun(
        id=row["id"],
        schedule_id=row["schedule_id"],
        schedule_name=row["schedule_name"],
        scheduled_at=row["scheduled_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        status=ScheduleRunStatus(row["status"]),
        run_id=row["run_id"],
        execution_id=row["execution_id"],
        error=row["error"],
        skip_reason=row["skip_reason"],
    )
