"""The schedules pages: each schedule's next fire times and recent fires; pause, resume.

Everything is read through the scheduling part's store (``access.services.schedules``,
the one the API and ``spine schedules`` call), bound to the session's workspace: a
schedule of another workspace is not found. The list is a keyset page of schedules
(creation order) with their latest fires read in one query for the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from spine.core.clock import ensure_utc
from spine.core.errors import InvalidInput
from spine.scheduling import Schedule, ScheduleRun, upcoming
from spine.web.access import PREFIX, Editor, Viewer
from spine.web.rendering import redirect, render

router = APIRouter()

#: Schedules a page; the latest fires shown with each; next fire times shown.
PAGE = 25
FIRES_SHOWN = 5
NEXT_SHOWN = 3
#: Fires a page on a schedule's own page.
FIRES_PAGE = 50


@dataclass(frozen=True, slots=True)
class Upcoming:
    """A fire time to come: the instant (for the reader's zone) and its wall clock there."""

    at: datetime
    local: str


def next_fires(schedule: Schedule, count: int = NEXT_SHOWN) -> list[Upcoming]:
    """The schedule's next ``count`` fire times, each with its wall clock in the schedule's zone.

    The first is ``next_run_at`` (what the scheduler will fire next, even when it is
    already due); the rest follow it. A paused schedule, or one that will not fire
    again, has none.
    """
    if not schedule.enabled or schedule.next_run_at is None:
        return []
    first = ensure_utc(schedule.next_run_at)
    try:
        times = [first, *upcoming(schedule, first, count - 1)] if count > 1 else [first]
    except InvalidInput:
        # An inconsistent row: show what the scheduler holds, not an error page.
        times = [first]
    return [Upcoming(at=t, local=_wall_clock(t, schedule.timezone)) for t in times[:count]]


def _wall_clock(instant: datetime, timezone: str) -> str:
    from spine.scheduling.cron import zone

    try:
        there = instant.astimezone(zone(timezone))
    except InvalidInput:
        return instant.strftime("%Y-%m-%d %H:%M UTC")
    return there.strftime("%Y-%m-%d %H:%M %Z")


def fire_reason(fire: ScheduleRun) -> str | None:
    """Why a fire ended as it did: its error (FAILED, MISSED) or its skip reason."""
    return fire.error or fire.skip_reason


@router.get("/schedules", response_class=HTMLResponse)
def schedules_page(
    request: Request,
    access: Viewer,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The workspace's schedules with their next fire times and recent fires."""
    store = access.services.schedules
    found = store.page(after_id=cursor, limit=PAGE + 1)
    shown = found[:PAGE]
    fires = store.latest_fires([s.id for s in shown], FIRES_SHOWN)
    rows = [(s, next_fires(s), fires[s.id]) for s in shown]
    return render(
        request,
        "schedules.html",
        {
            "title": "Schedules",
            "rows": rows,
            "next_cursor": shown[-1].id if len(found) > PAGE else None,
            "fire_reason": fire_reason,
        },
    )


@router.get("/schedules/{schedule_id}", response_class=HTMLResponse)
def schedule_page(
    request: Request,
    access: Viewer,
    schedule_id: str,
    before: Annotated[str | None, Query(max_length=80)] = None,
) -> HTMLResponse:
    """One schedule: its definition, next fire times and every fire, newest first."""
    store = access.services.schedules
    schedule = store.find(schedule_id)
    fires = store.runs(schedule.id, FIRES_PAGE + 1, before=_fire_key(before))
    shown = fires[:FIRES_PAGE]
    more = None
    if len(fires) > FIRES_PAGE:
        last = shown[-1]
        more = f"{last.scheduled_at.isoformat()}|{last.id}"
    return render(
        request,
        "schedule.html",
        {
            "title": f"Schedule {schedule.name}",
            "schedule": schedule,
            "upcoming": next_fires(schedule),
            "fires": shown,
            "next_cursor": more,
            "fire_reason": fire_reason,
        },
    )


def _fire_key(before: str | None) -> tuple[datetime, str] | None:
    if not before:
        return None
    at, _, fire_id = before.partition("|")
    try:
        return ensure_utc(datetime.fromisoformat(at)), fire_id
    except ValueError:
        raise InvalidInput("this page link is not valid; start again from the first page") from None


@router.post("/schedules/{schedule_id}/pause")
def pause(request: Request, access: Editor, schedule_id: str) -> RedirectResponse:
    """Stop the schedule from firing (its definition and fires stay), as the API does."""
    schedule = access.services.schedules.set_enabled(schedule_id, False, None)
    return redirect(_back(request), flash=f"Schedule {schedule.name} paused.")


@router.post("/schedules/{schedule_id}/resume")
def resume(request: Request, access: Editor, schedule_id: str) -> RedirectResponse:
    """Resume from now on: fires missed while paused are not run."""
    schedule = access.services.schedules.resume(schedule_id)
    return redirect(_back(request), flash=f"Schedule {schedule.name} resumed.")


def _back(request: Request) -> str:
    """Where the form was (the list or the schedule's page); the list otherwise."""
    referer = request.headers.get("referer", "")
    path = referer.split("://", 1)[-1].partition("/")[2]
    path = "/" + path if path else ""
    return path if path.startswith(f"{PREFIX}/schedules") else f"{PREFIX}/schedules"
