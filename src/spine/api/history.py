"""Spec 002's workflow history endpoints, under ``/history``.

``GET /history/runs`` lists runs (newest first, ``X-Total-Count`` gives the number of
matches), ``GET /history/runs/{run_id}`` shows one run with its steps and events,
``GET /history/statistics`` counts runs, and ``DELETE /history/runs/old`` applies
retention (terminal runs only). The response models keep spec 002's field names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from spine.api.auth import KeyReadAccess, KeyWriteAccess
from spine.api.problems import problem_responses
from spine.core.clock import ensure_utc
from spine.core.errors import InvalidInput
from spine.orchestration.errors import RunNotFound
from spine.orchestration.history import WorkflowRun, WorkflowStatus

router = APIRouter(prefix="/history", tags=["history"])

TOTAL_COUNT_HEADER = "X-Total-Count"
#: The most runs one page of ``GET /history/runs`` holds.
MAX_PAGE = 200
#: The largest ``offset``: the largest 64-bit signed integer, what SQLite and PostgreSQL
#: take in ``OFFSET``. Larger values are refused (422) rather than overflowing the query.
MAX_OFFSET = 2**63 - 1
#: The largest ``days`` of retention (100 years): a cutoff before year 1 cannot be computed.
MAX_RETENTION_DAYS = 36_500

_TIME = "ISO-8601 time in UTC."
#: Text a column can hold: no NUL (PostgreSQL refuses it in text).
_TEXT = r"^[^\x00]*$"


class WorkflowRunResponse(BaseModel):
    """One run in a listing (spec 002's fields, then partition key and creation time)."""

    run_id: str
    workflow_name: str
    domain: str | None
    status: str = Field(description="PENDING, RUNNING, COMPLETED, FAILED or CANCELLED.")
    started_at: str | None = Field(description=_TIME)
    completed_at: str | None = Field(description=_TIME)
    duration_seconds: float | None
    error: str | None
    triggered_by: str
    partition_key: str | None
    created_at: str = Field(description=_TIME)

    @classmethod
    def of(cls, run: WorkflowRun) -> WorkflowRunResponse:
        """The listing entry of ``run``."""
        return cls(
            run_id=run.run_id,
            workflow_name=run.workflow_name,
            domain=run.domain,
            status=WorkflowStatus(run.status).value,
            started_at=run.started_at.isoformat() if run.started_at else None,
            completed_at=run.completed_at.isoformat() if run.completed_at else None,
            duration_seconds=run.duration_seconds,
            error=run.error,
            triggered_by=run.triggered_by,
            partition_key=run.partition_key,
            created_at=run.created_at.isoformat(),
        )


class WorkflowRunDetail(BaseModel):
    """A whole run: ``WorkflowRun.to_dict()``."""

    run_id: str
    workflow_name: str
    domain: str | None
    partition_key: str | None
    status: str
    started_at: str | None = Field(description=_TIME)
    completed_at: str | None = Field(description=_TIME)
    duration_seconds: float | None
    params: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None
    error_category: str | None
    metrics: dict[str, Any]
    triggered_by: str
    created_at: str = Field(description=_TIME)
    workflow_version: int
    duration_ms: int | None
    error_retryable: bool | None
    total_steps: int
    completed_steps: int
    failed_steps: int
    skipped_steps: int
    parent_run_id: str | None
    schedule_id: str | None
    created_by: str | None
    capture_id: str | None
    idempotency_key: str | None = Field(
        default=None, description="The key the run was started with, if any."
    )


class StepRunResponse(BaseModel):
    """One step attempt: ``StepRun.to_dict()`` (spec 002's fields and spec 000's)."""

    step_id: str
    run_id: str
    step_name: str
    step_type: str
    step_order: int = Field(description="Position of the step in the run, from 0.")
    status: str = Field(description="PENDING, RUNNING, COMPLETED, FAILED or SKIPPED.")
    started_at: str | None = Field(description=_TIME)
    completed_at: str | None = Field(description=_TIME)
    duration_seconds: float | None
    error: str | None
    records_processed: int | None
    quality_passed: bool | None
    error_category: str | None
    input_params: dict[str, Any]
    output_data: dict[str, Any]
    quality_metrics: dict[str, Any]
    attempt: int
    max_attempts: int
    duration_ms: int | None
    execution_id: str | None
    error_traceback: str | None = Field(
        default=None,
        description="A failed attempt's traceback, spine's own frames trimmed (at most "
        "16 KiB; a longer one keeps its head and tail around a marker).",
    )


class WorkflowEventResponse(BaseModel):
    """One row of the run's event log, oldest first."""

    id: int
    run_id: str
    step_id: str | None
    event_type: str = Field(description="run.running, step.completed, ...")
    timestamp: str = Field(description=_TIME)
    payload: dict[str, Any]
    idempotency_key: str


class RunDetailResponse(BaseModel):
    """A run with its step attempts (in execution order) and its events."""

    run: WorkflowRunDetail
    steps: list[StepRunResponse]
    events: list[WorkflowEventResponse]


class StatisticsResponse(BaseModel):
    """Spec 002's statistics, then the counts of the other statuses."""

    total_runs: int
    completed: int
    failed: int
    success_rate: float = Field(description="completed / total_runs; 0 when there are none.")
    avg_duration_seconds: float | None = Field(description="Mean duration of finished runs.")
    cancelled: int
    running: int
    pending: int


class DeletedResponse(BaseModel):
    """How many runs retention deleted."""

    deleted: int


@router.get(
    "/runs",
    description="Runs newest first, filtered by workflow name, domain, status and start "
    "time. `X-Total-Count` holds the number of runs matching the filters.",
    responses={
        200: {
            "headers": {
                TOTAL_COUNT_HEADER: {
                    "description": "Runs matching the filters, whatever limit and offset.",
                    "schema": {"type": "integer"},
                }
            }
        },
        **problem_responses(422, 503),
    },
)
def list_runs(
    access: KeyReadAccess,
    response: Response,
    workflow_name: Annotated[str | None, Query(pattern=_TEXT)] = None,
    domain: Annotated[str | None, Query(pattern=_TEXT)] = None,
    status: WorkflowStatus | None = None,
    since: Annotated[datetime | None, Query(description="Started at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Started at or before.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Runs per page.")] = 50,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Matching runs to skip (64-bit).")
    ] = 0,
) -> list[WorkflowRunResponse]:
    """List workflow runs, newest first.

    Returns:
        At most ``limit`` runs after skipping ``offset``; the ``X-Total-Count`` header
        holds the number of all matching runs.

    Raises:
        InvalidInput: If ``since`` is after ``until``.
    """
    # Times without an offset are UTC, as everywhere in spine.
    since = ensure_utc(since) if since else None
    until = ensure_utc(until) if until else None
    if since and until and since > until:
        raise InvalidInput("since is after until")
    filters: dict[str, Any] = {
        "workflow_name": workflow_name,
        "domain": domain,
        "status": status,
        "since": since,
        "until": until,
    }
    runs = access.services.runs.list_workflow_runs(**filters, limit=limit, offset=offset)
    response.headers[TOTAL_COUNT_HEADER] = str(access.services.runs.count_workflow_runs(**filters))
    return [WorkflowRunResponse.of(run) for run in runs]


@router.get(
    "/runs/{run_id}",
    description="The run, its step attempts in execution order, and its events oldest first.",
    responses=problem_responses(404, 503),
)
def get_run(run_id: str, access: KeyReadAccess) -> RunDetailResponse:
    """Show a run with its steps (in execution order) and its events (oldest first).

    Raises:
        RunNotFound: If no run has this id.
    """
    run = access.services.runs.get_workflow_run(run_id)
    if run is None:
        raise RunNotFound(run_id)
    return RunDetailResponse.model_validate(
        {
            "run": run.to_dict(),
            "steps": [step.to_dict() for step in access.services.runs.get_step_runs(run_id)],
            "events": [event.to_dict() for event in access.services.runs.get_events(run_id)],
        }
    )


@router.get(
    "/statistics",
    description="Runs per status, success rate and mean duration of the runs that "
    "started at or after `since`.",
    responses=problem_responses(422, 503),
)
def get_statistics(
    access: KeyReadAccess,
    workflow_name: Annotated[str | None, Query(pattern=_TEXT)] = None,
    since: Annotated[datetime | None, Query(description="Started at or after.")] = None,
) -> StatisticsResponse:
    """Count runs per status, with the success rate and the mean duration."""
    return StatisticsResponse.model_validate(
        access.services.runs.get_run_statistics(workflow_name=workflow_name, since=since)
    )


@router.delete(
    "/runs/old",
    description="Delete finished runs created more than `days` ago, with their steps and "
    "events. PENDING and RUNNING runs stay, whatever their age.",
    responses=problem_responses(422, 503),
)
def delete_old_runs(
    access: KeyWriteAccess,
    days: Annotated[
        int,
        Query(ge=1, le=MAX_RETENTION_DAYS, description="Delete runs created before this."),
    ] = 90,
) -> DeletedResponse:
    """Delete finished runs older than ``days``, with their steps and events.

    PENDING and RUNNING runs stay, whatever their age.
    """
    return DeletedResponse(deleted=access.services.runs.delete_old_runs(days))
