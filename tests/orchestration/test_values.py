"""Values JSON cannot hold are refused at the door, the same on SQLite and PostgreSQL.

Step outputs, quality metrics, run params and partition keys are checked before they are
written: a bad one fails the step (one attempt, whatever its policy) or the submit, naming
the field, and never reaches the database. Declared param types are applied on submit.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from spine import RetryPolicy, Step, Workflow
from spine.core.errors import InvalidInput
from spine.core.storage import Database
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from tests.core.test_jsonsafe import json_ish
from tests.orchestration.invariants import assert_history_consistent, assert_nothing_running

AGAIN = RetryPolicy(max_attempts=3, backoff_seconds=0)


def same(stored: Any, given: Any) -> bool:
    """Equal, a number read back from PostgreSQL's decimal ``jsonb`` compared by value.

    ``jsonb`` keeps ``1.5e300`` as the decimal 15 followed by 299 zeros, which reads back
    as an int: the same number, not the same Python type.
    """
    if isinstance(given, float) and isinstance(stored, int | float):
        return float(stored) == given
    if isinstance(given, dict):
        return (
            isinstance(stored, dict)
            and stored.keys() == given.keys()
            and all(same(stored[k], v) for k, v in given.items())
        )
    if isinstance(given, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(given)
            and all(same(s, g) for s, g in zip(stored, given, strict=True))
        )
    return type(stored) is type(given) and stored == given


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_ish)
def test_params_are_stored_as_given_or_refused_before_any_write(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, value: Any
) -> None:
    Workflow("wf", [Step.lambda_("a", lambda ctx: None)], registry=workflows)
    before = len(store.list_workflow_runs(limit=1000))
    try:
        run = runner.submit("wf", {"v": value, "nested": [{"v": value}]})
    except InvalidInput as error:
        assert str(error).startswith(("params.v", "params.nested[0].v"))
        assert len(store.list_workflow_runs(limit=1000)) == before
        return
    stored = store.run_row(run.run_id).params
    assert same(stored, run.params), (stored, run.params)
    assert same(stored["v"], run.params["v"])


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({"x": math.nan}, "outputs.x: NaN is not valid JSON"),
        ({"rows": [{"price": 1.0}, {"price": math.inf}]}, "outputs.rows[1].price: Infinity"),
        ({"blob": b"raw"}, "outputs.blob: bytes are not valid JSON"),
        ({"t": "a\x00b"}, "outputs.t: text with a NUL character"),
    ],
)
def test_a_step_returning_a_value_json_cannot_hold_fails_once_naming_it(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    store: RunStore,
    db: Database,
    outputs: dict[str, Any],
    message: str,
) -> None:
    calls: list[int] = []

    def step(ctx: Any) -> dict[str, Any]:
        calls.append(ctx.attempt)
        return outputs

    Workflow(
        "wf", [Step.lambda_("s", step, retry=AGAIN), Step.lambda_("b", step)], registry=workflows
    )

    run = runner.run("wf")

    assert calls == [1]  # refused values are not retried
    assert run.status is WorkflowStatus.FAILED
    (attempt,) = store.get_step_runs(run.run_id)
    assert (attempt.status, attempt.output_data, attempt.error_category) == (
        StepStatus.FAILED,
        {},
        "VALIDATION",
    )
    assert attempt.error is not None and attempt.error.startswith(message)
    assert run.error == f"step 's' failed: {attempt.error}"
    assert (run.error_category, run.error_retryable, run.outputs) == ("VALIDATION", False, {})
    assert_history_consistent(store, run.run_id)
    assert_nothing_running(db)


def test_quality_metrics_json_cannot_hold_fail_the_step_naming_them(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    def check(ctx: Any) -> None:
        ctx.record_quality(False, {"null_ratio": math.nan})

    Workflow("wf", [Step.lambda_("q", check)], registry=workflows)

    run = runner.run("wf")

    assert run.status is WorkflowStatus.FAILED
    (attempt,) = store.get_step_runs(run.run_id)
    assert attempt.error == "quality_metrics.null_ratio: NaN is not valid JSON"
    assert attempt.quality_metrics == {}


@pytest.mark.parametrize(
    ("params", "partition_key", "message"),
    [
        ({"limit": math.nan}, None, "params.limit: NaN is not valid JSON"),
        ({"tags": ["a", b"b"]}, None, "params.tags[1]: bytes are not valid JSON"),
        ({}, {"week": "2025-01-10", "ratio": -math.inf}, "partition_key.ratio: -Infinity"),
    ],
)
def test_submit_refuses_params_json_cannot_hold_and_writes_nothing(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    store: RunStore,
    params: dict[str, Any],
    partition_key: dict[str, Any] | None,
    message: str,
) -> None:
    Workflow("wf", [Step.lambda_("a", lambda ctx: None)], registry=workflows)

    with pytest.raises(InvalidInput) as raised:
        runner.submit("wf", params, partition_key=partition_key)

    assert str(raised.value).startswith(message)
    assert store.list_workflow_runs() == []


def test_declared_param_types_are_applied_on_submit(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    Workflow(
        "wf",
        [Step.lambda_("echo", lambda ctx: dict(ctx.params))],
        registry=workflows,
        params={
            "week": date,
            "at": datetime,
            "limit": int,
            "ratio": float,
            "full": bool,
            "code": str,
            "tiers": list,
            "extra": dict,
        },
    )

    from_text = runner.run(
        "wf",
        {
            "week": "2025-01-10",
            "at": "2025-01-10T06:00:00Z",
            "limit": "7",
            "ratio": "1.10",
            "full": "yes",
            "code": "007",
            "tiers": '["T1", "T2"]',
            "extra": '{"a": 1}',
            "other": "untouched",
        },
    )
    from_python = runner.run(
        "wf",
        {
            "week": date(2025, 1, 10),
            "at": datetime(2025, 1, 10, 6),  # naive: taken as UTC
            "limit": 7,
            "ratio": 1.1,
            "full": True,
            "code": "007",
            "tiers": ("T1", "T2"),
            "extra": {"a": 1},
            "other": "untouched",
        },
    )

    expected = {
        "week": "2025-01-10",
        "at": datetime(2025, 1, 10, 6, tzinfo=UTC).isoformat(),
        "limit": 7,
        "ratio": 1.1,
        "full": True,
        "code": "007",
        "tiers": ["T1", "T2"],
        "extra": {"a": 1},
        "other": "untouched",
    }
    for run in (from_text, from_python):
        assert run.status is WorkflowStatus.COMPLETED
        assert store.run_row(run.run_id).params == expected
        assert run.outputs == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "ten"}, "param 'limit' must be int, e.g. 10; got 'ten'"),
        ({"limit": True}, "param 'limit' must be int, e.g. 10; got True"),
        ({"limit": 1.5}, "param 'limit' must be int"),
        ({"ratio": "NaN"}, "param 'ratio' must be float, e.g. 2.5; got 'NaN'"),
        ({"ratio": math.inf}, "param 'ratio' must be float"),
        ({"week": "2025-13-01"}, "param 'week' must be date, e.g. 2025-01-10"),
        ({"week": datetime(2025, 1, 10)}, "param 'week' must be date"),
        ({"full": "maybe"}, "param 'full' must be bool, e.g. true"),
        ({"code": None}, "param 'code' must be str; got None"),
        ({"code": [7]}, "param 'code' must be str; got [7]"),
        ({"tiers": "T1"}, "param 'tiers' must be list, e.g. [1, 2]"),
    ],
)
def test_a_param_that_does_not_fit_its_declared_type_is_refused(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    store: RunStore,
    params: dict[str, Any],
    message: str,
) -> None:
    Workflow(
        "wf",
        [Step.lambda_("a", lambda ctx: None)],
        registry=workflows,
        params={
            "week": date,
            "limit": int,
            "ratio": float,
            "full": bool,
            "code": str,
            "tiers": list,
        },
    )

    with pytest.raises(InvalidInput) as raised:
        runner.submit("wf", params)

    assert str(raised.value) == message or str(raised.value).startswith(message)
    assert store.list_workflow_runs() == []


def test_a_number_for_a_text_param_becomes_its_json_text(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    # A schedule's `--param code=10` is read as 10 before the workflow is known.
    Workflow("wf", [Step.lambda_("a", lambda ctx: None)], registry=workflows, params={"code": str})

    runs = [runner.submit("wf", {"code": value}) for value in (10, 2.5, True)]

    assert [store.run_row(r.run_id).params for r in runs] == [
        {"code": "10"},
        {"code": "2.5"},
        {"code": "true"},
    ]


def test_a_declaration_of_an_unknown_type_is_refused() -> None:
    with pytest.raises(InvalidInput, match="param 'n' has type <class 'complex'>; use one of"):
        Workflow("wf", [Step.lambda_("a", lambda ctx: None)], params={"n": complex}, register=False)
