"""The step handler protocol: one handler per kind of step.

A handler runs (or resumes) one step of a claimed run and says how the run goes on.
It sees the run through :class:`RunScope`, never the runner itself, so handlers and the
execution loop do not import each other. Adding a kind of step: a member of
:class:`~spine.orchestration.steps.StepType`, a module here with its handler, and one
entry in ``run.HANDLERS``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from spine.core.clock import Clock
from spine.orchestration.context import StepContext
from spine.orchestration.execution.outcome import Outcome
from spine.orchestration.execution.recorder import StepRecorder
from spine.orchestration.history.types import StepRun, WorkflowRun
from spine.orchestration.models import Claim, Lease
from spine.orchestration.registry import PipelineRegistry
from spine.orchestration.steps import Step
from spine.orchestration.store import RunStore
from spine.orchestration.workflow import Workflow


class ChildRuns(Protocol):
    """What a child-workflow step needs of the runner."""

    lease_seconds: float

    def new_run(
        self,
        workflow_name: str,
        params: Mapping[str, Any] | None = None,
        *,
        triggered_by: str = ...,
        parent_run_id: str | None = ...,
        partition_key: str | Mapping[str, Any] | None = ...,
    ) -> WorkflowRun:
        """Build (without storing) a PENDING run."""
        ...

    def claim(self, *, run_id: str | None = None) -> Claim | None:
        """Claim ``run_id`` if it is due and free."""
        ...

    def execute(self, claim: Claim) -> WorkflowRun | None:
        """Execute a claimed run until it finishes or parks."""
        ...


class RunScope(Protocol):
    """One claimed run being executed, as its step handlers see it."""

    run: WorkflowRun
    workflow: Workflow
    lease: Lease
    store: RunStore
    recorder: StepRecorder
    clock: Clock
    pipelines: PipelineRegistry
    children: ChildRuns
    inline_backoff_seconds: float
    stopping: threading.Event
    stop_grace_seconds: float

    @property
    def outputs(self) -> Mapping[str, Mapping[str, Any]]:
        """Outputs of the steps completed so far, by name."""
        ...

    @property
    def history(self) -> Mapping[str, list[StepRun]]:
        """Every recorded attempt, by step name (map items as ``map[3]``)."""
        ...

    def context(
        self,
        name: str,
        attempt: int,
        params: Mapping[str, Any] | None = None,
        item: Any = None,
        item_index: int | None = None,
        execution_id: str | None = None,
    ) -> StepContext:
        """The context of one attempt of step ``name``."""
        ...


class StepHandler(Protocol):
    """Runs one kind of step."""

    def run(self, scope: RunScope, step: Step, index: int, attempts: Sequence[StepRun]) -> Outcome:
        """Run or resume ``step`` (at position ``index``) given its recorded ``attempts``.

        A step whose latest attempt COMPLETED or was SKIPPED never reaches a handler.
        """
        ...
