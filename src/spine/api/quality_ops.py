"""Check jobs, incidents and the quality summary, under ``/api/v1/workspaces/{workspace_id}/``.

Jobs are spec 004's queue of check runs (``POST .../checks/{check_id}/run`` makes one);
incidents group a check's failures, and people acknowledge and resolve them here as
``spine incidents`` does; the summary is spec 004's four useful queries.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from spine.api.auth import WORKSPACE_PATH, ReadAccess, WriteAccess
from spine.api.pagination import Page, PageParams, invalid_cursor
from spine.api.problems import problem_responses
from spine.api.quality_models import (
    AcknowledgeBody,
    IncidentResponse,
    IncidentStatus,
    JobResponse,
    JobStatus,
    ResolveBody,
    sensor_number,
)

router = APIRouter(prefix=WORKSPACE_PATH, tags=["quality"])

_TIME = "ISO-8601 time in UTC."
_AUTH = (401, 404, 429, 503)
_CHECK = Query(max_length=255, description="Only this check's (its id or name).")


def _after(page: PageParams) -> str | None:
    if page.after is not None and not isinstance(page.after, str):
        raise invalid_cursor()
    return page.after


@router.get(
    "/jobs",
    response_model=Page[JobResponse],
    description="The workspace's check jobs, newest first; filter by `status` and `check`.",
    responses=problem_responses(400, 403, 422, *_AUTH),
)
def list_jobs(
    access: ReadAccess,
    page: PageParams,
    status: JobStatus | None = None,
    check: Annotated[str | None, _CHECK] = None,
) -> Page[JobResponse]:
    """List check jobs, newest first."""
    found = access.services.quality.list_jobs(
        status=status, check=check, after=_after(page), limit=page.limit + 1
    )
    items, cursor = page.page(found, lambda job: str(job.id))
    return Page(items=[JobResponse.of(j) for j in items], next_cursor=cursor)


@router.get(
    "/jobs/{job_id}",
    response_model=JobResponse,
    description="One check job: its status and, once completed, its `result_id`.",
    responses=problem_responses(403, 422, *_AUTH),
)
def get_job(job_id: str, access: ReadAccess) -> JobResponse:
    """Show a check job."""
    return JobResponse.of(access.services.quality.get_job(job_id))


@router.get(
    "/incidents",
    response_model=Page[IncidentResponse],
    description="Incidents: open and acknowledged first, by severity (fatal first), then "
    "newest first; with `status`, that status only.",
    responses=problem_responses(400, 403, 422, *_AUTH),
)
def list_incidents(
    access: ReadAccess,
    page: PageParams,
    status: IncidentStatus | None = None,
    check: Annotated[str | None, _CHECK] = None,
) -> Page[IncidentResponse]:
    """List incidents."""
    found = access.services.quality.list_incidents(
        status=status, check=check, after=_after(page), limit=page.limit + 1
    )
    items, cursor = page.page(found, lambda incident: str(incident.id))
    return Page(items=[IncidentResponse.of(i) for i in items], next_cursor=cursor)


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentResponse,
    description="One incident.",
    responses=problem_responses(403, 422, *_AUTH),
)
def get_incident(incident_id: str, access: ReadAccess) -> IncidentResponse:
    """Show an incident."""
    return IncidentResponse.of(access.services.quality.get_incident(incident_id))


@router.post(
    "/incidents/{incident_id}/acknowledge",
    response_model=IncidentResponse,
    description="Acknowledge an open incident (`by`: who looks at it); it stays until "
    "resolved. 409 when it is resolved already.",
    responses=problem_responses(403, 409, 422, *_AUTH),
)
def acknowledge_incident(
    incident_id: str, body: AcknowledgeBody, access: WriteAccess
) -> IncidentResponse:
    """Acknowledge an incident."""
    incident = access.services.quality.acknowledge(incident_id, by=body.by, notes=body.notes)
    return IncidentResponse.of(incident)


@router.post(
    "/incidents/{incident_id}/resolve",
    response_model=IncidentResponse,
    description="Resolve an incident by hand, with notes; the check's next failure opens "
    "a new one. 409 when it is resolved already.",
    responses=problem_responses(403, 409, 422, *_AUTH),
)
def resolve_incident(incident_id: str, body: ResolveBody, access: WriteAccess) -> IncidentResponse:
    """Resolve an incident."""
    incident = access.services.quality.resolve(incident_id, notes=body.notes, by=body.by)
    return IncidentResponse.of(incident)


class LatestRow(BaseModel):
    """An enabled check and its latest result."""

    id: str
    name: str
    target_table: str
    check_type: str
    last_run: datetime | None = Field(description=_TIME)
    last_passed: bool | None
    last_value: int | float | None


class PassRateRow(BaseModel):
    """A table's results over the last 7 days."""

    target_table: str
    total_runs: int
    passed: int
    pass_rate: float = Field(description="Percent passed, one decimal.")


class OpenIncidentRow(BaseModel):
    """An open or acknowledged incident with its check and connection."""

    incident_id: str
    severity: str
    failure_count: int
    first_seen: datetime = Field(description=_TIME)
    last_seen: datetime = Field(description=_TIME)
    check_name: str
    target_table: str
    connection_name: str


class DueRow(BaseModel):
    """A scheduled check due to run."""

    schedule_id: str
    check_id: str
    name: str
    cron_expression: str
    next_run_at: datetime | None = Field(description=_TIME)


class SummaryResponse(BaseModel):
    """Spec 004's four useful queries over the workspace."""

    latest: list[LatestRow] = Field(description="Active checks with their latest result.")
    pass_rate_by_table: list[PassRateRow] = Field(description="Lowest pass rate first.")
    open_incidents: list[OpenIncidentRow] = Field(description="Worst first, then newest.")
    due: list[DueRow] = Field(description="Checks due for execution, earliest first.")


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A summary row with ids as text and numbers as JSON numbers."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, uuid.UUID):
            out[key] = str(value)
        elif isinstance(value, Decimal):
            out[key] = sensor_number(value)
        else:
            out[key] = value
    return out


@router.get(
    "/quality/summary",
    response_model=SummaryResponse,
    description="The latest result of each enabled check, the pass rate by table over 7 "
    "days, open incidents by severity, and the checks due (as `spine quality summary`).",
    responses=problem_responses(403, 422, *_AUTH),
)
def quality_summary(access: ReadAccess) -> SummaryResponse:
    """Summarise the workspace's data quality."""
    summary = access.services.quality.summary()
    return SummaryResponse(
        latest=[LatestRow.model_validate(_plain(r)) for r in summary.latest],
        pass_rate_by_table=[
            PassRateRow.model_validate(_plain(r)) for r in summary.pass_rate_by_table
        ],
        open_incidents=[OpenIncidentRow.model_validate(_plain(r)) for r in summary.open_incidents],
        due=[DueRow.model_validate(_plain(r)) for r in summary.due],
    )
