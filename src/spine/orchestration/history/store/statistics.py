"""Run statistics kept in ``core_workflow_run_stats``, moved with every status change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from spine.core.storage.dialect_sql import dialect_insert
from spine.core.storage.schema.workflow_history import core_workflow_run_stats as stats_t
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.core.workspaces import DEFAULT_WORKSPACE_ID
from spine.orchestration.history.types import RunStatistics


def count_run_change(
    conn: sa.Connection,
    *,
    workflow_name: str,
    created_at: datetime,
    old: tuple[str, int | None] | None,
    new: tuple[str, int | None] | None,
    runs: int = 1,
    workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID,
) -> None:
    """Move a run from ``old`` to ``new`` (status, duration) in ``core_workflow_run_stats``.

    ``old`` is ``None`` for a new run, ``new`` is ``None`` for a deleted one; ``runs``
    moves that many runs of one workflow and day at once. Called in the transaction of
    the change, so the counts never disagree with the runs.
    """
    if old == new or runs == 0:
        return
    day = created_at.astimezone(UTC).date().isoformat()
    deltas: dict[str, list[int]] = {}
    for sign, state in ((-runs, old), (runs, new)):
        if state is None:
            continue
        status, duration = state
        delta = deltas.setdefault(status, [0, 0, 0])
        delta[0] += sign
        if duration is not None:
            delta[1] += sign * duration
            delta[2] += sign
    # Rows in a fixed order, so that concurrent transactions lock them in the same order.
    for status in sorted(deltas):
        moved, duration_sum, timed = deltas[status]
        if not (moved or duration_sum or timed):
            continue
        statement = dialect_insert(conn, stats_t).values(
            workspace_id=workspace_id,
            workflow_name=workflow_name,
            day=day,
            status=status,
            run_count=moved,
            duration_ms_sum=duration_sum,
            duration_count=timed,
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["workspace_id", "workflow_name", "day", "status"],
                set_={
                    "run_count": stats_t.c.run_count + statement.excluded.run_count,
                    "duration_ms_sum": stats_t.c.duration_ms_sum
                    + statement.excluded.duration_ms_sum,
                    "duration_count": stats_t.c.duration_count + statement.excluded.duration_count,
                },
            )
        )


def read_run_statistics(
    conn: sa.Connection, workspace_id: uuid.UUID, workflow_name: str | None, since: datetime | None
) -> RunStatistics:
    """Counts per status and summed durations: whole days from the rollup, the rest from runs."""
    totals: dict[str, list[int]] = {}
    rollup = (
        sa.select(
            stats_t.c.status,
            sa.func.sum(stats_t.c.run_count),
            sa.func.sum(stats_t.c.duration_ms_sum),
            sa.func.sum(stats_t.c.duration_count),
        )
        .where(stats_t.c.workspace_id == workspace_id)
        .group_by(stats_t.c.status)
    )
    if workflow_name:
        rollup = rollup.where(stats_t.c.workflow_name == workflow_name)
    if since is not None:
        first_day = since.astimezone(UTC).date()
        next_midnight = datetime.combine(first_day + timedelta(days=1), time(), UTC)
        rollup = rollup.where(stats_t.c.day > first_day.isoformat())
        partial = sa.select(
            runs_t.c.status,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(runs_t.c.duration_ms), 0),
            sa.func.count(runs_t.c.duration_ms),
        ).where(
            runs_t.c.workspace_id == workspace_id,
            runs_t.c.created_at >= since,
            runs_t.c.created_at < next_midnight,
        )
        if workflow_name:
            partial = partial.where(runs_t.c.workflow_name == workflow_name)
        rows = list(conn.execute(partial.group_by(runs_t.c.status)))
    else:
        rows = []
    rows += list(conn.execute(rollup))
    for status, count, duration_sum, timed in rows:
        entry = totals.setdefault(status, [0, 0, 0])
        entry[0] += int(count or 0)
        entry[1] += int(duration_sum or 0)
        entry[2] += int(timed or 0)
    timed_total = sum(v[2] for v in totals.values())
    return RunStatistics(
        total_runs=sum(v[0] for v in totals.values()),
        completed=totals.get("COMPLETED", [0])[0],
        failed=totals.get("FAILED", [0])[0],
        cancelled=totals.get("CANCELLED", [0])[0],
        running=totals.get("RUNNING", [0])[0],
        pending=totals.get("PENDING", [0])[0],
        avg_duration_seconds=(
            sum(v[1] for v in totals.values()) / timed_total / 1000 if timed_total else None
        ),
    )


def rebuild_run_statistics(conn: sa.Connection) -> None:
    """Recount ``core_workflow_run_stats`` from the runs."""
    conn.execute(sa.delete(stats_t))
    day = (
        sa.func.to_char(sa.func.timezone("UTC", runs_t.c.created_at), "YYYY-MM-DD")
        if conn.dialect.name == "postgresql"
        else sa.func.substr(runs_t.c.created_at, 1, 10)
    )
    grouped = sa.select(
        runs_t.c.workspace_id,
        runs_t.c.workflow_name,
        day,
        runs_t.c.status,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(runs_t.c.duration_ms), 0),
        sa.func.count(runs_t.c.duration_ms),
    ).group_by(runs_t.c.workspace_id, runs_t.c.workflow_name, day, runs_t.c.status)
    conn.execute(
        sa.insert(stats_t).from_select(
            [
                "workspace_id",
                "workflow_name",
                "day",
                "status",
                "run_count",
                "duration_ms_sum",
                "duration_count",
            ],
            grouped,
        )
    )
