"""Executes workflow runs durably: claim, replay history, run steps, park, finish.

A run's progress is its step rows. Executing a run replays them from the first step:
a step whose latest attempt COMPLETED (or was SKIPPED) is not run again, its outputs are
read back; a failed attempt is retried by the step's policy; a wait or a child workflow
that is not yet done parks the run (no worker is held) until it is due.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from types import MappingProxyType
from typing import Any

from spine.core.clock import Clock, SystemClock
from spine.core.errors import ErrorCategory, InvalidInput, SpineError, categorize
from spine.core.ids import new_id
from spine.orchestration.context import StepContext, StepServices
from spine.orchestration.errors import LeaseLost, RunCancelled, StepOutputError
from spine.orchestration.history.types import StepRun, StepStatus, WorkflowRun, WorkflowStatus
from spine.orchestration.lease import LeaseKeeper
from spine.orchestration.registry import (
    PipelineRegistry,
    WorkflowRegistry,
    pipelines,
    workflows,
)
from spine.orchestration.steps import Step, StepType
from spine.orchestration.store import INTERRUPTED, Claim, RunStore, StepFailure
from spine.orchestration.workflow import Workflow

log = logging.getLogger(__name__)


class StepTimeout(SpineError):
    """A step attempt ran longer than its ``timeout_seconds``."""

    category = ErrorCategory.TIMEOUT

    def __init__(self, step_name: str, seconds: float) -> None:
        super().__init__(f"step {step_name!r} timed out after {seconds:g} s")


class _Kind(Enum):
    DONE = "done"
    PARK = "park"
    FAIL = "fail"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: _Kind
    outputs: Mapping[str, Any] = field(default_factory=dict)
    wake_at: datetime | None = None
    reason: str = ""
    failure: StepFailure | None = None
    jump_to: str | None = None
    uncounted: bool = False  # a failure read back from history, not in failed_steps yet
    child_run_id: str | None = None  # parked for this child run, which wakes it when done


def describe(error: BaseException) -> StepFailure:
    """The recorded form of an exception: message, category, retryable."""
    category = categorize(error)
    retryable = error.retryable if isinstance(error, SpineError) else category.retryable
    message = str(error) or type(error).__name__
    if not isinstance(error, SpineError):
        message = f"{type(error).__name__}: {message}"
    return StepFailure(error=message, category=category.value, retryable=retryable)


def worker_identity() -> str:
    """``host:pid``, to tell workers apart in leases and events."""
    return f"{socket.gethostname()}:{os.getpid()}"


class WorkflowRunner:
    """Submits and executes workflow runs.

    Args:
        store: The run store.
        clock: Time source; sleeps (back-off, inline waits) go through it.
        workflow_registry: Where workflows are looked up.
        pipeline_registry: Where pipelines are looked up.
        lease_seconds: How long a claim lasts without renewal; a worker that dies
            loses its runs after this long.
        inline_backoff_seconds: Retry delays up to this long are slept through while
            holding the run; longer ones park the run.
        worker_id: Identity written into leases (default ``host:pid``).
        step_services: What steps may use (alerts, sources, spine's database); built
            by ``spine.bootstrap``.
    """

    def __init__(
        self,
        store: RunStore,
        *,
        clock: Clock | None = None,
        workflow_registry: WorkflowRegistry | None = None,
        pipeline_registry: PipelineRegistry | None = None,
        lease_seconds: float = 30.0,
        inline_backoff_seconds: float = 2.0,
        worker_id: str | None = None,
        step_services: StepServices | None = None,
    ) -> None:
        self.store = store
        self.step_services = step_services or StepServices()
        self.clock: Clock = clock or store.clock or SystemClock()
        self.workflows = workflow_registry or workflows
        self.pipelines = pipeline_registry or pipelines
        self.lease_seconds = lease_seconds
        self.inline_backoff_seconds = inline_backoff_seconds
        self.worker_id = worker_id or worker_identity()
        self.stopping = threading.Event()

    # ------------------------------------------------------------ submitting

    def submit(
        self,
        workflow_name: str,
        params: Mapping[str, Any] | None = None,
        *,
        partition_key: str | Mapping[str, Any] | None = None,
        triggered_by: str = "manual",
        parent_run_id: str | None = None,
        schedule_id: str | None = None,
        created_by: str | None = None,
        capture_id: str | None = None,
    ) -> WorkflowRun:
        """Record a PENDING run of a registered workflow and return it.

        Raises:
            WorkflowNotFound: If no workflow has that name.
            InvalidInput: If params are not JSON-serialisable.
        """
        run = self.new_run(
            workflow_name,
            params,
            partition_key=partition_key,
            triggered_by=triggered_by,
            parent_run_id=parent_run_id,
            schedule_id=schedule_id,
            created_by=created_by,
            capture_id=capture_id,
        )
        self.store.create_run(run)
        return run

    def new_run(
        self,
        workflow_name: str,
        params: Mapping[str, Any] | None = None,
        *,
        partition_key: str | Mapping[str, Any] | None = None,
        triggered_by: str = "manual",
        parent_run_id: str | None = None,
        schedule_id: str | None = None,
        created_by: str | None = None,
        capture_id: str | None = None,
    ) -> WorkflowRun:
        """Build (without storing) a PENDING run of a registered workflow.

        Raises:
            WorkflowNotFound: If no workflow has that name.
            InvalidInput: If params are not JSON-serialisable.
        """
        workflow = self.workflows.get(workflow_name)
        return WorkflowRun(
            run_id=new_id(),
            workflow_name=workflow.name,
            workflow_version=workflow.version,
            domain=workflow.domain,
            partition_key=_partition_text(partition_key),
            params=_json_dict(params or {}, "params"),
            triggered_by=triggered_by,
            created_at=self.clock.now(),
            total_steps=len(workflow.steps),
            parent_run_id=parent_run_id,
            schedule_id=schedule_id,
            created_by=created_by,
            capture_id=capture_id,
        )

    def run(
        self, workflow_name: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> WorkflowRun:
        """Submit a run and execute it in this process until it finishes."""
        run = self.submit(workflow_name, params, **kwargs)
        return self.drive(run.run_id)

    def drive(self, run_id: str, poll_seconds: float = 0.5) -> WorkflowRun:
        """Execute ``run_id`` here until it finishes, sleeping through its waits.

        If another worker holds the run, this polls until that worker finishes it.
        """
        while True:
            run = self.store.run_row(run_id)
            if run.is_terminal:
                return run
            claim = self.claim(run_id=run_id)
            if claim is not None:
                finished = self.execute(claim)
                if finished is not None:
                    return finished
                if self.stopping.is_set():
                    return self.store.run_row(run_id)
            wake = self.store.wake_at_of(run_id)
            now = self.clock.now()
            delay = (wake - now).total_seconds() if wake else poll_seconds
            self.clock.sleep(max(0.0, min(delay, 3600.0)) if wake else poll_seconds)

    # ------------------------------------------------------------- claiming

    def claim(
        self, *, run_id: str | None = None, workflow_names: Sequence[str] | None = None
    ) -> Claim | None:
        """Claim a due run (or ``run_id``) under a fresh lease token."""
        owner = f"{self.worker_id}#{new_id()}"
        return self.store.claim(owner, self.lease_seconds, run_id=run_id, workflows=workflow_names)

    def execute(self, claim: Claim) -> WorkflowRun | None:
        """Execute a claimed run until it finishes or parks.

        Returns the run when it finished; ``None`` if it was parked, released, or taken
        over by another worker.
        """
        execution = _Execution(self, claim)
        with LeaseKeeper(
            self.store, claim.run.run_id, claim.owner, self.lease_seconds, cancel=execution.cancel
        ):
            try:
                return execution.execute()
            except LeaseLost:
                log.warning("run %s was taken over by another worker", claim.run.run_id)
                return None


class _Execution:
    """One claimed run being executed by one worker."""

    def __init__(self, runner: WorkflowRunner, claim: Claim) -> None:
        self.runner = runner
        self.store = runner.store
        self.clock = runner.clock
        self.claim = claim
        self.run = claim.run
        self.owner = claim.owner
        self.outputs: dict[str, Mapping[str, Any]] = {}
        # Set when a cancellation request is seen: every lease check and renewal reads
        # it in passing, so the runner never asks the database just for this.
        self.cancel = threading.Event()
        if claim.cancel_requested:
            self.cancel.set()
        # A top-level step that completed but is not recorded yet: its COMPLETED row is
        # written with the next step's RUNNING row, in one transaction (one commit per
        # step). Every other write records it first (`flush`).
        self._completed: tuple[StepRun, Mapping[str, Any]] | None = None
        # The same for map items, per worker thread: an item's completion is written
        # with the next item's start in that thread (`flush_items` records the rest).
        self._item_completed: dict[int, tuple[StepRun, Mapping[str, Any]]] = {}

    # ------------------------------------------------------------------ run

    def execute(self) -> WorkflowRun | None:
        try:
            workflow = self.runner.workflows.get(self.run.workflow_name)
        except SpineError as error:
            return self.store.finish_run(
                self.owner, self.run.run_id, WorkflowStatus.FAILED, failure=describe(error)
            )
        self.workflow = workflow
        if self.claim.cancel_requested:
            return self.store.cancel_now(self.owner, self.run.run_id)
        history: dict[str, list[StepRun]] = defaultdict(list)
        for attempt in self.store.load_steps(self.run.run_id):
            history[attempt.step_name].append(attempt)
        self.history = history

        index = 0
        last: Mapping[str, Any] = {}
        while index < len(workflow.steps):
            step = workflow.steps[index]
            if self.runner.stopping.is_set():
                self.flush()
                self.store.release(self.run.run_id, self.owner)
                return None
            if self.cancel.is_set():
                self.flush()
                return self.store.cancel_now(self.owner, self.run.run_id)
            try:
                outcome = self._step(workflow, step, index)
            except RunCancelled:  # seen while recording the previous step's completion
                return self.store.cancel_now(self.owner, self.run.run_id)
            if outcome.kind is not _Kind.DONE:
                self.flush()
            if outcome.kind is _Kind.PARK:
                assert outcome.wake_at is not None
                self.store.park(
                    self.run.run_id,
                    self.owner,
                    outcome.wake_at,
                    outcome.reason,
                    child_run_id=outcome.child_run_id,
                )
                return None
            if outcome.kind is _Kind.CANCEL:
                return self.store.cancel_now(self.owner, self.run.run_id)
            if outcome.kind is _Kind.FAIL:
                assert outcome.failure is not None
                # A step that failed because the run was being cancelled (a cancelled
                # child run, say) ends the run CANCELLED, as asked, not FAILED.
                if self.store.cancel_requested(self.run.run_id, self.owner):
                    return self.store.cancel_now(self.owner, self.run.run_id)
                failure = StepFailure(
                    error=f"step {step.name!r} failed: {outcome.failure.error}",
                    category=outcome.failure.category,
                    retryable=outcome.failure.retryable,
                )
                return self.store.finish_run(
                    self.owner,
                    self.run.run_id,
                    WorkflowStatus.FAILED,
                    failure=failure,
                    count_failed_step=outcome.uncounted,
                )
            self.outputs[step.name] = outcome.outputs
            last = outcome.outputs
            if outcome.jump_to is not None:
                target = workflow.position(outcome.jump_to)
                assert target is not None
                for skipped in workflow.steps[index + 1 : target]:
                    self._skip(skipped, workflow.position(skipped.name) or 0, step.name)
                index = target
            else:
                index += 1
        self.flush()
        return self.store.finish_run(
            self.owner, self.run.run_id, WorkflowStatus.COMPLETED, outputs=last
        )

    def _skip(self, step: Step, order: int, by: str) -> None:
        if self.history.get(step.name):
            return
        record = StepRun(
            step_id=new_id(),
            run_id=self.run.run_id,
            step_name=step.name,
            step_type=step.type.value,
            step_order=order,
            output_data={"skip_reason": f"choice {by!r} branched past it"},
        )
        self.finish(record, StepStatus.SKIPPED, outputs=record.output_data)

    def _context(
        self,
        name: str,
        attempt: int,
        params: Mapping[str, Any] | None = None,
        item: Any = None,
        item_index: int | None = None,
    ) -> StepContext:
        merged = dict(self.run.params)
        if params:
            merged.update(params)
        return StepContext(
            run_id=self.run.run_id,
            workflow_name=self.run.workflow_name,
            step_name=name,
            params=merged,
            outputs=MappingProxyType(dict(self.outputs)),
            attempt=attempt,
            item=item,
            item_index=item_index,
            partition_key=self.run.partition_key,
            domain=self.run.domain,
            services=self.runner.step_services,
        )

    def _step(self, workflow: Workflow, step: Step, index: int) -> _Outcome:
        attempts = self.history.get(step.name, [])
        latest = attempts[-1] if attempts else None
        if latest is not None and latest.status in (StepStatus.COMPLETED, StepStatus.SKIPPED):
            jump = latest.output_data.get("next") if step.type is StepType.CHOICE else None
            return _Outcome(_Kind.DONE, latest.output_data, jump_to=jump)
        if step.type is StepType.WAIT:
            return self._wait(step, index, latest)
        if step.type is StepType.MAP:
            from spine.orchestration.fanout import run_map

            return run_map(self, step, index, latest)
        if step.type is StepType.WORKFLOW:
            return self._child(step, index, latest)
        outcome = self.leaf(step, step.name, index, attempts, counts_for_run=True)
        if outcome.kind is _Kind.DONE and step.type is StepType.CHOICE:
            target = outcome.outputs.get("next")
            return replace(outcome, jump_to=None if target is None else str(target))
        return outcome

    # ----------------------------------------------------------- leaf steps

    def leaf(
        self,
        step: Step,
        name: str,
        order: int,
        attempts: Sequence[StepRun],
        *,
        counts_for_run: bool,
        item: Any = None,
        item_index: int | None = None,
        park_backoff: bool = True,
    ) -> _Outcome:
        """Run a lambda, pipeline or choice step, attempt after attempt, per its policy."""
        policy = step.retry
        latest = attempts[-1] if attempts else None
        number = 1
        if latest is not None:
            if latest.status is StepStatus.COMPLETED:
                return _Outcome(_Kind.DONE, latest.output_data)
            if latest.status is StepStatus.FAILED:
                category = ErrorCategory(latest.error_category or "INTERNAL")
                will_retry = latest.metrics.get("will_retry")
                retry = (
                    (bool(will_retry) and latest.attempt < policy.max_attempts)
                    or (
                        will_retry is None
                        and policy.should_retry_category(
                            category, category.retryable, latest.attempt
                        )
                    )
                    or _retry_interruption(attempts)
                )
                if not retry:
                    return _Outcome(
                        _Kind.FAIL,
                        failure=StepFailure(
                            error=latest.error or "failed",
                            category=category.value,
                            retryable=category.retryable,
                        ),
                        # Counted when recorded only if it was known then not to retry.
                        uncounted=counts_for_run and will_retry is not False,
                    )
            number = latest.attempt + 1
        while True:
            params = dict(step.params) if step.type is StepType.PIPELINE else {}
            if item_index is not None:
                params["item_index"] = item_index
            record = StepRun(
                step_id=new_id(),
                run_id=self.run.run_id,
                step_name=name,
                step_type=step.type.value,
                step_order=order,
                input_params=_json_dict(params, "params"),
                attempt=number,
                max_attempts=policy.max_attempts,
            )
            self.start(record, pipeline_name=step.pipeline_name)
            ctx = self._context(name, number, step.params, item, item_index)
            try:
                value = self._call(step, ctx)
                outputs = _outputs(name, step, value)
                if step.type is StepType.CHOICE:
                    self._check_choice(name, outputs.get("next"))
            except Exception as error:  # every failure of user code is recorded
                failure = describe(error)
                retry = policy.should_retry(error, number) and not isinstance(
                    error, StepOutputError
                )
                delay = policy.delay(number) if retry else None
                self.finish(
                    record,
                    StepStatus.FAILED,
                    failure=failure,
                    counts_for_run=counts_for_run and not retry,
                    metrics={"will_retry": retry},
                    retry_in=delay,
                )
                if delay is None:
                    return _Outcome(_Kind.FAIL, failure=failure)
                if park_backoff and delay > self.runner.inline_backoff_seconds:
                    wake = self.clock.now() + timedelta(seconds=delay)
                    return _Outcome(
                        _Kind.PARK, wake_at=wake, reason=f"retry {name} in {delay:.1f} s"
                    )
                self.clock.sleep(delay)
                number += 1
                continue
            if counts_for_run and item_index is None:
                self._completed = (record, outputs)  # recorded with the next write
            elif item_index is not None:
                self._item_completed[threading.get_ident()] = (record, outputs)
            else:
                self.finish(
                    record,
                    StepStatus.COMPLETED,
                    outputs=outputs,
                    counts_for_run=counts_for_run,
                )
            return _Outcome(_Kind.DONE, outputs)

    def _call(self, step: Step, ctx: StepContext) -> Any:
        fn = step.fn
        if step.type is StepType.PIPELINE:
            assert step.pipeline_name is not None
            fn = self.runner.pipelines.get(step.pipeline_name)
        assert fn is not None
        if step.timeout_seconds is None:
            return fn(ctx)
        return _call_with_timeout(fn, ctx, step.name, step.timeout_seconds)

    def _check_choice(self, name: str, target: object) -> None:
        """Raise :class:`InvalidInput` unless ``target`` is None or a later step's name."""
        if target is None:
            return
        here = self.workflow.position(name)
        position = self.workflow.position(str(target))
        if position is None or here is None or position <= here:
            raise InvalidInput(
                f"choice {name!r} chose {target!r}, which is not a later step of the workflow"
            )

    # ----------------------------------------------------------------- wait

    def _wait(self, step: Step, index: int, latest: StepRun | None) -> _Outcome:
        now = self.clock.now()
        if latest is not None and latest.status is StepStatus.RUNNING:
            record = latest
            until = datetime.fromisoformat(latest.input_params["until"])
        else:
            record = StepRun(
                step_id=new_id(),
                run_id=self.run.run_id,
                step_name=step.name,
                step_type=step.type.value,
                step_order=index,
                attempt=(latest.attempt + 1) if latest else 1,
            )
            try:
                until = _wait_until(step, self._context(step.name, record.attempt), now)
            except Exception as error:  # a user's `until` callable, or a bad value
                failure = describe(error)
                self.start(record)
                self.finish(record, StepStatus.FAILED, failure=failure)
                return _Outcome(_Kind.FAIL, failure=failure)
            record.input_params = {"until": until.isoformat()}
            self.start(record)
        if now >= until:
            self.finish(
                record,
                StepStatus.COMPLETED,
                outputs={"waited_until": until.isoformat()},
            )
            return _Outcome(_Kind.DONE, record.output_data)
        return _Outcome(_Kind.PARK, wake_at=until, reason=f"wait {step.name}")

    # ---------------------------------------------------------------- child

    def _child(self, step: Step, index: int, latest: StepRun | None) -> _Outcome:
        assert step.workflow_name is not None
        record = latest if latest is not None and latest.status is StepStatus.RUNNING else None
        if record is None:
            if latest is not None and latest.status is StepStatus.FAILED:
                category = ErrorCategory(latest.error_category or "INTERNAL")
                if not step.retry.should_retry_category(
                    category, category.retryable, latest.attempt
                ):
                    return _Outcome(
                        _Kind.FAIL,
                        failure=StepFailure(
                            error=latest.error or "failed",
                            category=category.value,
                            retryable=category.retryable,
                        ),
                    )
            record = StepRun(
                step_id=new_id(),
                run_id=self.run.run_id,
                step_name=step.name,
                step_type=step.type.value,
                step_order=index,
                input_params={"workflow": step.workflow_name, "params": dict(step.params)},
                attempt=(latest.attempt + 1) if latest else 1,
                max_attempts=step.retry.max_attempts,
            )
            self.start(record)
        child_id = record.input_params.get("child_run_id")
        if child_id is None:
            try:
                child = self.runner.new_run(
                    step.workflow_name,
                    {**self.run.params, **step.params},
                    triggered_by="parent_workflow",
                    parent_run_id=self.run.run_id,
                    partition_key=self.run.partition_key,
                )
            except SpineError as error:
                failure = describe(error)
                self.finish(record, StepStatus.FAILED, failure=failure)
                return _Outcome(_Kind.FAIL, failure=failure)
            self.flush()
            self.store.start_child(self.owner, record, child)
            child_id = child.run_id
        claim = self.runner.claim(run_id=child_id)
        if claim is not None:
            self.runner.execute(claim)
        child_run = self.store.run_row(child_id)
        if not child_run.is_terminal:
            # A parked child is due at its own wake time; a child another worker holds
            # wakes this run when it finishes, and the lease's length bounds the wait in
            # case that worker dies (then whoever claims first resumes the child).
            wake = self.store.wake_at_of(child_id) or self.clock.now() + timedelta(
                seconds=self.runner.lease_seconds
            )
            return _Outcome(
                _Kind.PARK, wake_at=wake, reason=f"child run {child_id}", child_run_id=child_id
            )
        if child_run.status is WorkflowStatus.COMPLETED:
            outputs = {"child_run_id": child_id, **child_run.outputs}
            self.finish(record, StepStatus.COMPLETED, outputs=outputs)
            return _Outcome(_Kind.DONE, outputs)
        failure = StepFailure(
            error=f"child run {child_id} {child_run.status.value}: {child_run.error}",
            category=child_run.error_category or ErrorCategory.INTERNAL.value,
            retryable=bool(child_run.error_retryable),
        )
        retry = step.retry.should_retry_category(
            ErrorCategory(failure.category), failure.retryable, record.attempt
        )
        self.finish(
            record,
            StepStatus.FAILED,
            failure=failure,
            counts_for_run=not retry,
            metrics={"will_retry": retry},
        )
        if retry:
            self.history.setdefault(step.name, []).append(record)
            return self._child(step, index, record)
        return _Outcome(_Kind.FAIL, failure=failure)

    # --------------------------------------------------------- cancellation

    def start(self, record: StepRun, **kwargs: Any) -> StepRun:
        """Record an attempt RUNNING for this run (checking the lease).

        A completed step not yet recorded is recorded in the same transaction.

        Raises:
            RunCancelled: If that completion found the run cancelled (nothing started).
        """
        counts = True
        if "item_index" in record.input_params:
            completed = self._item_completed.pop(threading.get_ident(), None)
            counts = False
        else:
            completed, self._completed = self._completed, None
        if completed is None:
            return self.store.start_step(self.owner, record, cancel=self.cancel, **kwargs)
        return self.store.start_step(
            self.owner,
            record,
            cancel=self.cancel,
            completing=completed[0],
            completing_outputs=completed[1],
            completing_counts=counts,
            **kwargs,
        )

    def finish(self, record: StepRun, status: StepStatus, **kwargs: Any) -> StepRun:
        """Record an attempt's end for this run (checking the lease)."""
        self.flush()
        return self.store.finish_step(self.owner, record, status, cancel=self.cancel, **kwargs)

    def flush_items(self) -> None:
        """Record the map items completed but not yet recorded (after the map's threads)."""
        while self._item_completed:
            _, (record, outputs) = self._item_completed.popitem()
            self.store.finish_step(
                self.owner,
                record,
                StepStatus.COMPLETED,
                outputs=outputs,
                counts_for_run=False,
                cancel=self.cancel,
            )

    def flush(self) -> None:
        """Record the completed step that waits for the next write, if any."""
        completed, self._completed = self._completed, None
        if completed is not None:
            self.store.finish_step(
                self.owner,
                completed[0],
                StepStatus.COMPLETED,
                outputs=completed[1],
                cancel=self.cancel,
            )

    def cancel_requested(self) -> bool:
        """Whether a cancellation request was seen by a lease check or renewal."""
        return self.cancel.is_set()


MAX_INTERRUPTIONS = 3


def _retry_interruption(attempts: Sequence[StepRun]) -> bool:
    """Whether the latest attempt died with its worker and gets another attempt anyway.

    A dead worker is not the step's failure: its attempt is run again even when the
    step's policy allows no retry, up to :data:`MAX_INTERRUPTIONS` times (a step that
    kills its worker every time must not loop for ever).
    """

    def interrupted(attempt: StepRun) -> bool:
        return (attempt.error or "").startswith(INTERRUPTED)

    if not attempts or not interrupted(attempts[-1]):
        return False
    return sum(1 for attempt in attempts if interrupted(attempt)) <= MAX_INTERRUPTIONS


def _call_with_timeout(fn: Any, ctx: StepContext, name: str, seconds: float) -> Any:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn(ctx)
        except BaseException as error:  # handed to the waiting thread
            result["error"] = error

    # Python cannot stop a thread: a timed-out attempt is abandoned, not killed, and its
    # result is ignored (docs/orchestration.md says so).
    thread = threading.Thread(target=target, name=f"step-{name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise StepTimeout(name, seconds)
    if "error" in result:
        raise result["error"]
    return result.get("value")


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
    return _json_dict(value, f"outputs of step {name!r}")


def _json_dict(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    import json

    try:
        return dict(json.loads(json.dumps(dict(value), default=_iso_default)))
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"{what} are not JSON-serialisable: {error}") from None


def _iso_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _partition_text(key: str | Mapping[str, Any] | None) -> str | None:
    import json

    if key is None or isinstance(key, str):
        return key
    return json.dumps(dict(key), sort_keys=True, separators=(",", ":"))


def _wait_until(step: Step, ctx: StepContext, now: datetime) -> datetime:
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
