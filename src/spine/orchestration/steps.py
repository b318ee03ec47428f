"""Step definitions: what a workflow is made of.

Build steps with the factories (``Step.lambda_``, ``Step.pipeline``, ``Step.choice``,
``Step.wait``, ``Step.map``, ``Step.workflow``); a step is an immutable value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from spine.core.errors import InvalidInput
from spine.core.jsonsafe import json_object
from spine.orchestration.retry import NO_RETRY, RetryPolicy

if TYPE_CHECKING:
    from spine.orchestration.context import StepContext

StepFn = Callable[["StepContext"], "Mapping[str, Any] | None"]
ChoiceFn = Callable[["StepContext"], "str | None"]
ItemsSource = Callable[["StepContext"], Sequence[Any]] | str
UntilSource = datetime | str | Callable[["StepContext"], datetime]


class StepType(StrEnum):
    """The kinds of step, as recorded in ``core_workflow_steps.step_type``."""

    LAMBDA = "lambda"
    PIPELINE = "pipeline"
    CHOICE = "choice"
    WAIT = "wait"
    MAP = "map"
    WORKFLOW = "workflow"

    @property
    def runs_user_code(self) -> bool:
        """Whether an attempt runs user code in the worker, and so dies with it."""
        return self in _USER_CODE


_USER_CODE = frozenset({StepType.LAMBDA, StepType.PIPELINE, StepType.CHOICE})


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One step of a workflow. Use the factory class methods to build one."""

    name: str
    type: StepType
    fn: Callable[..., Any] | None = None
    retry: RetryPolicy = NO_RETRY
    timeout_seconds: float | None = None
    pipeline_name: str | None = None
    workflow_name: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    wait_seconds: float | None = None
    wait_until: UntilSource | None = None
    items: ItemsSource | None = None
    item_step: Step | None = None
    concurrency: int = 4

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise InvalidInput("a step needs a non-empty name")
        if "[" in self.name or "]" in self.name:
            raise InvalidInput(f"step name {self.name!r}: '[' and ']' are reserved for map items")
        if self.timeout_seconds is not None and self.timeout_seconds <= 0:
            raise InvalidInput(f"step {self.name!r}: timeout_seconds must be positive")

    @classmethod
    def lambda_(
        cls,
        name: str,
        fn: StepFn,
        retry: RetryPolicy | None = None,
        timeout_seconds: float | None = None,
    ) -> Step:
        """A step that calls ``fn(ctx)``, which returns a dict of outputs or None."""
        if not callable(fn):
            raise InvalidInput(f"step {name!r}: fn must be callable")
        return cls(
            name=name,
            type=StepType.LAMBDA,
            fn=fn,
            retry=retry or NO_RETRY,
            timeout_seconds=timeout_seconds,
        )

    @classmethod
    def pipeline(
        cls,
        name: str,
        pipeline_name: str,
        params: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
        timeout_seconds: float | None = None,
    ) -> Step:
        """A step that runs the pipeline registered as ``pipeline_name``.

        The pipeline sees the run's params updated with ``params``; each attempt is
        recorded in ``core_executions``.

        Raises:
            InvalidInput: If ``params`` cannot be saved as JSON.
        """
        return cls(
            name=name,
            type=StepType.PIPELINE,
            pipeline_name=pipeline_name,
            params=_json_params(name, params),
            retry=retry or NO_RETRY,
            timeout_seconds=timeout_seconds,
        )

    @classmethod
    def choice(cls, name: str, fn: ChoiceFn) -> Step:
        """A branch: ``fn(ctx)`` returns the name of a later step to go to, or None.

        Steps between the choice and its target are recorded as SKIPPED.
        """
        if not callable(fn):
            raise InvalidInput(f"step {name!r}: fn must be callable")
        return cls(name=name, type=StepType.CHOICE, fn=fn)

    @classmethod
    def wait(
        cls, name: str, seconds: float | None = None, until: UntilSource | None = None
    ) -> Step:
        """A durable pause: the run is parked, no worker is held, and it resumes when due.

        Give ``seconds`` from when the step is reached, or ``until`` (an aware datetime,
        an ISO-8601 string, or a callable of ``ctx`` returning a datetime).
        """
        if (seconds is None) == (until is None):
            raise InvalidInput(f"wait step {name!r}: give exactly one of seconds or until")
        if seconds is not None and seconds < 0:
            raise InvalidInput(f"wait step {name!r}: seconds cannot be negative")
        return cls(name=name, type=StepType.WAIT, wait_seconds=seconds, wait_until=until)

    @classmethod
    def map(cls, name: str, items: ItemsSource, step: Step, concurrency: int = 4) -> Step:
        """Run ``step`` once per item, at most ``concurrency`` at a time.

        ``items`` is a callable of ``ctx`` returning a list, or the name of an earlier
        step's output: ``"step"`` (its list, or its ``items`` key), ``"step.key"``, or a
        key of any earlier step's outputs. Each item sees ``ctx.item``; the step's outputs
        are ``{"results": [...], "count": n}`` in item order.
        """
        if concurrency < 1:
            raise InvalidInput(f"map step {name!r}: concurrency must be at least 1")
        if step.type not in (StepType.LAMBDA, StepType.PIPELINE):
            raise InvalidInput(f"map step {name!r}: items run a lambda or pipeline step")
        return cls(
            name=name, type=StepType.MAP, items=items, item_step=step, concurrency=concurrency
        )

    @classmethod
    def workflow(
        cls,
        name: str,
        workflow_name: str,
        params: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
    ) -> Step:
        """Start workflow ``workflow_name`` as a child run and wait for it to finish.

        Raises:
            InvalidInput: If ``params`` cannot be saved as JSON.
        """
        return cls(
            name=name,
            type=StepType.WORKFLOW,
            workflow_name=workflow_name,
            params=_json_params(name, params),
            retry=retry or NO_RETRY,
        )


def _json_params(name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A step's params, checked now: they are saved as JSON on every attempt's row."""
    value = dict(params or {})
    json_object(value, f"step {name!r} params")
    return value
