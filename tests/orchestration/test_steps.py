"""Defining workflows and steps: what a definition accepts and what it refuses at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from spine.core.errors import InvalidInput
from spine.orchestration.errors import PipelineNotFound, WorkflowNotFound
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.steps import StepType


def noop(ctx: Any) -> None:
    return None


def test_public_names_import_from_the_package() -> None:
    from spine import RetryPolicy, Step, Workflow, pipeline

    registry = WorkflowRegistry()
    flow = Workflow("demo", [Step.lambda_("a", noop, retry=RetryPolicy())], registry=registry)

    assert callable(pipeline)
    assert flow.name == "demo"
    assert flow.domain is None
    assert flow.version == 1


def test_each_factory_builds_its_step_type() -> None:
    from spine import Step

    item = Step.lambda_("item", noop)
    steps = {
        StepType.LAMBDA: item,
        StepType.PIPELINE: Step.pipeline("p", "ingest", params={"tier": "T1"}),
        StepType.CHOICE: Step.choice("c", lambda ctx: None),
        StepType.WAIT: Step.wait("w", seconds=5),
        StepType.MAP: Step.map("m", "a", item, concurrency=2),
        StepType.WORKFLOW: Step.workflow("child", "other", params={"x": 1}),
    }

    assert {kind: step.type for kind, step in steps.items()} == {kind: kind for kind in steps}
    assert steps[StepType.MAP].item_step is item
    assert steps[StepType.MAP].concurrency == 2
    assert steps[StepType.PIPELINE].params == {"tier": "T1"}


def test_workflow_registers_in_the_registry_it_is_given_only() -> None:
    from spine import Step, Workflow
    from spine.orchestration import workflows as default_registry

    mine = WorkflowRegistry()
    Workflow("test_steps.private", [Step.lambda_("a", noop)], domain="d", version=3, registry=mine)

    assert mine.names() == ["test_steps.private"]
    assert mine.get("test_steps.private").version == 3
    assert "test_steps.private" not in default_registry


def test_unknown_workflow_names_the_known_ones() -> None:
    from spine import Step, Workflow

    registry = WorkflowRegistry()
    Workflow("known", [Step.lambda_("a", noop)], registry=registry)

    with pytest.raises(WorkflowNotFound, match=r"unknown workflow 'nope' \(known: known\)"):
        registry.get("nope")
    with pytest.raises(WorkflowNotFound, match="--app"):
        WorkflowRegistry().get("nope")


def test_pipeline_decorator_registers_and_returns_the_function() -> None:
    from spine import pipeline

    registry = PipelineRegistry()

    @pipeline("ingest", registry=registry)
    def ingest(ctx: Any) -> dict[str, Any]:
        return {"row_count": 1}

    assert registry.get("ingest") is ingest
    assert registry.names() == ["ingest"]
    with pytest.raises(PipelineNotFound, match="unknown pipeline 'other'"):
        registry.get("other")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda S, W: W("w", []), "has no steps"),
        (lambda S, W: W("", [S.lambda_("a", noop)]), "needs a name"),
        (lambda S, W: W("w", [S.lambda_("a", noop), S.lambda_("a", noop)]), "two steps"),
        (lambda S, W: W("w", ["a"]), "is not a Step"),
        (lambda S, W: S.lambda_("", noop), "non-empty name"),
        (lambda S, W: S.lambda_("a[1]", noop), "reserved for map items"),
        (lambda S, W: S.lambda_("a", "not callable"), "must be callable"),
        (lambda S, W: S.lambda_("a", noop, timeout_seconds=0), "timeout_seconds"),
        (lambda S, W: S.choice("c", 3), "must be callable"),
        (lambda S, W: S.wait("w"), "exactly one of seconds or until"),
        (lambda S, W: S.wait("w", seconds=1, until="2025-01-01T00:00:00+00:00"), "exactly one"),
        (lambda S, W: S.wait("w", seconds=-1), "cannot be negative"),
        (lambda S, W: S.map("m", "a", S.lambda_("i", noop), concurrency=0), "at least 1"),
        (lambda S, W: S.map("m", "a", S.wait("i", seconds=1)), "lambda or pipeline"),
        (lambda S, W: S.pipeline("p", "x", params={"bad": object()}), "params.bad: object is not"),
        (lambda S, W: S.workflow("c", "x", params={"bad": {1, 2}}), "params.bad: set is not"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_bad_definitions_are_refused_when_written(build: Any, message: str) -> None:
    from spine import Step, Workflow

    registry = WorkflowRegistry()

    def workflow(name: str, steps: list[Any]) -> Workflow:
        return Workflow(name, steps, registry=registry)

    with pytest.raises(InvalidInput, match=message):
        build(Step, workflow)
    assert registry.names() == []


def test_pipeline_params_may_hold_datetimes() -> None:
    from spine import Step

    when = datetime(2025, 1, 10, tzinfo=UTC)

    assert Step.pipeline("p", "x", params={"week": when}).params == {"week": when}


def test_steps_are_immutable_values() -> None:
    from spine import Step

    step = Step.lambda_("a", noop)

    with pytest.raises(AttributeError):
        step.name = "b"  # type: ignore[misc]
    assert step == Step.lambda_("a", noop)
