"""Child-workflow steps: start a run of another workflow and wait for it to finish.

The child is created with its parent's step in one transaction, executed here when it is
free, and otherwise waited for with the parent parked: a child that finishes wakes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from spine.core.errors import ErrorCategory, SpineError
from spine.core.ids import new_id
from spine.orchestration.execution.failures import describe, recorded_failure, recorded_retry
from spine.orchestration.execution.handler import RunScope
from spine.orchestration.execution.outcome import Outcome
from spine.orchestration.history.types import StepRun, StepStatus, WorkflowStatus
from spine.orchestration.models import FinishedStep, StepFailure
from spine.orchestration.steps import Step


class ChildHandler:
    """Runs a child workflow as a step, retried per the step's policy."""

    def run(self, scope: RunScope, step: Step, index: int, attempts: Sequence[StepRun]) -> Outcome:
        """Start (or look in on) the child run of the latest attempt."""
        latest = attempts[-1] if attempts else None
        while True:
            record = self._attempt(scope, step, index, latest)
            if isinstance(record, Outcome):
                return record
            outcome = self._follow(scope, step, record)
            if outcome is not None:
                return outcome
            latest = record  # failed, and the policy retries: a new attempt

    @staticmethod
    def _attempt(
        scope: RunScope, step: Step, index: int, latest: StepRun | None
    ) -> StepRun | Outcome:
        """The RUNNING attempt to follow: the latest, or a new one if the policy allows."""
        if latest is not None and latest.status is StepStatus.RUNNING:
            return latest
        if (
            latest is not None
            and latest.status is StepStatus.FAILED
            and not recorded_retry(step.retry, latest)
        ):
            return Outcome.fail(recorded_failure(latest))
        record = StepRun(
            step_id=new_id(),
            run_id=scope.run.run_id,
            step_name=step.name,
            step_type=step.type.value,
            step_order=index,
            input_params={"workflow": step.workflow_name, "params": dict(step.params)},
            attempt=(latest.attempt + 1) if latest else 1,
            max_attempts=step.retry.max_attempts,
        )
        scope.recorder.start(record)
        return record

    @staticmethod
    def _follow(scope: RunScope, step: Step, record: StepRun) -> Outcome | None:
        """Drive the attempt's child; ``None`` when it failed and will be retried."""
        assert step.workflow_name is not None
        child_id = record.input_params.get("child_run_id")
        if child_id is None:
            try:
                child = scope.children.new_run(
                    step.workflow_name,
                    {**scope.run.params, **step.params},
                    triggered_by="parent_workflow",
                    parent_run_id=scope.run.run_id,
                    partition_key=scope.run.partition_key,
                )
            except SpineError as error:
                failure = describe(error)
                scope.recorder.finish(
                    FinishedStep(step=record, status=StepStatus.FAILED, failure=failure)
                )
                return Outcome.fail(failure)
            scope.recorder.flush()
            scope.store.start_child(scope.lease, record, child)
            child_id = child.run_id
        claim = scope.children.claim(run_id=child_id)
        if claim is not None:
            scope.children.execute(claim)
        child_run = scope.store.run_row(child_id)
        if not child_run.is_terminal:
            # A parked child is due at its own wake time; a child another worker holds
            # wakes this run when it finishes, and the lease's length bounds the wait in
            # case that worker dies (then whoever claims first resumes the child).
            wake = scope.store.wake_at_of(child_id) or scope.clock.now() + timedelta(
                seconds=scope.children.lease_seconds
            )
            return Outcome.park(wake, f"child run {child_id}", child_run_id=child_id)
        if child_run.status is WorkflowStatus.COMPLETED:
            outputs = {"child_run_id": child_id, **child_run.outputs}
            scope.recorder.complete(record, outputs)
            return Outcome.done(outputs)
        failure = StepFailure(
            error=f"child run {child_id} {child_run.status.value}: {child_run.error}",
            category=child_run.error_category or ErrorCategory.INTERNAL.value,
            retryable=bool(child_run.error_retryable),
        )
        retry = step.retry.should_retry_category(
            ErrorCategory(failure.category), failure.retryable, record.attempt
        )
        scope.recorder.finish(
            FinishedStep(
                step=record,
                status=StepStatus.FAILED,
                failure=failure,
                counts_for_run=not retry,
                metrics={"will_retry": retry},
            )
        )
        return None if retry else Outcome.fail(failure)
