"""Schedules, their fires and previews, under ``/api/v1/workspaces/{workspace_id}/``.

Every route calls the scheduling part's store, the one ``spine schedules`` calls, bound to
the key's workspace: a schedule of another workspace is not found. ``{schedule}`` in a
path is the schedule's id or, failing that, its name in the workspace. Bodies use the
``core_schedules`` column names and are checked as ``spine schedules add`` checks its
options.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from spine.api.auth import WORKSPACE_PATH, ReadAccess, WriteAccess
from spine.api.pagination import CursorKey, Page, PageParams
from spine.api.problems import problem_responses
from spine.core.clock import ensure_utc
from spine.core.errors import InvalidInput
from spine.orchestration.registry import workflows
from spine.scheduling import Schedule, ScheduleRun, new_schedule
from spine.scheduling.cron import DstPolicy, zone
from spine.scheduling.definitions import MAX_PREVIEW, preview_times, revise_schedule

router = APIRouter(prefix=WORKSPACE_PATH, tags=["schedules"])

_INT = 2**31 - 1  # the columns are 32-bit integers
_TIME = "ISO-8601 time."
_LOCAL = "ISO-8601; without an offset it is read on the wall clock of `timezone`."
_AUTH = (401, 404, 429, 503)
_CHANGE = (*_AUTH, 403, 422)


def _no_nul(value: Any) -> Any:
    """Refuse text holding NUL, which the database cannot store (recursively)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class ScheduleResponse(BaseModel):
    """A ``core_schedules`` row."""

    id: str
    name: str
    target_type: str
    target_name: str = Field(description="The workflow a fire runs.")
    params: dict[str, Any]
    schedule_type: str = Field(description="cron, interval or date.")
    cron_expression: str | None
    interval_seconds: int | None
    run_at: str | None = Field(description=_TIME)
    timezone: str
    enabled: bool
    max_instances: int
    misfire_grace_seconds: int | None
    last_run_at: str | None = Field(description=_TIME)
    next_run_at: str | None = Field(description=_TIME)
    last_run_status: str | None
    created_at: str = Field(description=_TIME)
    updated_at: str = Field(description=_TIME)
    created_by: str | None
    version: int
    catchup: str = Field(description="coalesce, all or none.")
    dst_policy: str | None = Field(description="`gap=end|skip,fold=first|both`, or null.")
    workspace_id: str

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleResponse:
        """The response for ``schedule``."""
        return cls.model_validate(schedule.to_dict())


class FireResponse(BaseModel):
    """A ``core_schedule_runs`` row: one fire of a schedule."""

    id: str
    schedule_id: str
    schedule_name: str
    scheduled_at: str = Field(description=_TIME)
    started_at: str | None = Field(description=_TIME)
    completed_at: str | None = Field(description=_TIME)
    status: str = Field(description="PENDING, RUNNING, COMPLETED, FAILED, SKIPPED or MISSED.")
    run_id: str | None
    execution_id: str | None
    error: str | None
    skip_reason: str | None

    @classmethod
    def of(cls, fire: ScheduleRun) -> FireResponse:
        """The response for ``fire``."""
        return cls.model_validate(fire.to_dict())


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _no_nul(value)


class _Trigger(_Body):
    cron_expression: str | None = Field(
        default=None, max_length=200, description="5-field cron expression or @daily etc."
    )
    interval_seconds: int | None = Field(default=None, ge=1, le=_INT)
    run_at: datetime | None = Field(default=None, description="A one-off time. " + _LOCAL)
    timezone: str = Field(default="UTC", max_length=64, description="IANA time zone.")
    dst_policy: str | None = Field(
        default=None, max_length=50, description="`gap=end|skip,fold=first|both`."
    )


class ScheduleCreate(_Trigger):
    """A new schedule.

    Exactly one of ``cron_expression``, ``interval_seconds`` and ``run_at``, and the
    workflow it runs.
    """

    name: str = Field(min_length=1, max_length=200)
    target_name: str = Field(min_length=1, max_length=200, description="A registered workflow.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Run params; text may be a template."
    )
    max_instances: int = Field(default=1, ge=1, le=_INT)
    misfire_grace_seconds: int | None = Field(default=None, ge=0, le=_INT)
    catchup: str = Field(default="coalesce", max_length=20, description="coalesce, all or none.")


class ScheduleUpdate(_Body):
    """A partial update: only the fields given change.

    A new trigger names one of ``cron_expression``, ``interval_seconds`` and ``run_at``
    and replaces the old one.
    """

    name: str | None = Field(default=None, min_length=1, max_length=200)
    target_name: str | None = Field(default=None, min_length=1, max_length=200)
    params: dict[str, Any] | None = None
    cron_expression: str | None = Field(default=None, max_length=200)
    interval_seconds: int | None = Field(default=None, ge=1, le=_INT)
    run_at: datetime | None = Field(default=None, description=_LOCAL)
    timezone: str | None = Field(default=None, max_length=64)
    max_instances: int | None = Field(default=None, ge=1, le=_INT)
    misfire_grace_seconds: int | None = Field(default=None, ge=0, le=_INT)
    catchup: str | None = Field(default=None, max_length=20)
    dst_policy: str | None = Field(default=None, max_length=50)


class PreviewRequest(_Trigger):
    """A trigger that is not saved, and how many of its fire times to list."""

    count: int = Field(default=5, ge=1, le=MAX_PREVIEW)
    after: datetime | None = Field(default=None, description="Start after (default now).")


class PreviewResponse(BaseModel):
    """The next fire times of a trigger, in its zone."""

    times: list[str] = Field(description="ISO-8601 times with the zone's offset, ascending.")


_NOT_NULL = ("name", "target_name", "params", "timezone", "max_instances", "catchup")


def _local(value: datetime | None, tz: str) -> datetime | None:
    """``value`` as aware UTC; naive values are on the wall clock of ``tz``."""
    if value is None:
        return None
    where: tzinfo = zone(tz)
    try:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=where)
        return aware.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"{value.isoformat()} is out of range") from None


def _policy(text: str | None) -> DstPolicy | None:
    return DstPolicy.parse(text)


@router.get(
    "/schedules",
    response_model=Page[ScheduleResponse],
    description="The workspace's schedules, oldest first.",
    responses=problem_responses(400, 403, 422, *_AUTH),
)
def list_schedules(access: ReadAccess, page: PageParams) -> Page[ScheduleResponse]:
    """List the workspace's schedules in creation order."""
    if page.after is not None and not isinstance(page.after, str):
        raise _foreign_cursor()
    after = page.after
    found = access.services.schedules.page(after_id=after, limit=page.limit + 1)
    kept, cursor = page.page(found, lambda s: s.id)
    return Page(items=[ScheduleResponse.of(s) for s in kept], next_cursor=cursor)


@router.post(
    "/schedules",
    status_code=201,
    response_model=ScheduleResponse,
    description="Save a schedule, checked as `spine schedules add` checks it; 409 when "
    "the workspace has a schedule of that name, 404 when the workflow is not registered.",
    responses=problem_responses(409, *_CHANGE),
)
def create_schedule(body: ScheduleCreate, access: WriteAccess) -> ScheduleResponse:
    """Create a schedule in the workspace."""
    services = access.services
    schedule = new_schedule(
        body.name,
        workflow=body.target_name,
        now=services.clock.now(),
        registry=workflows,
        cron=body.cron_expression,
        every=body.interval_seconds,
        at=_local(body.run_at, body.timezone),
        timezone=body.timezone,
        params=body.params,
        max_instances=body.max_instances,
        misfire_grace_seconds=body.misfire_grace_seconds,
        catchup=body.catchup,
        dst_policy=_policy(body.dst_policy),
    )
    return ScheduleResponse.of(services.schedules.add(schedule))


@router.post(
    "/schedules/preview",
    response_model=PreviewResponse,
    description="The next fire times of a trigger that is not saved (changes nothing).",
    responses=problem_responses(*_CHANGE),
)
def preview_schedule(body: PreviewRequest, access: ReadAccess) -> PreviewResponse:
    """List the next ``count`` fire times of the trigger in the body."""
    after = _local(body.after, body.timezone) or access.services.clock.now()
    times = preview_times(
        cron=body.cron_expression,
        every=body.interval_seconds,
        at=_local(body.run_at, body.timezone),
        timezone=body.timezone,
        dst_policy=body.dst_policy,
        after=after,
        count=body.count,
    )
    return PreviewResponse(times=[t.isoformat() for t in times])


@router.get(
    "/schedules/{schedule}",
    response_model=ScheduleResponse,
    description="One schedule, by id or by name.",
    responses=problem_responses(403, 422, *_AUTH),
)
def get_schedule(schedule: str, access: ReadAccess) -> ScheduleResponse:
    """Show a schedule of the workspace."""
    return ScheduleResponse.of(access.services.schedules.find(schedule))


@router.patch(
    "/schedules/{schedule}",
    response_model=ScheduleResponse,
    description="Change the fields given (checked as a new schedule is); a new trigger "
    "or zone computes the next fire time again.",
    responses=problem_responses(409, *_CHANGE),
)
def update_schedule(schedule: str, body: ScheduleUpdate, access: WriteAccess) -> ScheduleResponse:
    """Partially update a schedule of the workspace."""
    services = access.services
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name in _NOT_NULL:
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be null")
    now = services.clock.now()

    def revise(old: Schedule) -> Schedule:
        revised = dict(changes)
        if "run_at" in revised:
            revised["run_at"] = _local(revised["run_at"], revised.get("timezone") or old.timezone)
        return revise_schedule(old, revised, now=now, registry=workflows)

    return ScheduleResponse.of(services.schedules.update(schedule, revise))


@router.delete(
    "/schedules/{schedule}",
    status_code=204,
    response_class=Response,
    response_model=None,
    description="Delete a schedule and its fires (the workflow runs it started stay).",
    responses=problem_responses(403, 422, *_AUTH),
)
def delete_schedule(schedule: str, access: WriteAccess) -> Response:
    """Delete a schedule of the workspace."""
    access.services.schedules.remove(schedule)
    return Response(status_code=204)


@router.post(
    "/schedules/{schedule}/pause",
    response_model=ScheduleResponse,
    description="Stop the schedule from firing (its definition and fires stay).",
    responses=problem_responses(403, 422, *_AUTH),
)
def pause_schedule(schedule: str, access: WriteAccess) -> ScheduleResponse:
    """Pause a schedule of the workspace."""
    return ScheduleResponse.of(access.services.schedules.set_enabled(schedule, False, None))


@router.post(
    "/schedules/{schedule}/resume",
    response_model=ScheduleResponse,
    description="Resume from now on: fires missed while paused are not run.",
    responses=problem_responses(403, 422, *_AUTH),
)
def resume_schedule(schedule: str, access: WriteAccess) -> ScheduleResponse:
    """Resume a paused schedule of the workspace."""
    return ScheduleResponse.of(access.services.schedules.resume(schedule))


@router.get(
    "/schedules/{schedule}/fires",
    response_model=Page[FireResponse],
    description="The schedule's fires (core_schedule_runs), newest first.",
    responses=problem_responses(400, 403, 422, *_AUTH),
)
def list_fires(schedule: str, access: ReadAccess, page: PageParams) -> Page[FireResponse]:
    """List a schedule's fires, newest first."""
    store = access.services.schedules
    found = store.find(schedule)
    before = _fire_key(page.after)
    fires = store.runs(found.id, page.limit + 1, before=before)
    kept, cursor = page.page(fires, lambda f: [f.scheduled_at.isoformat(), f.id])
    return Page(items=[FireResponse.of(f) for f in kept], next_cursor=cursor)


def _fire_key(after: CursorKey | None) -> tuple[datetime, str] | None:
    if after is None:
        return None
    try:
        assert isinstance(after, list)
        at, fire_id = after
        assert isinstance(at, str) and isinstance(fire_id, str)
        return ensure_utc(datetime.fromisoformat(at)), fire_id
    except (AssertionError, TypeError, ValueError):
        raise _foreign_cursor() from None


def _foreign_cursor() -> HTTPException:
    return HTTPException(
        400, "this cursor does not belong to this listing; start again without one"
    )
