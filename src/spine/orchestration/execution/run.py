"""One claimed run being executed: replay its history, dispatch steps, park or finish.

A run's progress is its step rows. Executing a run replays them from the first step: a
step whose latest attempt COMPLETED (or was SKIPPED) is not run again, its outputs are
read back; anything else goes to the handler of its kind.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any

from spine.core.clock import Clock
from spine.core.errors import SpineError
from spine.core.ids import new_id
from spine.orchestration.context import StepContext, StepServices
from spine.orchestration.errors import RunCancelled
from spine.orchestration.execution.child import ChildHandler
from spine.orchestration.execution.choice import ChoiceHandler
from spine.orchestration.execution.failures import describe
from spine.orchestration.execution.handler import ChildRuns, StepHandler
from spine.orchestration.execution.leaf import LeafHandler
from spine.orchestration.execution.map import MapHandler
from spine.orchestration.execution.outcome import Outcome, OutcomeKind
from spine.orchestration.execution.recorder import StepRecorder
from spine.orchestration.execution.wait import WaitHandler
from spine.orchestration.history.types import StepRun, StepStatus, WorkflowRun, WorkflowStatus
from spine.orchestration.models import Claim, FinishedStep, StepFailure
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.steps import Step, StepType
from spine.orchestration.store import RunStore
from spine.orchestration.workflow import Workflow

#: The handler of each kind of step.
HANDLERS: Mapping[StepType, StepHandler] = {
    StepType.LAMBDA: LeafHandler(),
    StepType.PIPELINE: LeafHandler(),
    StepType.CHOICE: ChoiceHandler(),
    StepType.WAIT: WaitHandler(),
    StepType.MAP: MapHandler(),
    StepType.WORKFLOW: ChildHandler(),
}

_DONE = (StepStatus.COMPLETED, StepStatus.SKIPPED)


class RunExecution:
    """Executes one claimed run until it finishes, parks, or is handed back.

    It is the :class:`~spine.orchestration.execution.handler.RunScope` its step handlers
    see.
    """

    def __init__(
        self,
        claim: Claim,
        *,
        store: RunStore,
        clock: Clock,
        workflows: WorkflowRegistry,
        pipelines: PipelineRegistry,
        children: ChildRuns,
        inline_backoff_seconds: float,
        stopping: threading.Event,
        services: StepServices,
        stop_grace_seconds: float = 10.0,
    ) -> None:
        self.run: WorkflowRun = claim.run
        self.lease = claim.lease
        self.store = store
        self.clock = clock
        self.workflows = workflows
        self.pipelines = pipelines
        self.children = children
        self.inline_backoff_seconds = inline_backoff_seconds
        self.stopping = stopping
        self.stop_grace_seconds = stop_grace_seconds
        self.services = services
        self.recorder = StepRecorder(store, claim.lease)
        self.outputs: dict[str, Mapping[str, Any]] = {}
        self.history: dict[str, list[StepRun]] = defaultdict(list)

    def execute(self) -> WorkflowRun | None:
        """Run the steps from the first not yet done.

        Returns the run when it finished; ``None`` if it was parked or handed back.

        Raises:
            LeaseLost: If another worker took the run over.
        """
        try:
            self.workflow: Workflow = self.workflows.get(self.run.workflow_name)
        except SpineError as error:
            return self._finish(WorkflowStatus.FAILED, failure=describe(error))
        if self.lease.cancel_requested:
            return self.store.cancel_now(self.lease)
        for attempt in self.store.load_steps(self.run.run_id):
            self.history[attempt.step_name].append(attempt)

        steps = self.workflow.steps
        index = 0
        last: Mapping[str, Any] = {}
        while index < len(steps):
            step = steps[index]
            if self.stopping.is_set():
                self.recorder.flush()
                self.store.release(self.lease)
                return None
            if self.lease.cancel_requested:
                self.recorder.flush()
                return self.store.cancel_now(self.lease)
            try:
                outcome = self._step(step, index)
            except RunCancelled:  # seen while recording the previous step's completion
                return self.store.cancel_now(self.lease)
            if outcome.kind is not OutcomeKind.DONE:
                self.recorder.flush()
                return self._stop(step, outcome)
            self.outputs[step.name] = outcome.outputs
            last = outcome.outputs
            if outcome.jump_to is None:
                index += 1
                continue
            target = self.workflow.position(outcome.jump_to)
            assert target is not None
            for skipped in steps[index + 1 : target]:
                self._skip(skipped, step.name)
            index = target
        self.recorder.flush()
        return self._finish(WorkflowStatus.COMPLETED, outputs=last)

    def _step(self, step: Step, index: int) -> Outcome:
        attempts = self.history.get(step.name, [])
        if attempts and attempts[-1].status in _DONE:
            outputs = attempts[-1].output_data
            jump = outputs.get("next") if step.type is StepType.CHOICE else None
            return Outcome.done(outputs, jump)
        return HANDLERS[step.type].run(self, step, index, attempts)

    def _stop(self, step: Step, outcome: Outcome) -> WorkflowRun | None:
        """Park, cancel or fail the run after ``step`` did not complete."""
        if outcome.kind is OutcomeKind.PARK:
            assert outcome.wake_at is not None
            self.store.park(
                self.lease, outcome.wake_at, outcome.reason, child_run_id=outcome.child_run_id
            )
            return None
        if outcome.kind is OutcomeKind.CANCEL:
            return self.store.cancel_now(self.lease)
        assert outcome.failure is not None
        # A step that failed because the run was being cancelled (a cancelled child run,
        # say) ends the run CANCELLED, as asked, not FAILED.
        if self.store.cancel_requested(self.lease):
            return self.store.cancel_now(self.lease)
        failure = StepFailure(
            error=f"step {step.name!r} failed: {outcome.failure.error}",
            category=outcome.failure.category,
            retryable=outcome.failure.retryable,
        )
        return self._finish(
            WorkflowStatus.FAILED, failure=failure, count_failed_step=outcome.uncounted
        )

    def _finish(self, status: WorkflowStatus, **kwargs: Any) -> WorkflowRun:
        return self.store.finish_run(self.lease, status, **kwargs)

    def _skip(self, step: Step, by: str) -> None:
        if self.history.get(step.name):
            return
        position = self.workflow.position(step.name) or 0
        record = StepRun(
            step_id=new_id(),
            run_id=self.run.run_id,
            step_name=step.name,
            step_type=step.type.value,
            step_order=position,
            output_data={"skip_reason": f"choice {by!r} branched past it"},
        )
        self.recorder.finish(
            FinishedStep(step=record, status=StepStatus.SKIPPED, outputs=record.output_data)
        )

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
        merged = {**self.run.params, **params} if params else self.run.params
        return StepContext(
            run_id=self.run.run_id,
            workflow_name=self.run.workflow_name,
            step_name=name,
            params=merged,
            outputs=OutputsSoFar(self.outputs),
            attempt=attempt,
            item=item,
            item_index=item_index,
            partition_key=self.run.partition_key,
            domain=self.run.domain,
            execution_id=execution_id,
            services=self.services,
        )


class OutputsSoFar(Mapping[str, Mapping[str, Any]]):
    """The outputs of the steps completed before an attempt, read-only.

    Steps' outputs are only ever added, in order, so the first ``len`` entries of the
    run's outputs are what an attempt saw when it started: a view made in constant time,
    where a copy per step cost a run of N steps O(N²).
    """

    __slots__ = ("_outputs", "_size")

    def __init__(self, outputs: dict[str, Mapping[str, Any]]) -> None:
        self._outputs = outputs
        self._size = len(outputs)

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        if name in self._outputs and (
            self._size == len(self._outputs) or _position(self._outputs, name) < self._size
        ):
            return self._outputs[name]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return islice(iter(self._outputs), self._size)

    def __len__(self) -> int:
        return self._size


def _position(outputs: dict[str, Any], name: str) -> int:
    for position, key in enumerate(outputs):
        if key == name:
            return position
    return len(outputs)
