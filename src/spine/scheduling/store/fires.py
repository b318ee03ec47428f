"""Recording fires and their ends: the firing half of :class:`ScheduleStore`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from spine.core.clock import Clock
from spine.core.events import Connection as EventConnection
from spine.core.events import EventType, Publisher
from spine.core.ids import new_id
from spine.core.storage import sql_connection
from spine.core.storage.schema.scheduler import core_schedule_locks as locks_t
from spine.core.storage.schema.scheduler import core_schedule_runs as runs_t
from spine.core.storage.schema.scheduler import core_schedules as schedules_t
from spine.core.storage.types import UtcDateTime
from spine.orchestration.history.types import WorkflowRun
from spine.orchestration.store import insert_runs, runs_with_keys
from spine.scheduling.events import PUBLISHED, fire_event
from spine.scheduling.models import Schedule, ScheduleRunOutcome, ScheduleRunStatus
from spine.scheduling.store.rows import ACTIVE, lock_join

log = logging.getLogger(__name__)


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

#: The runs built for a batch's fires (or why one could not be), by schedule and time.
_Built = dict[tuple[str, datetime], WorkflowRun | Exception]
#: The idempotency keys already held, ``(workspace, workflow, key)`` to the run's id.
_Taken = dict[tuple[uuid.UUID, str, str], str]


def write_fires(
    conn: sa.Connection,
    owner: str,
    plans: Sequence[FirePlan],
    make_run: RunFactory,
    clock: Clock,
    listeners: Publisher,
    *,
    isolate: bool,
) -> list[ScheduleRunOutcome]:
    """Record the fires of ``plans`` on ``conn`` (see :meth:`ScheduleStore.record_fires`).

    With ``isolate``, each plan is written in its own savepoint and a plan that fails is
    logged and skipped; without, the batch is written with one ``executemany`` per
    statement and any failure fails the whole.
    """
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
    plans = [p for p in plans if _unchanged(p, current)]
    built, taken = _build_runs(conn, plans, make_run)
    workspace_of = {p.schedule.id: p.schedule.workspace_id for p in plans}
    for plan in plans:
        schedule = plan.schedule
        count = int(active.get(schedule.id, 0))
        if not isolate:
            done, fire_rows, move = _fire(plan, clock, count, built, taken, new_runs)
            rows.extend(fire_rows)
            moves.append(move)
            outcomes.extend(done)
            continue
        try:
            with conn.begin_nested():
                plan_runs: list[WorkflowRun] = []
                done, fire_rows, move = _fire(plan, clock, count, built, taken, plan_runs)
                for run in plan_runs:
                    run.workspace_id = schedule.workspace_id
                insert_runs(conn, plan_runs, clock.now())
                if fire_rows:
                    conn.execute(_INSERT_FIRE, fire_rows)
                conn.execute(_MOVE_ON, move)
        except exc.IntegrityError:
            log.warning("schedule %s: fire already recorded; not fired twice", schedule.name)
            continue
        except Exception:
            log.exception("schedule %s: recording its fire failed", schedule.name)
            continue
        outcomes.extend(done)
    _insert_runs(conn, new_runs, workspace_of, clock.now())
    if rows:
        conn.execute(_INSERT_FIRE, rows)
    if moves:
        conn.execute(_MOVE_ON, moves)
    if listeners.wanted(EventType.SCHEDULE_FIRE):
        now = clock.now()
        for outcome in outcomes:
            if outcome.status in PUBLISHED:
                listeners.publish(conn, fire_event(outcome, now))
    conn.execute(
        sa.delete(locks_t).where(locks_t.c.schedule_id.in_(ids), locks_t.c.locked_by == owner)
    )
    return outcomes


def _insert_runs(
    conn: sa.Connection,
    runs: Sequence[WorkflowRun],
    workspace_of: dict[str, uuid.UUID],
    now: datetime,
) -> None:
    """Insert the fires' runs, each in its schedule's workspace."""
    for run in runs:
        assert run.schedule_id is not None
        run.workspace_id = workspace_of[run.schedule_id]
    insert_runs(conn, runs, now)


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
            schedules_t.c.workspace_id,
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
        workspace_id=None if row.workspace_id is None else str(row.workspace_id),
    )


def _unchanged(plan: FirePlan, current: dict[str, datetime | None]) -> bool:
    if current.get(plan.schedule.id) != plan.schedule.next_run_at:
        log.info("schedule %s changed since it was acquired; not fired", plan.schedule.name)
        return False
    return True


def _build_runs(
    conn: sa.Connection, plans: Sequence[FirePlan], make_run: RunFactory
) -> tuple[_Built, _Taken]:
    """Build the run of every fire that may run, and find which of their keys are taken.

    A run's idempotency key is the schedule's name and the fire's logical time, so a
    key already held means ``schedules trigger --at`` or ``backfill`` made that run; the
    fire is then SKIPPED instead of failing on the unique index (one query per batch).
    """
    built: _Built = {}
    for plan in plans:
        for fire in plan.fires:
            if fire.missed is not None:
                continue
            try:
                built[(plan.schedule.id, fire.scheduled_at)] = make_run(
                    plan.schedule, fire.scheduled_at
                )
            except Exception as error:  # e.g. the workflow was unregistered meanwhile
                built[(plan.schedule.id, fire.scheduled_at)] = error
    # Keys are unique per workspace: a schedule's keys are looked up in its own.
    keys: dict[uuid.UUID, list[tuple[str, str]]] = {}
    for plan in plans:
        for fire in plan.fires:
            run = built.get((plan.schedule.id, fire.scheduled_at))
            if isinstance(run, WorkflowRun) and run.idempotency_key is not None:
                keys.setdefault(plan.schedule.workspace_id, []).append(
                    (run.workflow_name, run.idempotency_key)
                )
    taken: _Taken = {}
    for workspace_id, pairs in sorted(keys.items()):
        found = runs_with_keys(conn, pairs, workspace_id=workspace_id)
        for (workflow_name, key), held in found.items():
            taken[(workspace_id, workflow_name, key)] = held.run_id
    return built, taken


def _current(conn: sa.Connection, owner: str, ids: list[str]) -> dict[str, datetime | None]:
    """``next_run_at`` of the enabled schedules among ``ids`` that ``owner`` holds."""
    query = (
        sa.select(schedules_t.c.id, schedules_t.c.next_run_at)
        .join(locks_t, lock_join())
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
    plan: FirePlan,
    clock: Clock,
    active: int,
    built: _Built,
    taken: _Taken,
    new_runs: list[WorkflowRun],
) -> tuple[list[ScheduleRunOutcome], list[dict[str, Any]], dict[str, Any]]:
    """Put the runs of ``plan``'s fires (from ``built``) into ``new_runs``.

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
            run = built[(schedule.id, fire.scheduled_at)]
            holder = (
                taken.get((schedule.workspace_id, run.workflow_name, run.idempotency_key))
                if isinstance(run, WorkflowRun) and run.idempotency_key is not None
                else None
            )
            if isinstance(run, Exception):
                status, reason = ScheduleRunStatus.FAILED, str(run) or type(run).__name__
                values.update(error=reason, started_at=now, completed_at=now)
            elif holder is not None:
                status = ScheduleRunStatus.SKIPPED
                reason = f"run {holder} already covers this logical time"
                values.update(skip_reason=reason)
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
                workspace_id=str(schedule.workspace_id),
            )
        )
    move = {
        "b_id": schedule.id,
        "b_next": plan.next_run_at,
        "b_last_at": last_at,
        "b_last_status": outcomes[-1].status if outcomes else None,
    }
    return outcomes, rows, move
