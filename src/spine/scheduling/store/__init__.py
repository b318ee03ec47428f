"""The scheduling part's only SQL: schedules, their fires (schedule runs) and locks.

Firing is two steps, as in APScheduler 4's data store. :meth:`ScheduleStore.acquire_due`
writes a lock with an expiry (``core_schedule_locks``) on each due schedule no live
scheduler holds; :meth:`ScheduleStore.record_fires` then records the fires, creates
their workflow runs, moves ``next_run_at`` on and drops the locks, in one transaction.
A scheduler that dies between the two leaves locks that expire, and another takes the
schedules over. Three things each make a double fire impossible: the lock, a
compare-and-set on ``next_run_at``, and the unique key ``(schedule_id, scheduled_at)``.

``ScheduleStore`` keeps definitions and locks here; recording fires and their ends is
in ``fires.py``, row mapping and the lock predicates in ``rows.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import exc

from spine.core.clock import Clock
from spine.core.errors import Conflict
from spine.core.events import Connection as EventConnection
from spine.core.events import Listener, Publisher
from spine.core.storage import Database
from spine.core.storage.bounds import check_lengths
from spine.core.storage.dialect_sql import dialect_insert
from spine.core.storage.schema.scheduler import core_schedule_locks as locks_t
from spine.core.storage.schema.scheduler import core_schedule_runs as runs_t
from spine.core.storage.schema.scheduler import core_schedules as schedules_t
from spine.scheduling.models import Schedule, ScheduleRun, ScheduleRunOutcome, ScheduleRunStatus
from spine.scheduling.store import fires
from spine.scheduling.store.fires import FirePlan, PlannedFire, RunFactory
from spine.scheduling.store.listing import latest_fires
from spine.scheduling.store.rows import (
    ACTIVE,
    ENTITY,
    ScheduleNotFound,
    audited,
    free_for,
    lock_join,
    schedule_from_row,
    schedule_run_from_row,
    schedule_values,
)
from spine.scheduling.triggers import trigger_for
from spine.tenancy import OPERATOR, Actor, AuditAction, Change, changes_between
from spine.tenancy.bound import ActorBound
from spine.tenancy.store import record

__all__ = [
    "ACTIVE",
    "FirePlan",
    "PlannedFire",
    "RunFactory",
    "ScheduleNotFound",
    "ScheduleStore",
]

log = logging.getLogger(__name__)

_LABELS = {"target_name": "workflow name", "cron_expression": "cron expression"}


class ScheduleStore(ActorBound):
    """Schedules and schedule runs on spine's database.

    The definitions' methods (add, get, list, update, pause, resume, remove, fires) are
    the user's: they read and write only the actor's workspace, and each change writes
    one ``audit_log`` row (entity type ``schedule``) in its transaction. Firing
    (:meth:`acquire_due`, :meth:`record_fires` ...) is the engine's and works across
    workspaces: a fire's run belongs to its schedule's workspace.

    Args:
        database: Spine's database.
        clock: Where creation and update times come from.
        listeners: Get ``schedule.fire`` for each fire recorded MISSED or FAILED, in
            the transaction that records it (``spine.core.events``).
        actor: Who reads and changes definitions, in which workspace.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        listeners: Sequence[Listener] = (),
        actor: Actor = OPERATOR,
    ) -> None:
        self.database = database
        self.clock = clock
        self.listeners = Publisher(listeners)
        self.actor = actor

    def _mine(self) -> sa.ColumnElement[bool]:
        return schedules_t.c.workspace_id == self.actor.workspace_id

    def _audit(
        self,
        conn: sa.Connection,
        action: AuditAction,
        entity_id: str,
        old: Schedule | None,
        new: Schedule | None,
        now: datetime,
    ) -> None:
        changes = changes_between(audited(old), audited(new))
        change = Change(entity_type=ENTITY, entity_id=entity_id, action=action, changes=changes)
        record(conn, self.actor, change, now)

    # ------------------------------------------------------------ definitions

    def add(self, schedule: Schedule) -> Schedule:
        """Insert ``schedule`` in the actor's workspace; return it as stored.

        Raises:
            InvalidInput: If a text field is longer than its column (nothing is written).
            Conflict: If a schedule of the workspace has that name.
        """
        schedule = replace(schedule, workspace_id=self.actor.workspace_id)
        values = schedule_values(schedule)
        check_lengths(schedules_t, values, what="schedule", labels=_LABELS)
        now = self.clock.now()

        def work(conn: sa.Connection) -> None:
            if conn.execute(
                sa.select(schedules_t.c.id).where(self._mine(), schedules_t.c.name == schedule.name)
            ).first():
                raise Conflict(f"schedule {schedule.name!r} already exists")
            conn.execute(sa.insert(schedules_t).values(values))
            self._audit(conn, AuditAction.CREATE, schedule.id, None, schedule, now)

        try:
            self.database.run_write(work)
        except exc.IntegrityError:
            raise Conflict(f"schedule {schedule.name!r} already exists") from None
        return schedule

    def get(self, name: str) -> Schedule:
        """The workspace's schedule named ``name``.

        Raises:
            ScheduleNotFound: If there is none.
        """
        found = self.database.run_read(lambda conn: self._find(conn, name, by_id=False))
        if found is None:
            raise ScheduleNotFound(name)
        return found

    def find(self, ref: str) -> Schedule:
        """The workspace's schedule whose id is ``ref``, or else whose name is ``ref``.

        Raises:
            ScheduleNotFound: If there is none.
        """
        found = self.database.run_read(lambda conn: self._find(conn, ref, by_id=True))
        if found is None:
            raise ScheduleNotFound(ref)
        return found

    def _find(
        self, conn: sa.Connection, ref: str, *, by_id: bool, lock: bool = False
    ) -> Schedule | None:
        if "\x00" in ref:  # no stored name holds NUL, and PostgreSQL refuses it in SQL
            return None
        keys = [schedules_t.c.id, schedules_t.c.name] if by_id else [schedules_t.c.name]
        for key in keys:
            query = sa.select(schedules_t).where(self._mine(), key == ref)
            if lock and conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is not None:
                return schedule_from_row(row._mapping)
        return None

    def list_schedules(self) -> list[Schedule]:
        """The workspace's schedules, by name."""
        rows = self.database.run_read(
            lambda conn: conn.execute(
                sa.select(schedules_t).where(self._mine()).order_by(schedules_t.c.name)
            ).all()
        )
        return [schedule_from_row(r._mapping) for r in rows]

    def page(self, *, after_id: str | None, limit: int) -> list[Schedule]:
        """Up to ``limit`` of the workspace's schedules after ``after_id``, by id.

        Ids are ULIDs: this is creation order.
        """

        def work(conn: sa.Connection) -> list[Schedule]:
            query = sa.select(schedules_t).where(self._mine())
            if after_id is not None:
                query = query.where(schedules_t.c.id > after_id)
            rows = conn.execute(query.order_by(schedules_t.c.id).limit(limit)).all()
            return [schedule_from_row(r._mapping) for r in rows]

        return self.database.run_read(work)

    def update(self, ref: str, revise: Callable[[Schedule], Schedule]) -> Schedule:
        """Replace the schedule ``ref`` (id, else name) with ``revise(current)``.

        One transaction; returns the schedule as stored.

        ``revise`` is given the current row (read under a lock on PostgreSQL) and returns
        the new definition; its id, workspace, creation, history and version are kept
        (the version is counted up).

        Raises:
            ScheduleNotFound: If there is none.
            Conflict: If the new name is taken in the workspace.
            InvalidInput: What ``revise`` raises, or a text field too long.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> Schedule:
            old = self._find(conn, ref, by_id=True, lock=True)
            if old is None:
                raise ScheduleNotFound(ref)
            new = replace(
                revise(old),
                id=old.id,
                workspace_id=old.workspace_id,
                created_at=old.created_at,
                created_by=old.created_by,
                last_run_at=old.last_run_at,
                last_run_status=old.last_run_status,
                updated_at=now,
                version=old.version + 1,
            )
            values = schedule_values(new)
            check_lengths(schedules_t, values, what="schedule", labels=_LABELS)
            if (
                new.name != old.name
                and conn.execute(
                    sa.select(schedules_t.c.id).where(self._mine(), schedules_t.c.name == new.name)
                ).first()
            ):
                raise Conflict(f"schedule {new.name!r} already exists")
            for key in ("id", "workspace_id", "created_at", "created_by"):
                values.pop(key)
            conn.execute(
                sa.update(schedules_t)
                .where(self._mine(), schedules_t.c.id == old.id)
                .values(values)
            )
            self._audit(conn, AuditAction.UPDATE, old.id, old, new, now)
            return new

        try:
            return self.database.run_write(work)
        except exc.IntegrityError:
            raise Conflict("a schedule of this workspace already has that name") from None

    def set_enabled(self, name: str, enabled: bool, next_run_at: datetime | None) -> Schedule:
        """Pause or resume the schedule ``name`` (id, else name).

        Sets ``enabled`` and ``next_run_at``; audited as an update.

        Raises:
            ScheduleNotFound: If there is none.
        """
        return self.update(name, lambda old: replace(old, enabled=enabled, next_run_at=next_run_at))

    def resume(self, ref: str) -> Schedule:
        """Resume ``ref`` (id, else name) from now: fires missed while paused are not run.

        Raises:
            ScheduleNotFound: If there is none.
        """
        now = self.clock.now()

        def resumed(old: Schedule) -> Schedule:
            following = old.next_run_at if old.enabled else trigger_for(old).next_after(now)
            return replace(old, enabled=True, next_run_at=following)

        return self.update(ref, resumed)

    def remove(self, name: str) -> Schedule:
        """Delete the schedule ``name`` (id, else name); return what was deleted.

        Its lock and its fires go with it; the workflow runs it started stay.

        Raises:
            ScheduleNotFound: If there is none.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> Schedule:
            old = self._find(conn, name, by_id=True, lock=True)
            if old is None:
                raise ScheduleNotFound(name)
            conn.execute(sa.delete(schedules_t).where(self._mine(), schedules_t.c.id == old.id))
            self._audit(conn, AuditAction.DELETE, old.id, old, None, now)
            return old

        return self.database.run_write(work)

    def runs(
        self,
        schedule_id: str,
        limit: int = 20,
        *,
        before: tuple[datetime, str] | None = None,
    ) -> list[ScheduleRun]:
        """The latest fires of the workspace's schedule ``schedule_id``, newest first.

        ``before`` (a fire's ``scheduled_at`` and id) continues a listing after that
        fire. A schedule of another workspace has no fires here.
        """

        def work(conn: sa.Connection) -> list[ScheduleRun]:
            query = (
                sa.select(runs_t)
                .join(schedules_t, schedules_t.c.id == runs_t.c.schedule_id)
                .where(self._mine(), runs_t.c.schedule_id == schedule_id)
            )
            if before is not None:
                at, fire_id = before
                query = query.where(
                    sa.or_(
                        runs_t.c.scheduled_at < at,
                        sa.and_(runs_t.c.scheduled_at == at, runs_t.c.id < fire_id),
                    )
                )
            rows = conn.execute(
                query.order_by(runs_t.c.scheduled_at.desc(), runs_t.c.id.desc()).limit(limit)
            ).all()
            return [schedule_run_from_row(r._mapping) for r in rows]

        return self.database.run_read(work)

    def latest_fires(
        self, schedule_ids: Sequence[str], per_schedule: int
    ) -> dict[str, list[ScheduleRun]]:
        """The latest ``per_schedule`` fires of each of the workspace's ``schedule_ids``.

        One statement for a page of schedules (:func:`~.listing.latest_fires`); a schedule
        of another workspace has no fires here.
        """
        return self.database.run_read(
            lambda conn: latest_fires(conn, self._mine(), schedule_ids, per_schedule)
        )

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
                .select_from(schedules_t.outerjoin(locks_t, lock_join()))
                .where(schedules_t.c.enabled == sa.true(), free_for(owner, now))
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
                .select_from(schedules_t.outerjoin(locks_t, lock_join()))
                .where(
                    schedules_t.c.enabled == sa.true(),
                    schedules_t.c.next_run_at <= now,
                    free_for(owner, now),
                )
                .order_by(schedules_t.c.next_run_at)
                .limit(limit)
            )
            if targets is not None:
                query = query.where(schedules_t.c.target_name.in_(targets))
            if conn.dialect.name == "postgresql":
                # Other schedulers skip rows this one is reading instead of queueing.
                query = query.with_for_update(of=schedules_t, skip_locked=True)
            found = [schedule_from_row(r._mapping) for r in conn.execute(query)]
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
        try:
            return self.database.run_write(
                lambda conn: fires.write_fires(
                    conn, owner, plans, make_run, self.clock, self.listeners, isolate=False
                )
            )
        except Exception:
            log.info("recording %d plans at once failed; again one by one", len(plans))
            return self.database.run_write(
                lambda conn: fires.write_fires(
                    conn, owner, plans, make_run, self.clock, self.listeners, isolate=True
                )
            )

    # ------------------------------------------------------------ finished runs

    @staticmethod
    def finish_for_run(
        events_conn: EventConnection,
        run_id: str,
        status: ScheduleRunStatus,
        error: str | None,
        completed_at: datetime,
    ) -> ScheduleRunOutcome | None:
        """Record, on ``events_conn``, the end of the fire that started run ``run_id``.

        See :func:`fires.finish_for_run`.
        """
        return fires.finish_for_run(events_conn, run_id, status, error, completed_at)
