"""Errors of the workflow engine."""

from __future__ import annotations

from spine.core.errors import (
    ConfigurationError,
    Conflict,
    ErrorCategory,
    InvalidInput,
    NotFound,
    SpineError,
)


class WorkflowNotFound(NotFound):
    """No workflow is registered under this name."""

    def __init__(self, name: str, known: list[str] | None = None) -> None:
        hint = f" (known: {', '.join(sorted(known))})" if known else ""
        hint = hint if known else " (did you pass --app or set SPINE_APP?)"
        super().__init__(f"unknown workflow {name!r}{hint}")
        self.name = name


class WorkflowDefinedTwice(InvalidInput):
    """Two different definitions claim one workflow name in one registry."""

    def __init__(self, name: str, first: str | None, second: str | None) -> None:
        places = f" (at {first} and at {second})" if first and second else ""
        super().__init__(
            f"workflow {name!r} is defined twice{places}: give each workflow its own name"
        )
        self.name = name


class PipelineNotFound(NotFound):
    """No pipeline is registered under this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown pipeline {name!r}")
        self.name = name


class RunNotFound(NotFound):
    """No run has this id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"unknown run {run_id!r}")
        self.run_id = run_id


class RunFinished(Conflict):
    """The run already reached a terminal status."""

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(f"run {run_id} is already {status}")
        self.run_id = run_id


class LeaseLost(SpineError):
    """This worker no longer holds the run: another worker may have taken it over."""

    category = ErrorCategory.UNAVAILABLE

    def __init__(self, run_id: str) -> None:
        super().__init__(f"lost the lease on run {run_id}")
        self.run_id = run_id


class StepOutputError(InvalidInput):
    """A step returned something other than a dict or None."""

    def __init__(self, step_name: str, value: object) -> None:
        super().__init__(
            f"step {step_name!r} returned {type(value).__name__}; a step returns a dict or None"
        )


class RunCancelled(SpineError):
    """The run was cancelled while this step or item waited to start."""

    category = ErrorCategory.CANCELLED

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id} was cancelled", retryable=False)


class StepServiceMissing(ConfigurationError):
    """A step used a service (alerts, sources, the database) its runner was not given."""

    def __init__(self, service: str, step_name: str, workflow_name: str) -> None:
        super().__init__(
            f"step {step_name!r} of workflow {workflow_name!r} uses ctx.{service}, but its "
            f"runner has no {service}: run it through spine (spine run, spine worker, "
            f"spine.bootstrap.build().runner()), or give the runner "
            f"WorkflowRunner(..., step_services=StepServices({service}=...))"
        )
        self.service = service
