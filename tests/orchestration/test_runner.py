"""The runner executes every step type and records runs, steps and counters correctly."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from spine import Step, Workflow, pipeline
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.core.storage.schema.workflow_history import core_workflow_runs
from spine.orchestration.errors import WorkflowNotFound
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.orchestration.worker import Worker
from tests.orchestration.invariants import (
    assert_history_consistent,
    assert_nothing_running,
    attempts,
    event_types,
    executions_of,
)


def test_lambda_steps_see_params_and_earlier_outputs(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    seen: dict[str, Any] = {}

    def fetch(ctx: Any) -> dict[str, Any]:
        seen["fetch"] = ctx
        return {"rows": [1, 2, 3], "week": ctx.params["week_ending"]}

    def count(ctx: Any) -> dict[str, Any]:
        seen["count"] = ctx
        return {"total": len(ctx.outputs["fetch"]["rows"]), "at": datetime(2025, 1, 10, tzinfo=UTC)}

    Workflow(
        "finra.weekly_ingest",
        [Step.lambda_("fetch", fetch), Step.lambda_("count", count)],
        domain="finra.otc_transparency",
        version=2,
        registry=workflows,
    )

    run = runner.run(
        "finra.weekly_ingest",
        {"week_ending": "2025-01-10"},
        partition_key={"week_ending": "2025-01-10", "tier": "T1"},
    )

    assert run.status is WorkflowStatus.COMPLETED
    assert run.outputs == {"total": 3, "at": "2025-01-10T00:00:00+00:00"}  # datetimes as ISO
    ctx = seen["count"]
    assert ctx.run_id == run.run_id
    assert (ctx.workflow_name, ctx.step_name, ctx.attempt) == ("finra.weekly_ingest", "count", 1)
    assert dict(ctx.params) == {"week_ending": "2025-01-10"}
    assert dict(ctx.outputs) == {"fetch": {"rows": [1, 2, 3], "week": "2025-01-10"}}
    assert ctx.partition_key == '{"tier":"T1","week_ending":"2025-01-10"}'
    assert ctx.domain == "finra.otc_transparency"
    assert ctx.item is None and ctx.item_index is None
    assert seen["fetch"].outputs == {}
    assert run.workflow_version == 2
    assert (run.total_steps, run.completed_steps, run.failed_steps, run.skipped_steps) == (
        2,
        2,
        0,
        0,
    )
    assert run.started_at == clock.now() and run.completed_at == clock.now()
    assert run.duration_ms == 0
    assert (run.error, run.error_category, run.error_retryable) == (None, None, None)
    steps = store.get_step_runs(run.run_id)
    assert [(s.step_name, s.step_order, s.step_type, s.status) for s in steps] == [
        ("fetch", 0, "lambda", StepStatus.COMPLETED),
        ("count", 1, "lambda", StepStatus.COMPLETED),
    ]
    assert_history_consistent(store, run.run_id)


def test_params_are_read_only_and_logger_carries_the_run(
    runner: WorkflowRunner, workflows: WorkflowRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    def step(ctx: Any) -> None:
        ctx.log.info("hello from %s", ctx.step_name)
        ctx.params["x"] = 2

    Workflow("wf", [Step.lambda_("s", step)], registry=workflows)

    with caplog.at_level(logging.INFO, logger="spine.step"):
        run = runner.run("wf", {"x": 1})

    assert run.status is WorkflowStatus.FAILED
    assert run.error is not None and "TypeError" in run.error
    record = next(r for r in caplog.records if r.name == "spine.step")
    assert record.getMessage() == "hello from s"
    assert record.run_id == run.run_id  # type: ignore[attr-defined]
    assert record.step_name == "s"  # type: ignore[attr-defined]


def test_durations_follow_the_clock(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    Workflow(
        "wf",
        [Step.lambda_("slow", lambda ctx: clock.advance(2.5) and None), Step.wait("w", seconds=4)],
        registry=workflows,
    )

    run = runner.run("wf")

    assert run.duration_ms == 6500
    slow, wait = store.get_step_runs(run.run_id)
    assert (slow.duration_ms, wait.duration_ms) == (2500, 4000)


BAD_RETURNS = {
    "int": (42, "step 'bad' returned int; a step returns a dict or None"),
    "list": (["a"], "step 'bad' returned list; a step returns a dict or None"),
    "not-json": ({"when": object()}, "outputs.when: object is not valid JSON"),
    "nan": ({"rows": [{"price": 1.5}, {"price": float("nan")}]}, "outputs.rows[1].price: NaN"),
    "bytes": ({"blob": b"\x00"}, "outputs.blob: bytes are not valid JSON"),
}


def test_bad_return_value_fails_the_step_and_the_run(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    for case, (value, message) in BAD_RETURNS.items():
        Workflow(case, [Step.lambda_("bad", lambda ctx, v=value: v)], registry=workflows)

        run = runner.run(case)

        assert run.status is WorkflowStatus.FAILED, case
        (step,) = store.get_step_runs(run.run_id)
        assert step.status is StepStatus.FAILED
        assert step.error is not None and message in step.error, case
        assert step.error_category == "VALIDATION"
        assert run.error == f"step 'bad' failed: {step.error}"
        assert (run.error_category, run.error_retryable, run.failed_steps) == (
            "VALIDATION",
            False,
            1,
        )
        assert_history_consistent(store, run.run_id)
    assert_nothing_running(db)


def test_unknown_workflow_is_refused_at_submit_and_fails_a_stored_run(
    runner: WorkflowRunner, make_runner: Any, workflows: WorkflowRegistry, store: RunStore
) -> None:
    with pytest.raises(WorkflowNotFound):
        runner.submit("nope")
    assert store.list_workflow_runs() == []
    Workflow("wf", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    run = runner.submit("wf")
    stranger = make_runner(workflow_registry=WorkflowRegistry())

    finished = stranger.drive(run.run_id)

    assert finished.status is WorkflowStatus.FAILED
    assert finished.error is not None and "unknown workflow 'wf'" in finished.error
    assert_history_consistent(store, run.run_id)


# ------------------------------------------------------------------ pipelines


def test_pipeline_step_records_an_execution_per_attempt(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    pipelines: PipelineRegistry,
    store: RunStore,
    db: Database,
) -> None:
    from spine import RetryPolicy

    seen: list[dict[str, Any]] = []

    @pipeline("finra.load", registry=pipelines)
    def load(ctx: Any) -> dict[str, Any]:
        seen.append(dict(ctx.params))
        if ctx.attempt == 1:
            raise ConnectionError("upstream reset")
        return {"row_count": 1234, "table": "otc"}

    Workflow(
        "wf",
        [
            Step.pipeline(
                "load", "finra.load", params={"tier": "T1"}, retry=RetryPolicy(max_attempts=2)
            )
        ],
        domain="finra.otc_transparency",
        registry=workflows,
    )

    run = runner.run("wf", {"week_ending": "2025-01-10", "tier": "T2"}, partition_key="w2")

    assert run.status is WorkflowStatus.COMPLETED
    assert seen == [{"week_ending": "2025-01-10", "tier": "T1"}] * 2
    first, second = attempts(store, run.run_id)["load"]
    assert (first.step_type, second.records_processed) == ("pipeline", 1234)
    executions = executions_of(db, run.run_id)
    assert [e["id"] for e in executions] == [first.execution_id, second.execution_id]
    assert [e["status"] for e in executions] == ["FAILED", "COMPLETED"]
    assert [e["step_id"] for e in executions] == [first.step_id, second.step_id]
    assert executions[0]["error"] == "ConnectionError: upstream reset"
    assert executions[0]["error_category"] == "NETWORK"
    assert executions[1]["result"] == {"row_count": 1234, "table": "otc"}
    assert executions[1]["row_count"] == 1234
    assert {(e["pipeline_name"], e["domain"], e["partition_key"]) for e in executions} == {
        ("finra.load", "finra.otc_transparency", "w2")
    }
    assert all(e["completed_at"] is not None for e in executions)
    assert_history_consistent(store, run.run_id)


def test_unknown_pipeline_fails_the_step_as_not_found(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    Workflow("wf", [Step.pipeline("load", "missing")], registry=workflows)

    run = runner.run("wf")

    assert run.status is WorkflowStatus.FAILED
    assert run.error == "step 'load' failed: unknown pipeline 'missing'"
    assert run.error_category == "NOT_FOUND"
    assert [e["status"] for e in executions_of(db, run.run_id)] == ["FAILED"]
    assert_nothing_running(db)


# --------------------------------------------------------------------- choice


def branching(workflows: WorkflowRegistry, choose: Any) -> None:
    Workflow(
        "wf",
        [
            Step.lambda_("fetch", lambda ctx: {"size": ctx.params["size"]}),
            Step.choice("route", choose),
            Step.lambda_("small", lambda ctx: {"path": "small"}),
            Step.lambda_("medium", lambda ctx: {"path": "medium"}),
            Step.lambda_("large", lambda ctx: {"path": "large"}),
        ],
        registry=workflows,
    )


def test_choice_jumps_and_records_skipped_steps(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    branching(workflows, lambda ctx: "large" if ctx.outputs["fetch"]["size"] > 10 else None)

    run = runner.run("wf", {"size": 50})

    assert run.status is WorkflowStatus.COMPLETED
    assert run.outputs == {"path": "large"}
    status = {s.step_name: s.status for s in store.get_step_runs(run.run_id)}
    assert status == {
        "fetch": StepStatus.COMPLETED,
        "route": StepStatus.COMPLETED,
        "small": StepStatus.SKIPPED,
        "medium": StepStatus.SKIPPED,
        "large": StepStatus.COMPLETED,
    }
    assert (run.completed_steps, run.skipped_steps, run.total_steps) == (3, 2, 5)
    skipped = attempts(store, run.run_id)["small"][0]
    assert skipped.output_data == {"skip_reason": "choice 'route' branched past it"}
    assert_history_consistent(store, run.run_id)


def test_choice_of_a_step_that_is_not_later_fails_the_choice(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    for target in ("nowhere", "fetch", "route"):
        workflows = WorkflowRegistry()
        branching(workflows, lambda ctx, t=target: t)
        run = WorkflowRunner(store, clock=runner.clock, workflow_registry=workflows).run(
            "wf", {"size": 1}
        )

        assert run.status is WorkflowStatus.FAILED, target
        route = attempts(store, run.run_id)["route"][0]
        assert route.status is StepStatus.FAILED
        assert route.error == (
            f"choice 'route' chose {target!r}, which is not a later step of the workflow"
        )
        assert route.error_category == "VALIDATION"
        assert (run.completed_steps, run.failed_steps, run.error_category) == (
            1,
            1,
            "VALIDATION",
        )
        assert_history_consistent(store, run.run_id)


def test_choice_returning_none_goes_on_and_a_non_string_fails(
    runner: WorkflowRunner, store: RunStore
) -> None:
    outcomes = {}
    for name, choose in (("none", lambda ctx: None), ("int", lambda ctx: 3)):
        registry = WorkflowRegistry()
        branching(registry, choose)
        branch_runner = WorkflowRunner(store, clock=runner.clock, workflow_registry=registry)
        outcomes[name] = branch_runner.run("wf", {"size": 1})

    assert (outcomes["none"].completed_steps, outcomes["none"].skipped_steps) == (5, 0)
    assert outcomes["none"].outputs == {"path": "large"}
    assert outcomes["int"].status is WorkflowStatus.FAILED
    assert outcomes["int"].error == (
        "step 'route' failed: choice 'route' returned int; it returns a step name or None"
    )


# ----------------------------------------------------------------------- wait


def test_wait_parks_the_run_without_a_worker_until_due(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    Workflow(
        "wf",
        [
            Step.lambda_("before", lambda ctx: {"n": 1}),
            Step.wait("cool_off", seconds=3600),
            Step.lambda_("after", lambda ctx: {"n": ctx.outputs["before"]["n"] + 1}),
        ],
        registry=workflows,
    )
    run = runner.submit("wf")
    worker = Worker(runner, concurrency=1)

    assert worker.run(once=True) == 1

    due = clock.now() + timedelta(hours=1)
    with store.db.read() as conn:
        row = conn.execute(
            sa.select(core_workflow_runs).where(core_workflow_runs.c.run_id == run.run_id)
        ).one()
    assert (row.status, row.lease_owner, row.lease_expires_at) == ("RUNNING", None, None)
    assert store.wake_at_of(run.run_id) == due
    assert store.next_wake() == due
    assert attempts(store, run.run_id)["cool_off"][0].status is StepStatus.RUNNING
    clock.advance(3599)
    assert worker.run(once=True) == 0
    clock.advance(1)
    assert worker.run(once=True) == 1
    done = store.run_row(run.run_id)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.outputs == {"n": 2}
    (wait,) = attempts(store, run.run_id)["cool_off"]
    assert wait.output_data == {"waited_until": due.isoformat()}
    assert done.completed_steps == 3
    assert event_types(store, run.run_id).count("run.parked") == 1
    assert_history_consistent(store, run.run_id)


def test_wait_until_a_time(
    runner: WorkflowRunner, workflows: WorkflowRegistry, clock: FrozenClock
) -> None:
    forms: dict[str, Any] = {
        "datetime": lambda at: at,
        "iso": lambda at: at.isoformat(),
        "callable": lambda at: lambda ctx: datetime.fromisoformat(ctx.params["at"]),
    }
    for form, make in forms.items():
        at = clock.now() + timedelta(minutes=30)
        Workflow(form, [Step.wait("w", until=make(at))], registry=workflows)

        run = runner.run(form, {"at": at.isoformat()})

        assert run.status is WorkflowStatus.COMPLETED, form
        assert run.completed_at == at, form
    # A time already past does not park the run at all.
    Workflow("past", [Step.wait("w", until=clock.now() - timedelta(days=1))], registry=workflows)
    past = runner.submit("past")
    assert Worker(runner).run(once=True) == 1
    assert runner.store.run_row(past.run_id).status is WorkflowStatus.COMPLETED


BAD_UNTIL = {
    "raises": (lambda ctx: ctx.params["missing"], "KeyError: 'missing'"),
    "bad-text": (lambda ctx: "tomorrow", "Invalid isoformat string: 'tomorrow'"),
    "naive": (lambda ctx: datetime(2025, 1, 11), "until must be timezone-aware"),
    "not-a-time": (lambda ctx: 3, "until must give a datetime"),
}


def test_wait_whose_time_cannot_be_computed_fails(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    runs = {}
    for case, (until, _) in BAD_UNTIL.items():
        Workflow(case, [Step.wait("w", until=until)], registry=workflows)
        runs[case] = runner.submit(case)

    Worker(runner).run(once=True)

    for case, (_, message) in BAD_UNTIL.items():
        failed = store.run_row(runs[case].run_id)
        assert failed.status is WorkflowStatus.FAILED, case
        (step,) = store.get_step_runs(failed.run_id)
        assert step.status is StepStatus.FAILED
        assert step.error is not None and message in step.error, case
        assert (step.error_category, failed.error_category) == ("VALIDATION", "VALIDATION")
        assert_history_consistent(store, failed.run_id)
    assert_nothing_running(db)


# ------------------------------------------------------------- child workflow


def test_child_workflow_runs_with_its_parent_recorded(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    Workflow(
        "child",
        [Step.lambda_("work", lambda ctx: {"got": dict(ctx.params)})],
        domain="finra.otc_transparency",
        registry=workflows,
    )
    Workflow(
        "parent",
        [
            Step.workflow("sub", "child", params={"tier": "T1"}),
            Step.lambda_("use", lambda ctx: {"from_child": ctx.outputs["sub"]["got"]}),
        ],
        registry=workflows,
    )

    run = runner.run("parent", {"week_ending": "2025-01-10"}, partition_key="p1")

    assert run.status is WorkflowStatus.COMPLETED
    (sub,) = attempts(store, run.run_id)["sub"]
    child_id = sub.input_params["child_run_id"]
    child = store.run_row(child_id)
    assert child.status is WorkflowStatus.COMPLETED
    assert (child.parent_run_id, child.triggered_by) == (run.run_id, "parent_workflow")
    assert child.partition_key == "p1"
    assert child.domain == "finra.otc_transparency"
    assert child.params == {"week_ending": "2025-01-10", "tier": "T1"}
    assert sub.output_data == {
        "child_run_id": child_id,
        "got": {"week_ending": "2025-01-10", "tier": "T1"},
    }
    assert run.outputs == {"from_child": {"week_ending": "2025-01-10", "tier": "T1"}}
    assert run.completed_steps == 2
    assert_history_consistent(store, run.run_id)
    assert_history_consistent(store, child_id)


def test_failed_child_fails_the_parent_step(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    def broken(ctx: Any) -> None:
        raise ValueError("bad file")

    Workflow("child", [Step.lambda_("work", broken)], registry=workflows)
    Workflow("parent", [Step.workflow("sub", "child")], registry=workflows)

    run = runner.run("parent")

    assert run.status is WorkflowStatus.FAILED
    (sub,) = attempts(store, run.run_id)["sub"]
    child_id = sub.input_params["child_run_id"]
    assert sub.status is StepStatus.FAILED
    assert sub.error == (f"child run {child_id} FAILED: step 'work' failed: ValueError: bad file")
    assert (sub.error_category, run.error_category, run.failed_steps) == (
        "VALIDATION",
        "VALIDATION",
        1,
    )
    assert store.run_row(child_id).status is WorkflowStatus.FAILED
    # A child of a workflow nobody registered fails the step without a child run.
    Workflow("orphan", [Step.workflow("sub", "ghost")], registry=workflows)
    orphan = runner.run("orphan")
    assert (orphan.status, orphan.error_category) == (WorkflowStatus.FAILED, "NOT_FOUND")
    assert "unknown workflow 'ghost'" in (orphan.error or "")
    assert_nothing_running(db)
    assert_history_consistent(store, run.run_id)
    assert_history_consistent(store, orphan.run_id)


def test_waiting_child_parks_its_parent_and_both_resume(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    Workflow(
        "child",
        [Step.wait("pause", seconds=600), Step.lambda_("done", lambda ctx: {"ok": True})],
        registry=workflows,
    )
    Workflow("parent", [Step.workflow("sub", "child")], registry=workflows)
    run = runner.submit("parent")
    worker = Worker(runner, concurrency=2)

    worker.run(once=True)

    (sub,) = attempts(store, run.run_id)["sub"]
    child_id = sub.input_params["child_run_id"]
    due = clock.now() + timedelta(seconds=600)
    assert store.wake_at_of(run.run_id) == due
    assert store.wake_at_of(child_id) == due
    clock.advance(600)
    worker.run(once=True)
    assert store.run_row(child_id).status is WorkflowStatus.COMPLETED
    parent = store.run_row(run.run_id)
    assert parent.status is WorkflowStatus.COMPLETED
    assert parent.outputs == {"child_run_id": child_id, "ok": True}
    assert_history_consistent(store, run.run_id)
    assert_history_consistent(store, child_id)


def test_failed_child_is_retried_as_a_new_child_run(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    from spine import RetryPolicy

    children: list[str] = []

    def flaky(ctx: Any) -> dict[str, Any]:
        children.append(ctx.run_id)
        if len(children) == 1:
            raise ConnectionError("upstream down")
        return {"ok": True}

    Workflow("child", [Step.lambda_("work", flaky)], registry=workflows)
    retry = RetryPolicy(max_attempts=2, backoff_seconds=0)
    Workflow("parent", [Step.workflow("sub", "child", retry=retry)], registry=workflows)

    run = runner.run("parent")

    assert run.status is WorkflowStatus.COMPLETED
    first, second = attempts(store, run.run_id)["sub"]
    assert [first.input_params["child_run_id"], second.input_params["child_run_id"]] == children
    assert (first.status, first.error_category) == (StepStatus.FAILED, "NETWORK")
    assert (second.status, second.attempt, second.max_attempts) == (StepStatus.COMPLETED, 2, 2)
    assert [store.run_row(c).status for c in children] == [
        WorkflowStatus.FAILED,
        WorkflowStatus.COMPLETED,
    ]
    assert (run.completed_steps, run.failed_steps) == (1, 0)
    assert_history_consistent(store, run.run_id)


def test_a_step_records_its_quality_verdict_on_its_row(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    def checked(ctx: Any) -> dict[str, Any]:
        ctx.record_quality(False, {"null_rows": 2})
        ctx.record_quality(True, {"rows": 3})
        return {"rows": 3}

    def failing(ctx: Any) -> None:
        ctx.record_quality(False, {"bad_rows": 7})
        raise ValueError("bad data")

    Workflow(
        "checked",
        [Step.lambda_("load", checked), Step.lambda_("plain", lambda ctx: None)],
        registry=workflows,
    )
    Workflow("rejected", [Step.lambda_("load", failing)], registry=workflows)

    run = runner.run("checked")
    rejected = runner.run("rejected")

    load, plain = store.get_step_runs(run.run_id)
    assert (load.quality_passed, load.quality_metrics) == (True, {"null_rows": 2, "rows": 3})
    assert (plain.quality_passed, plain.quality_metrics) == (None, {})
    (failed,) = store.get_step_runs(rejected.run_id)
    assert failed.status is StepStatus.FAILED
    assert (failed.quality_passed, failed.quality_metrics) == (False, {"bad_rows": 7})


def test_a_pipeline_param_named_item_index_does_not_lose_the_previous_steps_completion(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    pipelines: PipelineRegistry,
    store: RunStore,
) -> None:
    @pipeline("paged", registry=pipelines)
    def paged(ctx: Any) -> dict[str, Any]:
        return {"page": ctx.params["item_index"]}

    Workflow(
        "wf",
        [
            Step.lambda_("first", lambda ctx: {"ok": True}),
            Step.pipeline("load", "paged", params={"item_index": 2}),
            Step.lambda_("last", lambda ctx: None),
        ],
        registry=workflows,
    )

    run = runner.run("wf")

    assert run.status is WorkflowStatus.COMPLETED
    rows = attempts(store, run.run_id)
    assert [rows[name][-1].status for name in ("first", "load", "last")] == [
        StepStatus.COMPLETED
    ] * 3
    assert rows["load"][-1].output_data == {"page": 2}
    assert run.completed_steps == 3
    assert_history_consistent(store, run.run_id)
