"""Spec 002's ``HistoryTracker``, ``WorkflowTracker`` and ``StepTracker``, with its fixes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ulid import ULID

from spine.core.errors import DatabaseUnavailable
from spine.orchestration.history import StepStatus, WorkflowStatus
from tests.orchestration.history.factories import DOMAIN, START, WORKFLOW, History


def test_run_ids_are_ulids(history: History) -> None:
    ids = [history.tracker.track_workflow(WORKFLOW).run_id for _ in range(50)]

    assert all(len(run_id) == 26 for run_id in ids)
    assert all(str(ULID.from_str(run_id)) == run_id for run_id in ids)
    assert len(set(ids)) == len(ids)


def test_a_tracked_run_is_recorded_from_start_to_end(history: History) -> None:
    with history.tracker.track_workflow(
        WORKFLOW,
        domain=DOMAIN,
        partition_key="2025-01-10|T1",
        params={"tier": "T1"},
        triggered_by="schedule",
    ) as run:
        running = history.store.get_workflow_run(run.run_id)
        assert running is not None and running.status is WorkflowStatus.RUNNING
        history.clock.advance(3)
        run.record_output("path", "/data/x.csv")
        run.record_metric("total_records", 7)

    saved = history.store.get_workflow_run(run.run_id)
    assert saved is not None
    assert saved.status is WorkflowStatus.COMPLETED
    assert (saved.workflow_name, saved.domain, saved.partition_key) == (
        WORKFLOW,
        DOMAIN,
        "2025-01-10|T1",
    )
    assert (saved.params, saved.triggered_by) == ({"tier": "T1"}, "schedule")
    assert (saved.outputs, saved.metrics) == ({"path": "/data/x.csv"}, {"total_records": 7})
    assert (saved.created_at, saved.started_at) == (START, START)
    assert saved.completed_at == START + timedelta(seconds=3)
    assert saved.duration_ms == 3000


def test_step_order_starts_at_zero(history: History) -> None:
    with history.tracker.track_workflow(WORKFLOW) as run:
        for name in ("fetch", "transform", "load"):
            with run.track_step(name, "lambda"):
                pass

    steps = history.store.get_step_runs(run.run_id)
    assert [(s.step_order, s.step_name) for s in steps] == [
        (0, "fetch"),
        (1, "transform"),
        (2, "load"),
    ]


def test_a_skipped_step_stays_skipped_after_its_block(history: History) -> None:
    with history.tracker.track_workflow(WORKFLOW) as run:
        with run.track_step("load", "lambda") as step:
            step.skip("nothing new this week")
        assert step.step.status is StepStatus.SKIPPED

    [saved] = history.store.get_step_runs(run.run_id)
    assert saved.status is StepStatus.SKIPPED
    assert saved.output_data == {"skip_reason": "nothing new this week"}
    recorded = history.store.get_workflow_run(run.run_id)
    assert recorded is not None
    assert (recorded.skipped_steps, recorded.completed_steps, recorded.total_steps) == (1, 0, 1)
    assert [e.event_type for e in history.store.get_events(run.run_id)] == [
        "run.running",
        "step.running",
        "step.skipped",
        "run.completed",
    ]


def test_an_error_in_a_step_fails_the_step_and_the_run(history: History) -> None:
    with (
        pytest.raises(DatabaseUnavailable),
        history.tracker.track_workflow(WORKFLOW) as run,
    ):
        with run.track_step("fetch", "lambda") as step:
            step.record_records(5)
        with run.track_step("load", "lambda"):
            raise DatabaseUnavailable("warehouse down")

    fetch, load = history.store.get_step_runs(run.run_id)
    assert (fetch.status, fetch.records_processed) == (StepStatus.COMPLETED, 5)
    assert (load.status, load.error, load.error_category) == (
        StepStatus.FAILED,
        "warehouse down",
        "UNAVAILABLE",
    )
    saved = history.store.get_workflow_run(run.run_id)
    assert saved is not None
    assert (saved.status, saved.error, saved.error_category, saved.error_retryable) == (
        WorkflowStatus.FAILED,
        "warehouse down",
        "UNAVAILABLE",
        True,
    )
    assert (saved.total_steps, saved.completed_steps, saved.failed_steps) == (2, 1, 1)


def test_a_cancelled_run_stays_cancelled_after_its_block(history: History) -> None:
    with history.tracker.track_workflow(WORKFLOW) as run:
        history.clock.advance(1)
        run.cancel()

    saved = history.store.get_workflow_run(run.run_id)
    assert saved is not None
    assert saved.status is WorkflowStatus.CANCELLED
    assert saved.duration_ms == 1000
    assert [e.event_type for e in history.store.get_events(run.run_id)] == [
        "run.running",
        "run.cancelled",
    ]


def test_a_step_tracked_again_is_its_next_attempt(history: History) -> None:
    # A retry loop around track_step: spec 002 allows a name twice in a run; spine's
    # table keeps one row per (run, step name, attempt).
    with history.tracker.track_workflow(WORKFLOW) as run:
        for attempt in range(3):
            with run.track_step("fetch", "lambda") as step:
                if attempt < 2:
                    step.skip(f"source not ready ({attempt})")

    steps = history.store.get_step_runs(run.run_id)
    assert [(s.step_name, s.attempt, s.status) for s in steps] == [
        ("fetch", 1, StepStatus.SKIPPED),
        ("fetch", 2, StepStatus.SKIPPED),
        ("fetch", 3, StepStatus.COMPLETED),
    ]


def test_step_quality_records_and_outputs_are_saved(history: History) -> None:
    with (
        history.tracker.track_workflow(WORKFLOW) as run,
        run.track_step("check", "pipeline", input_params={"rules": 3}) as step,
    ):
        history.clock.advance(0.25)
        step.record_quality(True, {"rows": 10})
        step.record_quality(True, {"nulls": 0})
        step.record_records(10)
        step.record_output({"report": "ok"})

    [saved] = history.store.get_step_runs(run.run_id)
    assert saved.step_type == "pipeline"
    assert saved.input_params == {"rules": 3}
    assert (saved.quality_passed, saved.quality_metrics) == (True, {"rows": 10, "nulls": 0})
    assert (saved.records_processed, saved.output_data) == (10, {"report": "ok"})
    assert (saved.started_at, saved.duration_ms) == (START, 250)
