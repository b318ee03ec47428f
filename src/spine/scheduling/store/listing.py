"""Reading many schedules' recent fires at once, for listings (the dashboard's page)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from spine.core.storage.schema.scheduler import core_schedule_runs as runs_t
from spine.core.storage.schema.scheduler import core_schedules as schedules_t
from spine.scheduling.models import ScheduleRun
from spine.scheduling.store.rows import schedule_run_from_row


def latest_fires(
    conn: sa.Connection,
    mine: sa.ColumnElement[bool],
    schedule_ids: Sequence[str],
    per_schedule: int,
) -> dict[str, list[ScheduleRun]]:
    """The latest ``per_schedule`` fires of each schedule of ``schedule_ids`` that ``mine`` admits.

    One statement for a page of schedules: a ``UNION ALL`` of one bounded branch per
    schedule, each read newest first from the ``(schedule_id, scheduled_at)`` key, so a
    listing shows every schedule's recent fires without a query per schedule.
    """
    ids = list(dict.fromkeys(schedule_ids))
    found: dict[str, list[ScheduleRun]] = {i: [] for i in ids}
    if not ids or per_schedule < 1:
        return found
    owned = [
        str(i)
        for i in conn.execute(
            sa.select(schedules_t.c.id).where(mine, schedules_t.c.id.in_(ids))
        ).scalars()
    ]
    if not owned:
        return found

    def branch(schedule_id: str) -> sa.Select[tuple[object, ...]]:
        newest = (
            sa.select(runs_t)
            .where(runs_t.c.schedule_id == schedule_id)
            .order_by(runs_t.c.scheduled_at.desc(), runs_t.c.id.desc())
            .limit(per_schedule)
            .subquery()
        )
        return sa.select(newest)

    union = sa.union_all(*(branch(i) for i in owned)).subquery()
    rows = conn.execute(
        sa.select(union).order_by(union.c.scheduled_at.desc(), union.c.id.desc())
    ).all()
    for row in rows:
        fire = schedule_run_from_row(row._mapping)
        found[fire.schedule_id].append(fire)
    return found
