"""One workflow name, one definition: a second definition elsewhere is an error."""

from __future__ import annotations

import pytest

from spine.orchestration import Step, Workflow
from spine.orchestration.errors import WorkflowDefinedTwice
from spine.orchestration.registry import WorkflowRegistry


def define(registry: WorkflowRegistry) -> Workflow:
    return Workflow("reg.job", [Step.lambda_("a", lambda ctx: None)], registry=registry)


def test_a_name_defined_at_two_places_is_an_error_naming_both() -> None:
    registry = WorkflowRegistry()
    first = define(registry)

    with pytest.raises(WorkflowDefinedTwice) as raised:
        Workflow("reg.job", [Step.lambda_("b", lambda ctx: None)], registry=registry)

    message = str(raised.value)
    assert message.startswith("workflow 'reg.job' is defined twice (at ")
    assert f"{__file__}:13 and at {__file__}:" in message
    assert message.endswith(": give each workflow its own name")
    assert registry.get("reg.job") is first


def test_the_same_definition_run_again_replaces_itself() -> None:
    registry = WorkflowRegistry()
    define(registry)
    second = define(registry)  # a module imported twice, a test run twice

    assert registry.get("reg.job") is second
    registry.register(second)
    assert registry.all() == [second]


def test_a_workflow_kept_out_of_registries_is_not_a_second_definition() -> None:
    registry = WorkflowRegistry()
    define(registry)

    Workflow("reg.job", [Step.lambda_("c", lambda ctx: None)], register=False)

    assert [s.name for s in registry.get("reg.job").steps] == ["a"]
