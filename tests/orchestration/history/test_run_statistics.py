"""Run statistics come from per-day counts kept with every change; they must always
equal a count over the runs themselves."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from spine.core.storage.schema.workflow_history import core_workflow_runs as runs
from spine.orchestration.history import RunStatistics, WorkflowStatus
from tests.orchestration.history.factories import History

STATUSES = [
    WorkflowStatus.COMPLETED,
    WorkflowStatus.FAILED,
    WorkflowStatus.COMPLETED,
    WorkflowStatus.CANCELLED,
    WorkflowStatus.RUNNING,
]


def counted(history: History, workflow: str | None, since: datetime | None) -> RunStatistics:
    """The statistics computed the slow way, straight from core_workflow_runs."""
    query = sa.select(runs.c.status, runs.c.duration_ms)
    if workflow:
        query = query.where(runs.c.workflow_name == workflow)
    if since:
        query = query.where(runs.c.created_at >= since)
    with history.db.read() as conn:
        rows = conn.execute(query).all()
    by_status = [r.status for r in rows]
    durations = [r.duration_ms for r in rows if r.duration_ms is not None]
    return RunStatistics(
        total_runs=len(rows),
        completed=by_status.count("COMPLETED"),
        failed=by_status.count("FAILED"),
        cancelled=by_status.count("CANCELLED"),
        running=by_status.count("RUNNING"),
        pending=by_status.count("PENDING"),
        avg_duration_seconds=sum(durations) / len(durations) / 1000 if durations else None,
    )


def record_days(history: History, days: int) -> list[datetime]:
    """Record runs of two workflows over several days; return each day's first instant."""
    starts = []
    for day in range(days):
        starts.append(history.clock.now())
        for index, status in enumerate(STATUSES):
            history.record(status, workflow_name=f"wf.{index % 2}", seconds=1 + day + index)
            history.clock.advance(timedelta(hours=3))
        history.clock.advance(timedelta(hours=24 - 3 * len(STATUSES)))
    return starts


def assert_same(actual: RunStatistics, expected: RunStatistics) -> None:
    assert actual.total_runs == expected.total_runs
    assert (actual.completed, actual.failed, actual.cancelled, actual.running) == (
        expected.completed,
        expected.failed,
        expected.cancelled,
        expected.running,
    )
    if expected.avg_duration_seconds is None:
        assert actual.avg_duration_seconds is None
    else:
        assert actual.avg_duration_seconds is not None
        assert abs(actual.avg_duration_seconds - expected.avg_duration_seconds) < 1e-6


def test_statistics_equal_a_count_of_the_runs(history: History) -> None:
    starts = record_days(history, 4)
    store = history.store

    assert store.run_statistics().total_runs == 4 * len(STATUSES)
    for workflow in (None, "wf.0", "wf.1"):
        assert_same(store.run_statistics(workflow), counted(history, workflow, None))
        # A `since` in the middle of a day: whole days from the counts, the rest exact.
        for since in (starts[1] + timedelta(hours=4), starts[3], starts[0]):
            assert_same(store.run_statistics(workflow, since), counted(history, workflow, since))


def test_statistics_follow_status_changes_and_retention(history: History) -> None:
    record_days(history, 3)
    history.clock.advance(timedelta(days=30))
    running = history.record(WorkflowStatus.RUNNING)
    assert history.store.run_statistics().running == 3 + 1

    running.status = WorkflowStatus.COMPLETED
    running.completed_at = history.clock.now()
    history.store.save_workflow_run(running)
    deleted = history.store.delete_old_runs(days=10, batch_size=4)

    assert deleted == 3 * (len(STATUSES) - 1)
    assert_same(history.store.run_statistics(), counted(history, None, None))


def test_rebuild_recounts_rows_written_by_hand(history: History) -> None:
    record_days(history, 2)
    with history.db.write() as conn:
        conn.execute(sa.update(runs).values(status="FAILED"))
    assert history.store.run_statistics().failed != counted(history, None, None).failed

    history.store.rebuild_run_statistics()

    assert_same(history.store.run_statistics(), counted(history, None, None))
