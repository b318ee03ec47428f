"""``checks_step`` in a real workflow run: quality verdict on the step, failure at fail_on."""

from __future__ import annotations

from pathlib import Path

import pytest

from spine.bootstrap import Services
from spine.core.clock import FrozenClock
from spine.core.errors import InvalidInput
from spine.orchestration import StepServices, Workflow
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.quality import checks_step

from .conftest import make_orders


@pytest.fixture
def sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the workflow engine is covered on PostgreSQL elsewhere")


def _runner(services: Services, clock: FrozenClock, registry: WorkflowRegistry) -> WorkflowRunner:
    return WorkflowRunner(
        RunStore(services.database, clock),
        clock=clock,
        workflow_registry=registry,
        pipeline_registry=PipelineRegistry(),
        step_services=StepServices(quality=services.quality, database=services.database),
    )


@pytest.mark.usefixtures("sqlite_only")
def test_checks_step_records_quality_and_fails_at_fail_on(
    services: Services, clock: FrozenClock, target: Path
) -> None:
    quality = services.quality
    quality.add_check(
        "rows", connection="shop", check_type="row_count", table="orders", config={"min": 1}
    )
    quality.add_check(
        "no_negative",
        connection="shop",
        check_type="out_of_range_count",
        table="orders",
        column="amount",
        config={"min_value": 0, "max": 0},
    )
    quality.add_check(
        "few_null_emails",
        connection="shop",
        check_type="null_count",
        table="orders",
        column="email",
        config={"max": 2},
        severity="warning",
    )
    registry = WorkflowRegistry()
    Workflow(
        "load",
        [checks_step("quality", table="orders", connection="shop")],
        registry=registry,
    )
    runner = _runner(services, clock, registry)
    run = runner.run("load", {})
    # A warning fails no step, but the data did not pass every check.
    assert run.status.value == "COMPLETED"
    [step] = services.runs.steps_of(run.run_id)
    assert step.quality_passed is False
    assert step.quality_metrics["checks"] == 3
    assert step.quality_metrics["results"]["rows"]["sensor_value"] == 20
    outputs = run.outputs
    assert outputs["checks"] == 3 and outputs["failed"] == 1
    assert outputs["results"]["few_null_emails"]["rule_passed"] is False
    make_orders(target, bad=2)
    failed = runner.run("load", {})
    assert failed.status.value == "FAILED"
    [attempt] = services.runs.steps_of(failed.run_id)
    assert attempt.error_category == "DATA_QUALITY"
    assert "no_negative" in (attempt.error or "")
    assert attempt.quality_passed is False
    strict = WorkflowRegistry()
    Workflow(
        "strict",
        [checks_step("q", table="orders", connection="shop", fail_on="fatal")],
        registry=strict,
    )
    assert _runner(services, clock, strict).run("strict", {}).status.value == "COMPLETED"


def test_fail_on_must_be_a_severity() -> None:
    with pytest.raises(InvalidInput):
        checks_step("q", table="t", connection="c", fail_on="bad")


def test_a_value_no_float_holds_is_kept_exact_in_the_step(
    services: Services, clock: FrozenClock, target: Path
) -> None:
    # 1 null email in 7 rows: 14.285714...%, a Decimal no float holds; the step's JSON
    # metrics must take it (on PostgreSQL it once failed the step).
    make_orders(target, rows=7)
    services.quality.add_check(
        "null_emails",
        connection="shop",
        check_type="null_percent",
        table="orders",
        column="email",
        config={"max": 50},
    )
    registry = WorkflowRegistry()
    Workflow("load", [checks_step("quality", table="orders", connection="shop")], registry=registry)
    run = _runner(services, clock, registry).run("load", {})
    assert run.status.value == "COMPLETED", run.error
    [step] = services.runs.steps_of(run.run_id)
    entry = step.quality_metrics["results"]["null_emails"]
    assert entry["sensor_value"] == pytest.approx(100 / 7)
    assert entry["sensor_value_text"].startswith("14.2857142857142857")
