"""Steps that run user code: lambda and pipeline, attempt after attempt, per the policy.

The attempt loop here also serves choice steps and map items. A failed attempt that its
policy retries is recorded FAILED with ``will_retry``; a short back-off is slept through
holding the run, a longer one parks it. An attempt that timed out is abandoned, not killed
(Python cannot stop a thread), and the next attempt waits until it has really ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from spine.core.errors import InvalidInput
from spine.core.ids import new_id
from spine.orchestration import logs
from spine.orchestration.context import StepContext
from spine.orchestration.errors import StepOutputError
from spine.orchestration.execution.calling import call_attempt
from spine.orchestration.execution.failures import (
    AttemptInterrupted,
    StepTimeout,
    describe,
    interrupted_failure,
    recorded_failure,
    recorded_retry,
    retry_interruption,
)
from spine.orchestration.execution.handler import RunScope
from spine.orchestration.execution.outcome import Outcome, OutcomeKind
from spine.orchestration.execution.values import json_dict
from spine.orchestration.history.types import StepRun, StepStatus
from spine.orchestration.models import FinishedStep
from spine.orchestration.steps import Step, StepType

log = logging.getLogger(__name__)

# How often a retry waiting for a timed-out attempt looks for cancellation or shutdown.
_ABANDONED_POLL_SECONDS = 0.2


class LeafHandler:
    """Lambda and pipeline steps."""

    def run(self, scope: RunScope, step: Step, index: int, attempts: Sequence[StepRun]) -> Outcome:
        """Run the step's attempts until one completes or the policy gives up."""
        return run_attempts(scope, step, step.name, index, attempts, counts_for_run=True)


def run_attempts(
    scope: RunScope,
    step: Step,
    name: str,
    order: int,
    attempts: Sequence[StepRun],
    *,
    counts_for_run: bool,
    item: Any = None,
    item_index: int | None = None,
    park_backoff: bool = True,
    check: Callable[[Mapping[str, Any]], None] | None = None,
) -> Outcome:
    """Run attempts of a code step (``name`` is ``map[3]`` for a map item).

    ``check`` is called with the outputs before they count (a choice checks its target);
    what it raises fails the attempt like an exception of the step.
    """
    policy = step.retry
    latest = attempts[-1] if attempts else None
    number = 1
    if latest is not None:
        if latest.status is StepStatus.COMPLETED:
            return Outcome.done(latest.output_data)
        if latest.status is StepStatus.FAILED:
            retry = recorded_retry(policy, latest) or retry_interruption(attempts)
            if not retry:
                # Counted when recorded only if it was known then not to retry.
                uncounted = counts_for_run and latest.metrics.get("will_retry") is not False
                return Outcome.fail(recorded_failure(latest), uncounted=uncounted)
        number = latest.attempt + 1
    params: dict[str, Any] = {}
    if step.type is StepType.PIPELINE and step.params:
        params = json_dict(step.params, "params")
    if item_index is not None:
        params = {**params, "item_index": item_index}
    while True:
        record = StepRun(
            step_id=new_id(),
            run_id=scope.run.run_id,
            step_name=name,
            step_type=step.type.value,
            step_order=order,
            input_params=params,
            attempt=number,
            max_attempts=policy.max_attempts,
        )
        scope.recorder.start(record, pipeline_name=step.pipeline_name, item=item_index is not None)
        ctx = scope.context(name, number, step.params, item, item_index, record.execution_id)
        try:
            with logs.capture(scope.run.run_id, name, number) as captured:
                outputs = _outputs(name, step, _call(scope, step, ctx))
                if check is not None:
                    check(outputs)
        except AttemptInterrupted as error:
            # The worker is stopping: the attempt is handed on, not failed. Recorded as a
            # dead worker's attempt is, and the run is due at once for another worker.
            scope.recorder.finish(
                FinishedStep(
                    step=record,
                    status=StepStatus.FAILED,
                    failure=interrupted_failure(scope.lease.owner, error),
                    counts_for_run=False,
                    metrics={"interrupted": True},
                    logs=captured,
                )
            )
            return Outcome.park(scope.clock.now(), "worker stopping: attempt interrupted")
        except Exception as error:  # every failure of user code is recorded
            failure = describe(error)
            retry = policy.should_retry(error, number) and not isinstance(error, StepOutputError)
            delay = policy.delay(number) if retry else None
            scope.recorder.finish(
                FinishedStep(
                    step=record,
                    status=StepStatus.FAILED,
                    failure=failure,
                    counts_for_run=counts_for_run and not retry,
                    metrics={"will_retry": retry},
                    retry_in=delay,
                    logs=captured,
                    **_quality(ctx),
                )
            )
            if delay is None:
                return Outcome.fail(failure)
            if isinstance(error, StepTimeout):
                interrupted = _wait_for_abandoned_attempt(scope, error)
                if interrupted is not None:
                    return interrupted
            if park_backoff and delay > scope.inline_backoff_seconds:
                wake = scope.clock.now() + timedelta(seconds=delay)
                return Outcome.park(wake, f"retry {name} in {delay:.1f} s")
            scope.clock.sleep(delay)
            number += 1
            continue
        finished = FinishedStep(
            step=record,
            status=StepStatus.COMPLETED,
            outputs=outputs,
            counts_for_run=counts_for_run,
            logs=captured,
            **_quality(ctx),
        )
        if item_index is not None:
            scope.recorder.hold(finished, item=True)
        elif counts_for_run:
            scope.recorder.hold(finished)
        else:
            scope.recorder.finish(finished)
        return Outcome.done(outputs)


def _call(scope: RunScope, step: Step, ctx: StepContext) -> Any:
    fn = step.fn
    if step.type is StepType.PIPELINE:
        assert step.pipeline_name is not None
        fn = scope.pipelines.get(step.pipeline_name)
    assert fn is not None
    return call_attempt(
        fn,
        ctx,
        step.name,
        timeout_seconds=step.timeout_seconds,
        stopping=scope.stopping,
        grace_seconds=scope.stop_grace_seconds,
    )


def _wait_for_abandoned_attempt(scope: RunScope, timeout: StepTimeout) -> Outcome | None:
    """Wait until a timed-out attempt's thread has ended, so no retry overlaps it.

    Returns ``None`` once it has ended; the run's outcome instead if the run is
    cancelled (CANCEL) or the worker stops (the run parks, due at once) first.
    """
    thread = timeout.attempt
    if thread is None or not thread.is_alive():
        return None
    log.warning(
        "run %s: %s; the retry waits until the abandoned attempt ends",
        scope.run.run_id,
        timeout,
        extra={"run_id": scope.run.run_id},
    )
    while thread.is_alive():
        if scope.lease.cancel_requested:
            return Outcome(OutcomeKind.CANCEL)
        if scope.stopping.is_set():
            return Outcome.park(scope.clock.now(), "worker stopping")
        thread.join(_ABANDONED_POLL_SECONDS)
    return None


def _outputs(name: str, step: Step, value: Any) -> dict[str, Any]:
    if step.type is StepType.CHOICE:
        if value is not None and not isinstance(value, str):
            raise InvalidInput(
                f"choice {name!r} returned {type(value).__name__}; it returns a step name or None"
            )
        return {"next": value}
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise StepOutputError(name, value)
    return json_dict(value, "outputs")


def _quality(ctx: StepContext) -> dict[str, Any]:
    """The quality verdict the attempt recorded (spec 002), as FinishedStep fields."""
    report = ctx.quality
    if report.passed is None and not report.metrics:
        return {}
    return {"quality_passed": report.passed, "quality_metrics": dict(report.metrics)}
