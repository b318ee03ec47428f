"""The map step: one item step per element, bounded concurrency, failures, resumption."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from spine import RetryPolicy, Step, Workflow, pipeline
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from tests.orchestration.invariants import (
    assert_history_consistent,
    assert_nothing_running,
    attempts,
    executions_of,
)


class Crash(BaseException):
    """Escapes the runner like a killed process: nothing after it is recorded."""


def square(ctx: Any) -> dict[str, Any]:
    return {"square": ctx.item * ctx.item, "index": ctx.item_index}


def test_map_runs_the_item_step_per_item_in_item_order(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    Workflow(
        "wf",
        [
            Step.map("squares", lambda ctx: ctx.params["numbers"], Step.lambda_("sq", square)),
            Step.lambda_("total", lambda ctx: {"sum": _sum(ctx.outputs["squares"]["results"])}),
        ],
        registry=workflows,
    )

    run = runner.run("wf", {"numbers": [3, 1, 2, 5, 4]})

    assert run.status is WorkflowStatus.COMPLETED
    assert run.outputs == {"sum": 55}
    rows = attempts(store, run.run_id)
    assert rows["squares"][0].output_data == {
        "results": [{"square": n * n, "index": i} for i, n in enumerate([3, 1, 2, 5, 4])],
        "count": 5,
    }
    assert rows["squares"][0].input_params == {"items": [3, 1, 2, 5, 4], "count": 5}
    assert sorted(name for name in rows if name.startswith("squares[")) == [
        f"squares[{i}]" for i in range(5)
    ]
    item = rows["squares[3]"][0]
    assert (item.step_type, item.step_order, item.status) == ("lambda", 0, StepStatus.COMPLETED)
    assert item.input_params == {"item_index": 3}
    # The map counts as one step, its items not at all.
    assert (run.total_steps, run.completed_steps) == (2, 2)
    assert_history_consistent(store, run.run_id)


def _sum(results: list[dict[str, Any]]) -> int:
    return sum(r["square"] for r in results)


def test_map_over_an_earlier_steps_output(
    runner: WorkflowRunner, workflows: WorkflowRegistry
) -> None:
    sources = [
        ("list", {"items": [1, 2]}),
        ("list", {"files": [1, 2], "size": 2}),
        ("list.files", {"files": [1, 2], "other": [9]}),
        ("files", {"files": [1, 2], "other": [9]}),
    ]
    for number, (source, outputs) in enumerate(sources):
        name = f"wf{number}"
        Workflow(
            name,
            [
                Step.lambda_("list", lambda ctx, o=outputs: o),
                Step.map("m", source, Step.lambda_("i", square)),
            ],
            registry=workflows,
        )

        run = runner.run(name)

        assert run.status is WorkflowStatus.COMPLETED, source
        assert run.outputs["results"] == [{"square": 1, "index": 0}, {"square": 4, "index": 1}]
    Workflow(
        "empty", [Step.map("m", lambda ctx: [], Step.lambda_("i", square))], registry=workflows
    )
    assert runner.run("empty").outputs == {"results": [], "count": 0}


UNRESOLVABLE: dict[str, Any] = {
    "unknown-name": ("nowhere", "no earlier step output named 'nowhere'"),
    "ambiguous": ("list", "have no single list"),
    "dict": (lambda ctx: {"a": 1}, "items must be a list, got dict"),
    "str": (lambda ctx: "abc", "items must be a list, got str"),
    "raises": (lambda ctx: ctx.params["missing"], "KeyError: 'missing'"),
    "not-json": (lambda ctx: [object()], "map.items[0]: object is not valid JSON"),
    "nan": (lambda ctx: [1.0, float("nan")], "map.items[1]: NaN is not valid JSON"),
}


def test_map_whose_items_cannot_be_resolved_fails(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    for case, (items, message) in UNRESOLVABLE.items():
        Workflow(
            case,
            [
                Step.lambda_("list", lambda ctx: {"a": [1], "b": [2]}),
                Step.map("m", items, Step.lambda_("i", square)),
            ],
            registry=workflows,
        )

        run = runner.run(case)

        assert run.status is WorkflowStatus.FAILED, case
        (m,) = attempts(store, run.run_id)["m"]
        assert m.status is StepStatus.FAILED
        assert m.error is not None and message in m.error, case
        assert (run.completed_steps, run.failed_steps) == (1, 1)
        assert_history_consistent(store, run.run_id)
    assert_nothing_running(db)


def test_map_runs_at_most_concurrency_items_at_once(
    runner: WorkflowRunner, workflows: WorkflowRegistry
) -> None:
    lock = threading.Lock()
    running = 0
    peak = 0
    # The first items wait until three run at once, so that a loaded machine (where
    # recording one item may outlast another's sleep) cannot hide the concurrency; a
    # map that ran fewer at once never sets it, and the peak below says so.
    three_at_once = threading.Event()

    def item(ctx: Any) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            if running >= 3:
                three_at_once.set()
        three_at_once.wait(30)
        time.sleep(0.03)  # room for a fourth to start, if the map allowed one
        with lock:
            running -= 1

    Workflow(
        "wf",
        [Step.map("m", lambda ctx: list(range(10)), Step.lambda_("i", item), concurrency=3)],
        registry=workflows,
    )

    run = runner.run("wf")

    assert run.status is WorkflowStatus.COMPLETED
    assert peak == 3


def test_failed_item_fails_the_map_and_starts_no_more_items(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    seen: list[int] = []

    def item(ctx: Any) -> dict[str, Any]:
        seen.append(ctx.item)
        if ctx.item == 2:
            raise ValueError("corrupt row")
        return {}

    Workflow(
        "wf",
        [Step.map("m", lambda ctx: [0, 1, 2, 3, 4], Step.lambda_("i", item), concurrency=1)],
        registry=workflows,
    )

    run = runner.run("wf")

    assert run.status is WorkflowStatus.FAILED
    assert seen == [0, 1, 2]
    (m,) = attempts(store, run.run_id)["m"]
    assert m.error == "item 2 failed: ValueError: corrupt row"
    assert m.output_data == {"failed_items": [2], "count": 5}
    assert run.error == "step 'm' failed: item 2 failed: ValueError: corrupt row"
    assert (run.error_category, run.failed_steps) == ("VALIDATION", 1)
    assert_nothing_running(db)
    assert_history_consistent(store, run.run_id)


def test_items_retry_by_the_item_steps_policy(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    def item(ctx: Any) -> dict[str, Any]:
        if ctx.item == "b" and ctx.attempt < 3:
            raise ConnectionError("blip")
        return {"item": ctx.item, "attempt": ctx.attempt}

    retry = RetryPolicy(max_attempts=3, backoff_seconds=0)
    Workflow(
        "wf",
        [Step.map("m", lambda ctx: ["a", "b"], Step.lambda_("i", item, retry=retry))],
        registry=workflows,
    )

    run = runner.run("wf")

    assert run.outputs["results"] == [{"item": "a", "attempt": 1}, {"item": "b", "attempt": 3}]
    rows = attempts(store, run.run_id)["m[1]"]
    assert [(r.attempt, r.max_attempts, r.status) for r in rows] == [
        (1, 3, StepStatus.FAILED),
        (2, 3, StepStatus.FAILED),
        (3, 3, StepStatus.COMPLETED),
    ]
    assert (run.completed_steps, run.failed_steps) == (1, 0)
    assert_history_consistent(store, run.run_id)


def test_map_of_a_pipeline_records_an_execution_per_item(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    pipelines: PipelineRegistry,
    db: Database,
) -> None:
    @pipeline("load_tier", registry=pipelines)
    def load(ctx: Any) -> dict[str, Any]:
        return {"row_count": len(ctx.item), "tier": ctx.item, "week": ctx.params["week"]}

    Workflow(
        "wf",
        [Step.map("tiers", lambda ctx: ["T1", "T2", "OTC"], Step.pipeline("load", "load_tier"))],
        registry=workflows,
    )

    run = runner.run("wf", {"week": "2025-01-10"})

    assert [r["tier"] for r in run.outputs["results"]] == ["T1", "T2", "OTC"]
    executions = executions_of(db, run.run_id)
    assert sorted(e["row_count"] for e in executions) == [2, 2, 3]  # type: ignore[type-var]
    assert {e["status"] for e in executions} == {"COMPLETED"}


def test_resumed_map_runs_only_the_unfinished_items(
    make_runner: Any, workflows: WorkflowRegistry, store: RunStore, clock: FrozenClock
) -> None:
    calls: list[tuple[int, int]] = []

    def item(ctx: Any) -> dict[str, Any]:
        calls.append((ctx.item, ctx.attempt))
        if ctx.item == 2 and ctx.attempt == 1:
            raise Crash
        return {"item": ctx.item}

    retry = RetryPolicy(max_attempts=2, backoff_seconds=0)
    Workflow(
        "wf",
        [Step.map("m", lambda ctx: [0, 1, 2, 3], Step.lambda_("i", item, retry=retry), 1)],
        registry=workflows,
    )
    first = make_runner(worker_id="first", lease_seconds=30)
    run = first.submit("wf")
    claim = first.claim()
    assert claim is not None
    with pytest.raises(Crash):
        first.execute(claim)

    clock.advance(timedelta(seconds=31))
    finished = make_runner(worker_id="second").drive(run.run_id)

    assert finished.status is WorkflowStatus.COMPLETED
    assert calls == [(0, 1), (1, 1), (2, 1), (2, 2), (3, 1)]
    rows = attempts(store, run.run_id)
    assert rows["m[2]"][0].status is StepStatus.FAILED
    assert rows["m[2]"][0].error is not None and rows["m[2]"][0].error.startswith("interrupted")
    assert len(rows["m"]) == 1
    assert finished.outputs["results"] == [{"item": i} for i in range(4)]
    assert_history_consistent(store, run.run_id)
