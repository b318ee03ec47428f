"""``checks_step``: a workflow step that runs a table's checks and judges the data.

Orchestration sits below quality in the layers, so the step reaches the quality service
through ``ctx.services.quality`` (a protocol of the engine, filled by bootstrap), as
``fetch_step`` reaches sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from spine.core.errors import ErrorCategory, InvalidInput, SpineError
from spine.orchestration import RetryPolicy, Step, StepContext
from spine.orchestration.errors import StepServiceMissing
from spine.quality.models import CheckOutcome, Severity, exact_number


class QualityFailed(SpineError):
    """Checks failed at or above the step's ``fail_on``: the data is not to be trusted.

    Not retryable: running the same checks on the same data gives the same answer.
    """

    category = ErrorCategory.DATA_QUALITY

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def _metrics(outcomes: Sequence[CheckOutcome]) -> dict[str, Any]:
    failed = [o for o in outcomes if not o.result.rule_passed]
    return {
        "checks": len(outcomes),
        "passed": len(outcomes) - len(failed),
        "failed": len(failed),
        "results": {o.check.name: _metric(o) for o in outcomes},
    }


def _metric(outcome: CheckOutcome) -> dict[str, Any]:
    # The step's metrics are a JSON column: a value no float holds goes in as the
    # nearest float, with its exact digits beside it (as the API's sensor_value_text).
    value = exact_number(outcome.result.sensor_value)
    entry: dict[str, Any] = {
        "check_type": outcome.check.check_type,
        "sensor_value": float(value) if isinstance(value, Decimal) else value,
        "rule_passed": outcome.result.rule_passed,
        "severity": None if outcome.result.severity is None else outcome.result.severity.value,
        "result_id": outcome.result.id,
        "error_message": outcome.result.error_message,
    }
    if isinstance(value, Decimal):
        entry["sensor_value_text"] = str(value)
    return entry


def checks_step(
    step_name: str,
    *,
    table: str,
    connection: str,
    fail_on: str = "error",
    checks: Sequence[str] | None = None,
    retry: RetryPolicy | None = None,
    timeout_seconds: float | None = None,
) -> Step:
    """A step that runs the enabled checks of ``table`` on ``connection`` (one scan).

    It records spec 002's ``quality_passed`` (every check passed) and
    ``quality_metrics`` (counts and each check's value and verdict) on the step, and
    fails the step (category DATA_QUALITY, not retried) when a check fails at
    ``fail_on`` or above; failures below it (warnings, by default) only show in the
    metrics and their incidents.

    Args:
        step_name: The step's name.
        table: ``TABLE`` or ``SCHEMA.TABLE``.
        connection: The registered connection the checks name.
        fail_on: ``warning``, ``error`` (default) or ``fatal``.
        checks: Run only these checks (names) instead of all the table's enabled ones.
        retry: The step's retry policy (a database that cannot be reached is not a
            failed check's reason to retry: the check fails with its error).
        timeout_seconds: The step's timeout.

    Raises:
        InvalidInput: If ``fail_on`` is not a severity (when the step is built).
    """
    try:
        threshold = Severity(fail_on)
    except ValueError:
        raise InvalidInput(f"fail_on {fail_on!r}: expected warning, error or fatal") from None
    names = tuple(checks or ())

    def run(ctx: StepContext) -> dict[str, Any]:
        quality = ctx.services.quality
        if quality is None:
            raise StepServiceMissing("quality", ctx.step_name, ctx.workflow_name)
        if names:
            outcomes = quality.run_checks(names, triggered_by="workflow")
        else:
            outcomes = quality.run_checks(
                table=table, connection=connection, triggered_by="workflow"
            )
        if not outcomes:
            raise InvalidInput(
                f"no enabled check on table {table!r} of connection {connection!r}: "
                "add some with `spine checks add` or `spine checks apply`"
            )
        metrics = _metrics(outcomes)
        ctx.record_quality(metrics["failed"] == 0, metrics)
        failing = [
            o
            for o in outcomes
            if (severity := o.failed_at) is not None and severity.rank >= threshold.rank
        ]
        if failing:
            listed = ", ".join(
                f"{o.check.name} ({o.failed_at.value if o.failed_at else '?'})" for o in failing
            )
            raise QualityFailed(
                f"{len(failing)} check(s) of {table} failed at {threshold.value} or above: {listed}"
            )
        return metrics

    return Step.lambda_(step_name, run, retry=retry, timeout_seconds=timeout_seconds)
