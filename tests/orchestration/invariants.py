"""What must hold of any run's recorded history, checked after the engine has worked."""

from __future__ import annotations

from collections import Counter, defaultdict

import sqlalchemy as sa

from spine.core.storage import Database
from spine.core.storage.schema.baseline import core_executions
from spine.core.storage.schema.workflow_history import (
    core_workflow_events,
    core_workflow_runs,
    core_workflow_steps,
)
from spine.orchestration.history import StepRun, StepStatus, WorkflowEvent
from spine.orchestration.history.store import row_to_event
from spine.orchestration.store import RunStore

STEP_TERMINAL_EVENT = {
    StepStatus.COMPLETED: "step.completed",
    StepStatus.FAILED: "step.failed",
}


def attempts(store: RunStore, run_id: str) -> dict[str, list[StepRun]]:
    """Every attempt of every step of the run, by step name, in attempt order."""
    by_name: dict[str, list[StepRun]] = defaultdict(list)
    for step in store.get_step_runs(run_id):
        by_name[step.step_name].append(step)
    for rows in by_name.values():
        rows.sort(key=lambda row: row.attempt)
    return dict(by_name)


def event_types(store: RunStore, run_id: str) -> list[str]:
    """The run's event types, in the order they were written."""
    return [event.event_type for event in store.get_events(run_id)]


def assert_history_consistent(store: RunStore, run_id: str) -> None:
    """Each state change of the run and its steps has exactly one event, keys are unique.

    A step attempt has one ``step.started`` and, once finished, one event for its final
    status (a skipped step: one ``step.skipped``); a child-workflow step also has one
    ``step.child_started``. The run has one ``run.created``, at most one ``run.started``,
    and, once finished, one event for its final status, written last.
    """
    events = store.get_events(run_id)
    keys = [event.idempotency_key for event in events]
    assert len(keys) == len(set(keys)), f"duplicate idempotency keys: {keys}"

    by_step: dict[str, Counter[str]] = defaultdict(Counter)
    run_events: Counter[str] = Counter()
    for event in events:
        if event.step_id is None:
            run_events[event.event_type] += 1
        else:
            by_step[event.step_id][event.event_type] += 1

    rows = store.get_step_runs(run_id)
    assert set(by_step) <= {row.step_id for row in rows}, "an event names an unknown step"
    for row in rows:
        expected: Counter[str] = Counter()
        if row.status is StepStatus.SKIPPED:
            expected["step.skipped"] = 1
        else:
            expected["step.started"] = 1
            if row.status in STEP_TERMINAL_EVENT:
                expected[STEP_TERMINAL_EVENT[row.status]] = 1
        if row.step_type == "workflow" and "child_run_id" in row.input_params:
            expected["step.child_started"] = 1
        assert by_step[row.step_id] == expected, (row.step_name, row.attempt, by_step[row.step_id])

    run = store.run_row(run_id)
    assert run_events["run.created"] == 1
    assert run_events["run.started"] == (1 if run.started_at is not None else 0)
    terminal = [t for t in run_events if t in ("run.completed", "run.failed", "run.cancelled")]
    if run.is_terminal:
        assert terminal == [f"run.{run.status.value.lower()}"], run_events
        assert run_events[terminal[0]] == 1
        assert events[-1].event_type == terminal[0], [e.event_type for e in events]
    else:
        assert terminal == []


def assert_nothing_running(db: Database) -> None:
    """No run, step attempt or pipeline execution is left RUNNING."""
    with db.read() as conn:
        for table in (core_workflow_runs, core_workflow_steps, core_executions):
            left = conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.status == "RUNNING")
            ).scalar_one()
            assert left == 0, f"{left} rows of {table.name} are still RUNNING"


def all_events(db: Database) -> list[WorkflowEvent]:
    """Every event of every run, in the order written."""
    with db.read() as conn:
        rows = (
            conn.execute(sa.select(core_workflow_events).order_by(core_workflow_events.c.id))
            .mappings()
            .all()
        )
    return [row_to_event(row) for row in rows]


def executions_of(db: Database, run_id: str) -> list[dict[str, object]]:
    """The ``core_executions`` rows a run's pipeline steps made, oldest first."""
    with db.read() as conn:
        rows = (
            conn.execute(
                sa.select(core_executions)
                .where(core_executions.c.run_id == run_id)
                .order_by(core_executions.c.id)
            )
            .mappings()
            .all()
        )
    return [dict(row) for row in rows]
