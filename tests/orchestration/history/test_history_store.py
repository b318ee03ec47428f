"""Spec 002's ``HistoryStore`` on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from spine.core.errors import InvalidInput
from spine.core.ids import new_id
from spine.core.storage import Database
from spine.orchestration.history import StepRun, StepStatus, WorkflowRun, WorkflowStatus
from tests.orchestration.history.factories import DOMAIN, START, WORKFLOW, History


def _run(**overrides: Any) -> WorkflowRun:
    values: dict[str, Any] = {
        "run_id": new_id(),
        "workflow_name": WORKFLOW,
        "domain": DOMAIN,
        "created_at": START,
        **overrides,
    }
    return WorkflowRun(**values)


def _step(run_id: str, order: int, **overrides: Any) -> StepRun:
    values: dict[str, Any] = {
        "step_id": new_id(),
        "run_id": run_id,
        "step_name": f"step_{order}",
        "step_type": "lambda",
        "step_order": order,
        **overrides,
    }
    return StepRun(**values)


def _event_types(history: History, run_id: str) -> list[str]:
    return [event.event_type for event in history.store.get_events(run_id)]


# ------------------------------------------------------------------------- runs


def test_save_workflow_run_inserts_then_updates(history: History) -> None:
    store = history.store
    run = _run(
        run_id="abc123",
        partition_key="2025-01-10|T1",
        params={"tier": "T1", "week_ending": "2025-01-10"},
        triggered_by="schedule",
    )
    assert store.get_workflow_run("abc123") is None
    store.save_workflow_run(run)

    saved = store.get_workflow_run("abc123")
    assert saved is not None
    assert (saved.status, saved.params, saved.triggered_by) == (
        WorkflowStatus.PENDING,
        {"tier": "T1", "week_ending": "2025-01-10"},
        "schedule",
    )
    assert saved.created_at == START
    assert saved.started_at is None

    run.status = WorkflowStatus.FAILED
    run.started_at = START + timedelta(seconds=1)
    run.completed_at = START + timedelta(seconds=4)
    run.outputs = {"rows": 3}
    run.metrics = {"total_records": 3}
    run.error = "source gone"
    run.error_category = "NOT_FOUND"
    store.save_workflow_run(run)

    updated = store.get_workflow_run("abc123")
    assert updated is not None
    assert updated.status is WorkflowStatus.FAILED
    assert (updated.outputs, updated.metrics) == ({"rows": 3}, {"total_records": 3})
    assert (updated.error, updated.error_category) == ("source gone", "NOT_FOUND")
    assert updated.started_at == START + timedelta(seconds=1)
    assert updated.duration_ms == 3000
    assert updated.duration_seconds == 3.0
    assert updated.created_at == START
    assert store.count_workflow_runs() == 1


@pytest.fixture
def listed(history: History) -> dict[str, WorkflowRun]:
    """Five runs one hour apart (oldest first), of two workflows, domains and statuses."""
    runs: dict[str, WorkflowRun] = {}
    specs = [
        ("a", "finra.weekly_ingest", "finra", WorkflowStatus.COMPLETED),
        ("b", "finra.weekly_ingest", "finra", WorkflowStatus.FAILED),
        ("c", "sec.filings", "sec", WorkflowStatus.COMPLETED),
        ("d", "finra.weekly_ingest", "sec", WorkflowStatus.RUNNING),
        ("e", "sec.filings", "finra", WorkflowStatus.COMPLETED),
    ]
    for index, (label, name, domain, status) in enumerate(specs):
        at = START + timedelta(hours=index)
        run = _run(workflow_name=name, domain=domain, status=status, created_at=at, started_at=at)
        history.store.save_workflow_run(run)
        runs[label] = run
    return runs


def _labels(runs: list[WorkflowRun], listed: dict[str, WorkflowRun]) -> str:
    by_id = {run.run_id: label for label, run in listed.items()}
    return "".join(by_id[run.run_id] for run in runs)


FILTER_CASES: list[tuple[dict[str, Any], str]] = [
    ({}, "edcba"),
    ({"workflow_name": "finra.weekly_ingest"}, "dba"),
    ({"domain": "sec"}, "dc"),
    ({"status": WorkflowStatus.COMPLETED}, "eca"),
    ({"status": "FAILED"}, "b"),
    ({"since": START + timedelta(hours=2)}, "edc"),
    ({"until": START + timedelta(hours=1)}, "ba"),
    ({"since": START + timedelta(hours=1), "until": START + timedelta(hours=3)}, "dcb"),
    ({"workflow_name": "sec.filings", "domain": "finra", "status": "COMPLETED"}, "e"),
    ({"workflow_name": "nothing.like.this"}, ""),
]


def test_list_workflow_runs_filters_newest_first(
    history: History, listed: dict[str, WorkflowRun]
) -> None:
    found = {
        str(filters): _labels(history.store.list_workflow_runs(**filters), listed)
        for filters, _ in FILTER_CASES
    }
    assert found == {str(filters): expected for filters, expected in FILTER_CASES}


def test_list_workflow_runs_pages_with_limit_and_offset(
    history: History, listed: dict[str, WorkflowRun]
) -> None:
    pages = [(2, 0, "ed"), (2, 2, "cb"), (2, 4, "a"), (2, 5, ""), (100, 1, "dcba")]
    found = [
        (
            limit,
            offset,
            _labels(history.store.list_workflow_runs(limit=limit, offset=offset), listed),
        )
        for limit, offset, _ in pages
    ]
    assert found == pages


def test_count_workflow_runs_counts_what_the_filters_match(
    history: History, listed: dict[str, WorkflowRun]
) -> None:
    store = history.store
    assert store.count_workflow_runs() == 5
    assert store.count_workflow_runs("finra.weekly_ingest") == 3
    assert store.count_workflow_runs(status=WorkflowStatus.COMPLETED) == 3
    assert store.count_workflow_runs("sec.filings", "COMPLETED", START + timedelta(hours=3)) == 1
    assert store.count_workflow_runs(domain="sec", until=START + timedelta(hours=2)) == 1


# ------------------------------------------------------------------------ steps


def test_save_step_run_inserts_then_updates_with_spec_002_field_names(history: History) -> None:
    store = history.store
    run = _run(status=WorkflowStatus.RUNNING)
    store.save_workflow_run(run)
    step = _step(run.run_id, 0, step_name="fetch", input_params={"url": "https://finra.org"})
    store.save_step_run(step)

    step.status = StepStatus.COMPLETED
    step.started_at = START
    step.completed_at = START + timedelta(milliseconds=1500)
    step.output_data = {"path": "/tmp/x.csv"}
    step.records_processed = 42
    step.quality_passed = False
    step.quality_metrics = {"null_rate": 0.2}
    step.error_category = "DATA_QUALITY"
    store.save_step_run(step)

    [saved] = store.get_step_runs(run.run_id)
    assert saved.step_id == step.step_id
    assert saved.status is StepStatus.COMPLETED
    assert saved.input_params == {"url": "https://finra.org"}
    assert saved.output_data == {"path": "/tmp/x.csv"}
    assert saved.records_processed == 42
    assert saved.quality_passed is False
    assert saved.quality_metrics == {"null_rate": 0.2}
    assert saved.error_category == "DATA_QUALITY"
    assert saved.duration_ms == 1500


def test_get_step_runs_returns_steps_in_order(history: History) -> None:
    store = history.store
    run = _run(status=WorkflowStatus.RUNNING)
    store.save_workflow_run(run)
    for order in (2, 0, 3, 1):
        store.save_step_run(_step(run.run_id, order))
    store.save_step_run(_step(history.record().run_id, 0))  # another run's step

    steps = store.get_step_runs(run.run_id)
    assert [s.step_order for s in steps] == [0, 1, 2, 3]
    assert [s.step_name for s in steps] == ["step_0", "step_1", "step_2", "step_3"]


# ----------------------------------------------------------------------- events


def test_record_event_appends_unless_its_idempotency_key_was_used(history: History) -> None:
    store = history.store
    run = _run()
    store.save_workflow_run(run)
    step = _step(run.run_id, 0)
    store.save_step_run(step)
    before = len(store.get_events(run.run_id))

    first = store.record_event(run.run_id, "status_changed", {"new": "A"}, idempotency_key="k1")
    again = store.record_event(run.run_id, "status_changed", {"new": "B"}, idempotency_key="k1")
    keyless = store.record_event(run.run_id, "note", {"n": 1})
    keyless_again = store.record_event(run.run_id, "note", {"n": 1}, step_id=step.step_id)

    assert (first, again, keyless, keyless_again) == (True, False, True, True)
    events = store.get_events(run.run_id)[before:]
    assert [(e.event_type, e.payload, e.step_id) for e in events] == [
        ("status_changed", {"new": "A"}, None),
        ("note", {"n": 1}, None),
        ("note", {"n": 1}, step.step_id),
    ]
    assert events[0].idempotency_key == "k1"
    assert {e.timestamp for e in events} == {START}
    assert events[0].id < events[1].id < events[2].id


def test_every_saved_status_change_writes_exactly_one_event(history: History) -> None:
    store = history.store
    run = _run()
    store.save_workflow_run(run)  # PENDING
    run.status = WorkflowStatus.RUNNING
    store.save_workflow_run(run)
    run.metrics = {"progress": 1}
    store.save_workflow_run(run)  # no status change: no event
    step = _step(run.run_id, 0)
    store.save_step_run(step)  # PENDING
    step.status = StepStatus.RUNNING
    store.save_step_run(step)
    store.save_step_run(step)
    step.status = StepStatus.COMPLETED
    store.save_step_run(step)
    run.status = WorkflowStatus.COMPLETED
    store.save_workflow_run(run)

    events = store.get_events(run.run_id)
    assert [(e.event_type, e.payload.get("old"), e.payload.get("new")) for e in events] == [
        ("run.pending", None, "PENDING"),
        ("run.running", "PENDING", "RUNNING"),
        ("step.pending", None, "PENDING"),
        ("step.running", "PENDING", "RUNNING"),
        ("step.completed", "RUNNING", "COMPLETED"),
        ("run.completed", "RUNNING", "COMPLETED"),
    ]
    assert [e.step_id is not None for e in events] == [False, False, True, True, True, False]


def test_a_status_entered_again_gets_its_own_event(history: History) -> None:
    store = history.store
    run = _run()
    statuses = ["PENDING", "RUNNING", "PENDING", "RUNNING", "COMPLETED"]
    for status in statuses:
        run.status = WorkflowStatus(status)
        store.save_workflow_run(run)

    events = store.get_events(run.run_id)
    assert [e.payload["new"] for e in events] == statuses
    assert len({e.idempotency_key for e in events}) == len(statuses)


@contextmanager
def _failing_event_inserts(db: Database, event_type: str) -> Iterator[None]:
    """Make the database refuse events of ``event_type`` (a trigger, dropped afterwards)."""
    with db.write() as conn:
        if db.is_sqlite:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_event BEFORE INSERT ON core_workflow_events "
                f"WHEN NEW.event_type = '{event_type}' "
                "BEGIN SELECT RAISE(ABORT, 'event refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF NEW.event_type = '{event_type}' THEN "
                "RAISE EXCEPTION 'event refused'; END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_event BEFORE INSERT ON core_workflow_events "
                "FOR EACH ROW EXECUTE FUNCTION refuse_event()"
            )
    try:
        yield
    finally:
        with db.write() as conn:
            if db.is_sqlite:
                conn.exec_driver_sql("DROP TRIGGER refuse_event")
            else:
                conn.exec_driver_sql("DROP TRIGGER refuse_event ON core_workflow_events")
                conn.exec_driver_sql("DROP FUNCTION refuse_event()")


def test_a_status_change_and_its_event_commit_together(history: History, db: Database) -> None:
    store = history.store
    run = _run(status=WorkflowStatus.RUNNING)
    store.save_workflow_run(run)
    step = _step(run.run_id, 0, status=StepStatus.RUNNING)
    store.save_step_run(step)

    with _failing_event_inserts(db, "run.completed"):
        run.status = WorkflowStatus.COMPLETED
        with pytest.raises(sa.exc.DBAPIError, match="event refused"):
            store.save_workflow_run(run)
    with _failing_event_inserts(db, "step.failed"):
        step.status = StepStatus.FAILED
        with pytest.raises(sa.exc.DBAPIError, match="event refused"):
            store.save_step_run(step)

    saved = store.get_workflow_run(run.run_id)
    assert saved is not None and saved.status is WorkflowStatus.RUNNING
    assert [s.status for s in store.get_step_runs(run.run_id)] == [StepStatus.RUNNING]
    assert _event_types(history, run.run_id) == ["run.running", "step.running"]

    store.save_workflow_run(run)  # once the database accepts the event, both are saved
    assert _event_types(history, run.run_id)[-1] == "run.completed"


# ------------------------------------------------------------------- statistics


def test_statistics_count_runs_and_average_duration_ms(history: History) -> None:
    empty = history.store.get_run_statistics()
    assert (empty["total_runs"], empty["success_rate"], empty["avg_duration_seconds"]) == (
        0,
        0.0,
        None,
    )
    history.record(WorkflowStatus.COMPLETED, seconds=2)
    history.record(WorkflowStatus.COMPLETED, seconds=4)
    history.record(WorkflowStatus.FAILED, seconds=6)
    history.record(WorkflowStatus.CANCELLED, seconds=8)
    history.record(WorkflowStatus.RUNNING, seconds=100)  # unfinished: no duration yet
    history.record(WorkflowStatus.COMPLETED, workflow_name="sec.filings", seconds=1)

    stats = history.store.get_run_statistics(workflow_name=WORKFLOW)

    assert stats == {
        "total_runs": 5,
        "completed": 2,
        "failed": 1,
        "success_rate": 0.4,
        "avg_duration_seconds": pytest.approx(5.0),
        "cancelled": 1,
        "running": 1,
        "pending": 0,
    }


def test_statistics_read_duration_ms_not_the_timestamps(history: History) -> None:
    # A run parked in a wait step for an hour worked 1.5 s: duration_ms is what counts.
    # Spec 002 computed julianday(completed_at) - julianday(started_at): 3600 s on SQLite,
    # and an error on PostgreSQL, which has no julianday.
    run = _run(
        status=WorkflowStatus.COMPLETED,
        started_at=START,
        completed_at=START + timedelta(hours=1),
        duration_ms=1500,
    )
    history.store.save_workflow_run(run)

    stats = history.store.get_run_statistics()

    assert stats["avg_duration_seconds"] == pytest.approx(1.5)
    assert stats["success_rate"] == 1.0


def test_statistics_since_counts_runs_started_from_then(history: History) -> None:
    history.record(WorkflowStatus.FAILED, seconds=10)
    since = history.clock.now()
    history.record(WorkflowStatus.COMPLETED, seconds=3)

    assert history.store.get_run_statistics(since=since) == {
        "total_runs": 1,
        "completed": 1,
        "failed": 0,
        "success_rate": 1.0,
        "avg_duration_seconds": pytest.approx(3.0),
        "cancelled": 0,
        "running": 0,
        "pending": 0,
    }


def test_an_over_long_field_is_refused_and_nothing_is_written(history: History) -> None:
    store = history.store
    for field, limit in [("workflow_name", 200), ("domain", 200), ("created_by", 200)]:
        run = _run(run_id=f"long-{field}", **{field: "x" * (limit + 1)})
        label = "workflow name" if field == "workflow_name" else f"run {field}"
        with pytest.raises(InvalidInput) as refused:
            store.save_workflow_run(run)
        assert str(refused.value) == (
            f"{label} is {limit + 1} characters long; the most is {limit}"
        )
        assert store.get_workflow_run(f"long-{field}") is None
    assert store.count_workflow_runs() == 0
