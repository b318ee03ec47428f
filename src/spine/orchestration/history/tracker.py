"""Spec 002's ``HistoryTracker``: context managers that record a run and its steps.

Fixes to spec 002 (docs/decisions.md): run ids are ULIDs (not 8 characters of a UUID), step order
is 0-based, a step marked with :meth:`StepTracker.skip` stays SKIPPED on exit, times are
aware UTC, and the run's counters and durations are kept.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from spine.core.errors import SpineError, categorize
from spine.core.ids import new_id
from spine.core.jsonsafe import json_object, json_value
from spine.orchestration.history.store import HistoryStore
from spine.orchestration.history.types import StepRun, StepStatus, WorkflowRun, WorkflowStatus


class HistoryTracker:
    """Tracks workflow execution and persists it to a :class:`HistoryStore`.

    Usage::

        tracker = HistoryTracker(store)
        with tracker.track_workflow("my_workflow", domain="finra") as run:
            with run.track_step("fetch", "lambda") as step:
                step.record_output({"count": 100})
    """

    def __init__(self, store: HistoryStore) -> None:
        self.store = store

    def track_workflow(
        self,
        workflow_name: str,
        domain: str | None = None,
        partition_key: str | None = None,
        params: dict[str, Any] | None = None,
        triggered_by: str = "manual",
    ) -> WorkflowTracker:
        """Start tracking a workflow run (recorded when the ``with`` block is entered)."""
        run = WorkflowRun(
            run_id=new_id(),
            workflow_name=workflow_name,
            domain=domain,
            partition_key=partition_key,
            status=WorkflowStatus.PENDING,
            params=json_object(params or {}, "params"),
            triggered_by=triggered_by,
            created_at=self.store.clock.now(),
        )
        return WorkflowTracker(run, self.store)


def _describe(error: BaseException) -> tuple[str, str, bool]:
    category = categorize(error)
    retryable = error.retryable if isinstance(error, SpineError) else category.retryable
    return str(error) or type(error).__name__, category.value, retryable


class WorkflowTracker:
    """Context manager for tracking one workflow run."""

    def __init__(self, run: WorkflowRun, store: HistoryStore) -> None:
        self.run = run
        self.store = store
        self._step_order = 0
        self._attempts: dict[str, int] = {}

    def __enter__(self) -> WorkflowTracker:
        self.run.status = WorkflowStatus.RUNNING
        self.run.started_at = self.store.clock.now()
        self.store.save_workflow_run(self.run)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if self.run.is_terminal:  # cancel() already finished it
            return
        self.run.completed_at = self.store.clock.now()
        if exc_val is not None:
            self.run.status = WorkflowStatus.FAILED
            self.run.error, self.run.error_category, self.run.error_retryable = _describe(exc_val)
        else:
            self.run.status = WorkflowStatus.COMPLETED
        self.store.save_workflow_run(self.run)

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.run.run_id

    def track_step(
        self, step_name: str, step_type: str, input_params: dict[str, Any] | None = None
    ) -> StepTracker:
        """Start tracking a step within this run (0-based order).

        A name tracked again in the same run (a retry loop around ``track_step``) is
        recorded as that step's next attempt: attempt 2, 3 ...
        """
        attempt = self._attempts.get(step_name, 0) + 1
        self._attempts[step_name] = attempt
        step = StepRun(
            step_id=new_id(),
            run_id=self.run.run_id,
            step_name=step_name,
            step_type=step_type,
            step_order=self._step_order,
            input_params=json_object(input_params or {}, "input_params"),
            attempt=attempt,
            max_attempts=attempt,
        )
        self._step_order += 1
        self.run.total_steps += 1
        return StepTracker(step, self)

    def record_output(self, key: str, value: Any) -> None:
        """Record an output of the run (saved when the run ends).

        Raises:
            InvalidInput: If ``value`` is not a JSON value (NaN, bytes ...), naming it.
        """
        self.run.outputs[key] = json_value(value, f"outputs[{key!r}]")

    def record_metric(self, key: str, value: Any) -> None:
        """Record a metric of the run (saved when the run ends).

        Raises:
            InvalidInput: If ``value`` is not a JSON value (NaN, bytes ...), naming it.
        """
        self.run.metrics[key] = json_value(value, f"metrics[{key!r}]")

    def cancel(self) -> None:
        """Mark the run CANCELLED now."""
        self.run.status = WorkflowStatus.CANCELLED
        self.run.completed_at = self.store.clock.now()
        self.store.save_workflow_run(self.run)

    def _step_finished(self, status: StepStatus) -> None:
        if status is StepStatus.COMPLETED:
            self.run.completed_steps += 1
        elif status is StepStatus.FAILED:
            self.run.failed_steps += 1
        elif status is StepStatus.SKIPPED:
            self.run.skipped_steps += 1


class StepTracker:
    """Context manager for tracking one step."""

    def __init__(self, step: StepRun, workflow: WorkflowTracker) -> None:
        self.step = step
        self.workflow = workflow
        self.store = workflow.store

    def __enter__(self) -> StepTracker:
        self.step.status = StepStatus.RUNNING
        self.step.started_at = self.store.clock.now()
        self.store.save_step_run(self.step)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.step.completed_at = self.store.clock.now()
        if exc_val is not None:
            self.step.status = StepStatus.FAILED
            self.step.error, self.step.error_category, _ = _describe(exc_val)
        elif self.step.status is not StepStatus.SKIPPED:
            # spec 002 overwrote a skip with COMPLETED here; a skip stays a skip.
            self.step.status = StepStatus.COMPLETED
        self.store.save_step_run(self.step)
        self.workflow._step_finished(self.step.status)

    def record_output(self, output: dict[str, Any]) -> None:
        """Merge ``output`` into the step's outputs.

        Raises:
            InvalidInput: If a value is not a JSON value (NaN, bytes ...), naming it.
        """
        self.step.output_data.update(json_object(output, "outputs"))

    def record_records(self, count: int) -> None:
        """Record how many records the step processed."""
        self.step.records_processed = count

    def record_quality(self, passed: bool, metrics: dict[str, Any] | None = None) -> None:
        """Record the result of the step's quality checks.

        Raises:
            InvalidInput: If a metric is not a JSON value (NaN, bytes ...), naming it.
        """
        checked = json_object(metrics or {}, "quality_metrics")
        self.step.quality_passed = passed
        self.step.quality_metrics.update(checked)

    def skip(self, reason: str) -> None:
        """Mark the step SKIPPED; it stays so when the ``with`` block ends."""
        self.step.status = StepStatus.SKIPPED
        self.step.output_data["skip_reason"] = reason
