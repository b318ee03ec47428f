"""Submits workflow runs and executes them durably: claim, execute, park, finish.

:class:`WorkflowRunner` is the engine's entry point. Executing a claimed run is
:class:`~spine.orchestration.execution.run.RunExecution`'s job, with one handler per kind
of step (``orchestration/execution/``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from spine.core.clock import Clock, SystemClock
from spine.core.errors import InvalidInput
from spine.core.ids import new_id
from spine.core.storage.outage import DatabaseWait
from spine.orchestration.context import StepServices
from spine.orchestration.errors import LeaseLost
from spine.orchestration.execution.failures import MAX_INTERRUPTIONS, StepTimeout, describe
from spine.orchestration.execution.keeper import LeaseKeeper
from spine.orchestration.execution.run import RunExecution
from spine.orchestration.execution.values import json_dict, partition_text
from spine.orchestration.history.types import WorkflowRun
from spine.orchestration.models import Claim
from spine.orchestration.params import typed_params
from spine.orchestration.registry import (
    PipelineRegistry,
    WorkflowRegistry,
    pipelines,
    workflows,
)
from spine.orchestration.store import RunStore
from spine.tenancy import Actor

__all__ = ["MAX_INTERRUPTIONS", "StepTimeout", "WorkflowRunner", "describe", "worker_identity"]

log = logging.getLogger(__name__)

# The width of ``core_workflow_runs.idempotency_key``.
MAX_KEY_LENGTH = 255


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
        stop_grace_seconds: Once :attr:`stopping` is set, how long a step attempt in
            progress may go on; then it is recorded interrupted and its run handed back.
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
        stop_grace_seconds: float = 10.0,
    ) -> None:
        self.store = store
        self.step_services = step_services or StepServices()
        self.clock: Clock = clock or store.clock or SystemClock()
        self.workflows = workflow_registry or workflows
        self.pipelines = pipeline_registry or pipelines
        self.lease_seconds = lease_seconds
        self.inline_backoff_seconds = inline_backoff_seconds
        self.worker_id = worker_id or worker_identity()
        self.stop_grace_seconds = stop_grace_seconds
        #: Set to stop: no step starts after it, and an attempt in progress gets
        #: ``stop_grace_seconds`` to end; the runs held are handed back.
        self.stopping = threading.Event()
        #: Shared by the worker loop, the executions and their lease keepers: an outage
        #: of the database is logged once, however many threads run into it.
        self.database_wait = DatabaseWait("worker", logger=log)

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
        idempotency_key: str | None = None,
    ) -> WorkflowRun:
        """Record a PENDING run of a registered workflow and return it.

        With ``idempotency_key``, a workflow's run is started once per key: if a run of
        this workflow already has the key, that run is returned as it is now (whatever
        its params and status) and no run is created. The same key with another
        workflow is another run.

        Raises:
            WorkflowNotFound: If no workflow has that name.
            InvalidInput: If params are not JSON values or do not fit the workflow's
                declaration (see :meth:`new_run`); nothing is written.
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
            idempotency_key=idempotency_key,
        )
        return self.store.create_run(run)

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
        idempotency_key: str | None = None,
    ) -> WorkflowRun:
        """Build (without storing) a PENDING run of a registered workflow.

        Raises:
            WorkflowNotFound: If no workflow has that name.
            InvalidInput: If params or the partition key hold a value JSON cannot hold
                (the message names it), a param the workflow declares cannot be read
                as its type, or the idempotency key is empty or longer than 255
                characters.
        """
        workflow = self.workflows.get(workflow_name)
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_LENGTH:
            raise InvalidInput(
                f"idempotency key must be 1 to {MAX_KEY_LENGTH} characters,"
                f" not {len(idempotency_key)}"
            )
        return WorkflowRun(
            run_id=new_id(),
            workflow_name=workflow.name,
            workflow_version=workflow.version,
            domain=workflow.domain,
            partition_key=partition_text(partition_key),
            params=json_dict(typed_params(workflow.params, params or {}), "params"),
            triggered_by=triggered_by,
            created_at=self.clock.now(),
            total_steps=len(workflow.steps),
            parent_run_id=parent_run_id,
            schedule_id=schedule_id,
            created_by=created_by,
            capture_id=capture_id,
            idempotency_key=idempotency_key,
        )

    def run(
        self, workflow_name: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> WorkflowRun:
        """Submit a run and execute it in this process until it finishes.

        Takes :meth:`submit`'s arguments. A run found by its ``idempotency_key`` is
        driven to its end too (or returned at once if it has finished).
        """
        run = self.submit(workflow_name, params, **kwargs)
        return self.drive(run.run_id)

    def drive(self, run_id: str, poll_seconds: float = 0.5) -> WorkflowRun:
        """Execute ``run_id`` here until it finishes, sleeping through its waits.

        If another worker holds the run, this polls until that worker finishes it. Once
        :attr:`stopping` is set it returns the run as it is then (handed back, not
        finished), also from a wait.
        """
        while True:
            run = self.store.run_row(run_id)
            if run.is_terminal or self.stopping.is_set():
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
            self.pause(max(0.0, min(delay, 3600.0)) if wake else poll_seconds)

    def pause(self, seconds: float) -> None:
        """Sleep through the clock in short slices, so that :attr:`stopping` ends it."""
        ends = self.clock.monotonic() + seconds
        while not self.stopping.is_set():
            left = ends - self.clock.monotonic()
            if left <= 0:
                return
            self.clock.sleep(min(left, 0.25))

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
        # Spine runs the run in the run's workspace, whichever workspace claimed it.
        execution = RunExecution(
            claim,
            store=self.store.acting_as(Actor.system_in(claim.run.workspace_id)),
            clock=self.clock,
            workflows=self.workflows,
            pipelines=self.pipelines,
            children=self,
            inline_backoff_seconds=self.inline_backoff_seconds,
            stopping=self.stopping,
            services=self.step_services.of_workspace(claim.run.workspace_id),
            stop_grace_seconds=self.stop_grace_seconds,
        )
        with (
            LeaseKeeper(self.store, claim.lease, self.lease_seconds, self.database_wait),
            self.store.db.pinned(),
        ):
            try:
                return execution.execute()
            except LeaseLost:
                log.warning(
                    "run %s was taken over by another worker",
                    claim.run.run_id,
                    extra={"run_id": claim.run.run_id},
                )
                return None
