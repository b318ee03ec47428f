"""Data-quality checks, their runs and results, under ``/api/v1/workspaces/{workspace_id}/``.

Every route calls the quality service of the request's key (``access.services.quality``),
the one ``spine checks`` calls, so the API checks what the CLI checks: the type, its
config and thresholds, the connection, the schedule, and (when the database can be
reached) the table and column. ``{check_id}`` in a path is the check's id or, failing
that, its name; another workspace's check is not found. Running a check through the API
queues a job (spec 004 ``jobs``) that a ``spine worker`` executes; jobs, incidents and
the summary are in :mod:`spine.api.quality_ops`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from spine.api.auth import WORKSPACE_PATH, ReadAccess, WriteAccess
from spine.api.pagination import Page, PageParams, invalid_cursor
from spine.api.problems import problem_responses
from spine.api.quality_models import (
    CheckCreate,
    CheckPatch,
    CheckResponse,
    CheckTypeResponse,
    JobResponse,
    ResultResponse,
)
from spine.core.clock import ensure_utc
from spine.core.errors import InvalidInput

router = APIRouter(prefix=WORKSPACE_PATH, tags=["quality"])

_AUTH = (401, 404, 429, 503)
_CHANGE = (*_AUTH, 403, 409, 422)
#: Fields a PATCH may not set to null.
_NOT_NULL = (
    "connection_name",
    "check_type",
    "target_table",
    "config",
    "severity",
    "tags",
    "timezone",
    "enabled",
)
_PATCHED = {
    "connection_name": "connection",
    "check_type": "check_type",
    "target_column": "column",
    "config": "config",
    "severity": "severity",
    "tags": "tags",
    "cron_expression": "cron",
    "timezone": "timezone",
    "description": "description",
    "enabled": "enabled",
}


def _table(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


@router.get(
    "/checks",
    response_model=Page[CheckResponse],
    description="The workspace's checks by name; filter by `table` (`[schema.]table`), "
    "`connection` (name), `tag` and `enabled`.",
    responses=problem_responses(400, 403, 422, *_AUTH),
)
def list_checks(
    access: ReadAccess,
    page: PageParams,
    table: Annotated[str | None, Query(max_length=511)] = None,
    connection: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=255)] = None,
    enabled: bool | None = None,
) -> Page[CheckResponse]:
    """List the workspace's checks, by name."""
    if page.after is not None and not isinstance(page.after, str):
        raise invalid_cursor()
    found = access.services.quality.list_checks(
        table=table,
        connection=connection,
        tag=tag,
        enabled=enabled,
        after=page.after,
        limit=page.limit + 1,
    )
    items, cursor = page.page(found, lambda check: check.name)
    return Page(items=[CheckResponse.of(c) for c in items], next_cursor=cursor)


@router.post(
    "/checks",
    status_code=201,
    response_model=CheckResponse,
    description="Save a check, checked as `spine checks add` checks it: 404 when the "
    "connection is not registered, 409 when the name is taken, 422 for a bad type, "
    "config, threshold, schedule, or a table or column the database does not have.",
    responses=problem_responses(*_CHANGE),
)
def create_check(body: CheckCreate, access: WriteAccess) -> CheckResponse:
    """Create a check in the workspace."""
    check = access.services.quality.add_check(
        body.name,
        connection=body.connection_name,
        check_type=body.check_type,
        table=_table(body.target_schema, body.target_table),
        column=body.target_column,
        config=body.config,
        severity=body.severity,
        tags=body.tags,
        cron=body.cron_expression,
        timezone=body.timezone,
        description=body.description,
        enabled=body.enabled,
    )
    return CheckResponse.of(check)


@router.get(
    "/checks/types",
    response_model=list[CheckTypeResponse],
    description="The catalogue: every check type, its level, config keys and what its "
    "sensor value means (as `spine checks types`).",
    responses=problem_responses(403, 422, *_AUTH),
)
def list_check_types(access: ReadAccess) -> list[CheckTypeResponse]:
    """List the check types."""
    return [
        CheckTypeResponse(
            name=t.name,
            level=t.level.value,
            sensor=t.sensor,
            config_keys=dict(t.config_keys),
            required=list(t.required),
            row_level=t.row_level,
        )
        for t in access.services.quality.check_types()
    ]


@router.get(
    "/checks/{check_id}",
    response_model=CheckResponse,
    description="One check, by id or by name.",
    responses=problem_responses(403, 422, *_AUTH),
)
def get_check(check_id: str, access: ReadAccess) -> CheckResponse:
    """Show a check of the workspace."""
    return CheckResponse.of(access.services.quality.get_check(check_id))


@router.patch(
    "/checks/{check_id}",
    response_model=CheckResponse,
    description="Change the fields given, checked as a new check is. "
    "`cron_expression: null` removes the schedule.",
    responses=problem_responses(*_CHANGE),
)
def update_check(check_id: str, body: CheckPatch, access: WriteAccess) -> CheckResponse:
    """Partially update a check of the workspace."""
    service = access.services.quality
    given = body.model_fields_set
    for name in _NOT_NULL:
        if name in given and getattr(body, name) is None:
            raise InvalidInput(f"{name} cannot be null")
    changes: dict[str, Any] = {
        _PATCHED[name]: getattr(body, name) for name in given if name in _PATCHED
    }
    if {"target_schema", "target_table"} & given:
        current = service.get_check(check_id)
        schema = body.target_schema if "target_schema" in given else current.target_schema
        table = body.target_table if "target_table" in given else current.target_table
        changes["table"] = _table(schema, table or current.target_table)
    return CheckResponse.of(service.update_check(check_id, changes))


@router.delete(
    "/checks/{check_id}",
    status_code=204,
    response_class=Response,
    response_model=None,
    description="Delete a check with its schedule, results, incidents and jobs.",
    responses=problem_responses(403, 422, *_AUTH),
)
def delete_check(check_id: str, access: WriteAccess) -> Response:
    """Delete a check of the workspace."""
    access.services.quality.remove_check(check_id)
    return Response(status_code=204)


@router.post(
    "/checks/{check_id}/run",
    status_code=202,
    response_model=JobResponse,
    description="Queue a run of the check (a spec 004 job, `triggered_by` api) for a "
    "`spine worker`, and return the job: poll `GET .../jobs/{job_id}`.",
    responses=problem_responses(403, 409, 422, *_AUTH),
)
def run_check(check_id: str, access: WriteAccess) -> JobResponse:
    """Queue a job running the check."""
    return JobResponse.of(access.services.quality.queue_job(check_id, triggered_by="api"))


@router.get(
    "/checks/{check_id}/results",
    response_model=Page[ResultResponse],
    description="The check's results (`check_results`), newest first; `since` keeps "
    "those executed from that time on.",
    responses=problem_responses(400, 403, 422, *_AUTH),
)
def list_results(
    check_id: str,
    access: ReadAccess,
    page: PageParams,
    since: Annotated[
        datetime | None, Query(description="ISO-8601 time; without an offset, UTC.")
    ] = None,
) -> Page[ResultResponse]:
    """List a check's results, newest first."""
    before = page.after
    if before is not None and (not isinstance(before, int) or isinstance(before, bool)):
        raise invalid_cursor()
    try:
        start = None if since is None else ensure_utc(since)
    except (OverflowError, ValueError):
        raise InvalidInput("since is out of range") from None
    results = access.services.quality.results(
        check_id, since=start, limit=page.limit + 1, before_id=before
    )
    items, cursor = page.page(results, lambda result: result.id)
    return Page(items=[ResultResponse.of(r) for r in items], next_cursor=cursor)
