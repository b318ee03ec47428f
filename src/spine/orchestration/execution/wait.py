"""Wait steps: a durable pause; the run is parked and no worker is held."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from spine.core.errors import InvalidInput
from spine.core.ids import new_id
from spine.orchestration.context import StepContext
from spine.orchestration.execution.failures import describe
from spine.orchestration.execution.handler import RunScope
from spine.orchestration.execution.outcome import Outcome
from spine.orchestration.history.types import StepRun, StepStatus
from spine.orchestration.models import FinishedStep
from spine.orchestration.steps import Step


class WaitHandler:
    """Parks the run until the step's time, then completes it."""

    def run(self, scope: RunScope, step: Step, index: int, attempts: Sequence[StepRun]) -> Outcome:
        """Start the wait (saving its end time) or complete it once due."""
        latest = attempts[-1] if attempts else None
        now = scope.clock.now()
        if latest is not None and latest.status is StepStatus.RUNNING:
            record = latest
            until = datetime.fromisoformat(latest.input_params["until"])
        else:
            record = StepRun(
                step_id=new_id(),
                run_id=scope.run.run_id,
                step_name=step.name,
                step_type=step.type.value,
                step_order=index,
                attempt=(latest.attempt + 1) if latest else 1,
            )
            try:
                until = wait_until(step, scope.context(step.name, record.attempt), now)
            except Exception as error:  # a user's `until` callable, or a bad value
                failure = describe(error)
                scope.recorder.start(record)
                scope.recorder.finish(
                    FinishedStep(step=record, status=StepStatus.FAILED, failure=failure)
                )
                return Outcome.fail(failure)
            record.input_params = {"until": until.isoformat()}
            scope.recorder.start(record)
        if now >= until:
            scope.recorder.complete(record, {"waited_until": until.isoformat()})
            return Outcome.done(record.output_data)
        return Outcome.park(until, f"wait {step.name}")


def wait_until(step: Step, ctx: StepContext, now: datetime) -> datetime:
    """When a wait step that starts ``now`` ends.

    Raises:
        InvalidInput: If ``until`` gives no timezone-aware datetime.
    """
    if step.wait_seconds is not None:
        return now + timedelta(seconds=step.wait_seconds)
    source = step.wait_until
    value = source(ctx) if callable(source) else source
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise InvalidInput(f"wait step {step.name!r}: until must give a datetime")
    if value.tzinfo is None:
        raise InvalidInput(f"wait step {step.name!r}: until must be timezone-aware")
    return value
