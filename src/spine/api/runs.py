"""Workflow runs and the registered workflows, under ``/api/v1/workspaces/{workspace_id}/``.

``GET /runs`` lists the workspace's runs newest first (cursor pages, keyed by the run's
ULID); ``POST /runs`` starts a run of a registered workflow (an ``Idempotency-Key``
header starts it once per key in the workspace: 201 for a new run, 200 for the run the
key already started); ``GET /runs/{run_id}`` shows a run with its steps and events;
``POST /runs/{run_id}/cancel`` cancels it; ``GET /workflows`` lists what the deployment
registers (the same for every workspace). The routes call the run store and runner the
CLI calls, through services acting as the request's key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from ulid import ULID

from spine.api.auth import WORKSPACE_PATH, ReadAccess, WriteAccess
from spine.api.pagination import Page, PageParams
from spine.api.problems import problem_responses
from spine.core.clock import ensure_utc
from spine.core.errors import InvalidInput
from spine.orchestration.errors import RunNotFound
from spine.orchestration.history import (
    StepRun,
    StepStatus,
    WorkflowEvent,
    WorkflowRun,
    WorkflowStatus,
)
from spine.orchestration.runner import MAX_KEY_LENGTH
from spine.orchestration.workflow import Workflow

router = APIRouter(prefix=WORKSPACE_PATH, tags=["runs"])

_TIME = "ISO-8601 time in UTC."
#: The longest workflow name, partition key and domain a body may hold (their columns').
_NAME = 255
#: Text a column can hold: no NUL (PostgreSQL refuses it in text).
_TEXT = r"^[^\x00]*$"


class RunResponse(BaseModel):
    """A run: the columns of ``core_workflow_runs``."""

    run_id: str = Field(description="ULID.")
    workspace_id: uuid.UUID | None
    workflow_name: str
    workflow_version: int
    domain: str | None
    partition_key: str | None
    status: str = Field(description="PENDING, RUNNING, COMPLETED, FAILED or CANCELLED.")
    started_at: datetime | None = Field(description=_TIME)
    completed_at: datetime | None = Field(description=_TIME)
    duration_ms: int | None
    params: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None
    error_category: str | None
    error_retryable: bool | None
    metrics: dict[str, Any]
    total_steps: int
    completed_steps: int
    failed_steps: int
    skipped_steps: int
    triggered_by: str
    parent_run_id: str | None
    schedule_id: str | None
    created_at: datetime = Field(description=_TIME)
    created_by: str | None
    capture_id: str | None
    idempotency_key: str | None

    @classmethod
    def of(cls, run: WorkflowRun) -> RunResponse:
        """The response of ``run``."""
        return cls(
            run_id=run.run_id,
            workspace_id=run.workspace_id,
            workflow_name=run.workflow_name,
            workflow_version=run.workflow_version,
            domain=run.domain,
            partition_key=run.partition_key,
            status=WorkflowStatus(run.status).value,
            started_at=run.started_at,
            completed_at=run.completed_at,
            duration_ms=run.duration_ms,
            params=run.params,
            outputs=run.outputs,
            error=run.error,
            error_category=run.error_category,
            error_retryable=run.error_retryable,
            metrics=run.metrics,
            total_steps=run.total_steps,
            completed_steps=run.completed_steps,
            failed_steps=run.failed_steps,
            skipped_steps=run.skipped_steps,
            triggered_by=run.triggered_by,
            parent_run_id=run.parent_run_id,
            schedule_id=run.schedule_id,
            created_at=run.created_at,
            created_by=run.created_by,
            capture_id=run.capture_id,
            idempotency_key=run.idempotency_key,
        )


class StepResponse(BaseModel):
    """One step attempt: the columns of ``core_workflow_steps``."""

    step_id: str
    run_id: str
    step_name: str
    step_type: str
    step_order: int
    status: str = Field(description="PENDING, RUNNING, COMPLETED, FAILED or SKIPPED.")
    started_at: datetime | None = Field(description=_TIME)
    completed_at: datetime | None = Field(description=_TIME)
    duration_ms: int | None
    params: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None
    error_category: str | None
    row_count: int | None
    metrics: dict[str, Any]
    attempt: int
    max_attempts: int
    execution_id: str | None
    quality_passed: bool | None
    quality_metrics: dict[str, Any]
    error_traceback: str | None

    @classmethod
    def of(cls, step: StepRun) -> StepResponse:
        """The response of ``step``."""
        return cls(
            step_id=step.step_id,
            run_id=step.run_id,
            step_name=step.step_name,
            step_type=step.step_type,
            step_order=step.step_order,
            status=StepStatus(step.status).value,
            started_at=step.started_at,
            completed_at=step.completed_at,
            duration_ms=step.duration_ms,
            params=step.input_params,
            outputs=step.output_data,
            error=step.error,
            error_category=step.error_category,
            row_count=step.records_processed,
            metrics=step.metrics,
            attempt=step.attempt,
            max_attempts=step.max_attempts,
            execution_id=step.execution_id,
            quality_passed=step.quality_passed,
            quality_metrics=step.quality_metrics,
            error_traceback=step.error_traceback,
        )


class EventResponse(BaseModel):
    """One row of the run's event log: the columns of ``core_workflow_events``."""

    id: int
    run_id: str
    step_id: str | None
    event_type: str
    timestamp: datetime = Field(description=_TIME)
    payload: dict[str, Any]
    idempotency_key: str

    @classmethod
    def of(cls, event: WorkflowEvent) -> EventResponse:
        """The response of ``event``."""
        return cls(
            id=event.id,
            run_id=event.run_id,
            step_id=event.step_id,
            event_type=event.event_type,
            timestamp=event.timestamp,
            payload=event.payload,
            idempotency_key=event.idempotency_key,
        )


class RunDetail(RunResponse):
    """A run with its step attempts (in execution order) and its events (oldest first)."""

    steps: list[StepResponse]
    events: list[EventResponse]


class RunStart(BaseModel):
    """What ``POST /runs`` starts. Other fields (workspace, ids, creator) are ignored."""

    model_config = ConfigDict(extra="ignore")

    workflow_name: str = Field(min_length=1, max_length=_NAME, pattern=_TEXT)
    params: dict[str, Any] = Field(default_factory=dict)
    partition_key: str | None = Field(default=None, max_length=_NAME, pattern=_TEXT)
    domain: str | None = Field(
        default=None,
        max_length=_NAME,
        pattern=_TEXT,
        description="Default: the workflow's domain.",
    )


class StepInfo(BaseModel):
    """One step of a registered workflow."""

    step_order: int
    step_name: str
    step_type: str
    max_attempts: int
    timeout_seconds: float | None
    pipeline_name: str | None
    child_workflow_name: str | None


class WorkflowInfo(BaseModel):
    """A registered workflow: what ``spine workflows list --json`` shows, and its params."""

    workflow_name: str
    workflow_version: int
    domain: str | None
    steps: list[StepInfo]
    params: dict[str, str] = Field(description="Declared params and their types.")


def _run_id(run_id: str) -> str:
    """``run_id`` if it is a ULID (any case); an id that is not one is no run's: 404."""
    try:
        return str(ULID.from_str(run_id))
    except ValueError:
        raise RunNotFound(run_id[:64]) from None


@router.get(
    "/runs",
    response_model=Page[RunResponse],
    description="The workspace's runs, newest first, filtered by workflow name, status, "
    "domain, trigger and start time.",
    responses=problem_responses(400, 401, 403, 404, 422, 429, 503),
)
def list_runs(
    access: ReadAccess,
    page: PageParams,
    workflow_name: Annotated[str | None, Query(max_length=_NAME, pattern=_TEXT)] = None,
    status: WorkflowStatus | None = None,
    domain: Annotated[str | None, Query(max_length=_NAME, pattern=_TEXT)] = None,
    triggered_by: Annotated[str | None, Query(max_length=50, pattern=_TEXT)] = None,
    since: Annotated[datetime | None, Query(description="Started at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Started at or before.")] = None,
) -> Page[RunResponse]:
    """List the workspace's runs, newest first."""
    since = ensure_utc(since) if since else None
    until = ensure_utc(until) if until else None
    if since and until and since > until:
        raise InvalidInput("since is after until")
    after = page.after if isinstance(page.after, str) else None
    runs = access.services.runs.page_workflow_runs(
        workflow_name=workflow_name,
        status=status,
        domain=domain,
        triggered_by=triggered_by,
        since=since,
        until=until,
        after_run_id=after,
        limit=page.limit + 1,
    )
    items, cursor = page.page(runs, lambda run: run.run_id)
    return Page[RunResponse](items=[RunResponse.of(run) for run in items], next_cursor=cursor)


@router.post(
    "/runs",
    response_model=RunResponse,
    status_code=201,
    description="Start a run of a registered workflow. With an `Idempotency-Key` header the "
    "workflow starts once per key in this workspace: the run that holds the key is returned "
    "(200) instead of a new one (201).",
    responses={
        200: {"model": RunResponse, "description": "The run this key already started."},
        **problem_responses(401, 403, 404, 413, 415, 422, 429, 503),
    },
)
def start_run(
    body: RunStart,
    access: WriteAccess,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=_TEXT,
            description="Start the workflow once per key (per workspace).",
        ),
    ] = None,
) -> RunResponse:
    """Start a run of ``body.workflow_name``; it waits for a worker (``spine worker``)."""
    runner = access.services.runner()
    run = runner.new_run(
        body.workflow_name,
        body.params,
        partition_key=body.partition_key,
        triggered_by="api",
        idempotency_key=idempotency_key,
    )
    if body.domain is not None:
        run.domain = body.domain
    stored = runner.store.create_run(run)
    if stored.run_id != run.run_id:
        response.status_code = 200
    return RunResponse.of(stored)


@router.get(
    "/runs/{run_id}",
    response_model=RunDetail,
    description="The run, its step attempts in execution order, and its events oldest first.",
    responses=problem_responses(401, 403, 404, 429, 503),
)
def get_run(run_id: str, access: ReadAccess) -> RunDetail:
    """Show a run of the workspace with its steps and events."""
    run_id = _run_id(run_id)
    store = access.services.runs
    run = store.run_row(run_id)
    return RunDetail(
        **RunResponse.of(run).model_dump(),
        steps=[StepResponse.of(step) for step in store.get_step_runs(run_id)],
        events=[EventResponse.of(event) for event in store.get_events(run_id)],
    )


@router.post(
    "/runs/{run_id}/cancel",
    response_model=RunResponse,
    description="Cancel a run and its active child runs: one no worker holds ends at once; "
    "a run being executed is stopped by its worker before its next step.",
    responses=problem_responses(401, 403, 404, 409, 429, 503),
)
def cancel_run(run_id: str, access: WriteAccess) -> RunResponse:
    """Cancel a run of the workspace (409 if it already finished)."""
    return RunResponse.of(access.services.runs.request_cancel(_run_id(run_id)))


@router.get(
    "/workflows",
    response_model=Page[WorkflowInfo],
    description="The workflows this deployment registers, by name (the same in every workspace).",
    responses=problem_responses(400, 401, 403, 404, 422, 429),
)
def list_workflows(access: ReadAccess, page: PageParams) -> Page[WorkflowInfo]:
    """List the registered workflows by name, with their steps and declared params."""
    from spine.orchestration.registry import workflows

    del access  # the key is checked by the dependency; the registry is the deployment's
    after = page.after if isinstance(page.after, str) else None
    registered = [w for w in workflows.all() if after is None or w.name > after]
    items, cursor = page.page(registered[: page.limit + 1], lambda w: w.name)
    return Page[WorkflowInfo](items=[_workflow_info(w) for w in items], next_cursor=cursor)


def _workflow_info(workflow: Workflow) -> WorkflowInfo:
    return WorkflowInfo(
        workflow_name=workflow.name,
        workflow_version=workflow.version,
        domain=workflow.domain,
        steps=[
            StepInfo(
                step_order=order,
                step_name=step.name,
                step_type=step.type.value,
                max_attempts=step.retry.max_attempts,
                timeout_seconds=step.timeout_seconds,
                pipeline_name=step.pipeline_name,
                child_workflow_name=step.workflow_name,
            )
            for order, step in enumerate(workflow.steps)
        ],
        params={
            name: getattr(kind, "__name__", str(kind)) for name, kind in workflow.params.items()
        },
    )
