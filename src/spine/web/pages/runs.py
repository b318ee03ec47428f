"""The runs pages: the list of runs (filtered, newest first) and one run in detail.

``/ui/runs`` lists the workspace's runs by creation time, filtered by workflow, status,
creation time and partition, one page at a time (keyset, "Older"). ``/ui/runs/{id}``
shows a run: its steps and attempts on a Gantt chart, its errors, params, outputs,
parent and child runs, and its events; Cancel and Retry post back to it. Everything is
read through the workspace-bound run store the API uses, so a run of another workspace
is not found.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from spine.core.errors import Conflict, InvalidInput
from spine.orchestration.errors import RunNotFound
from spine.orchestration.history import RunFilter, WorkflowStatus
from spine.orchestration.history.store.dashboard import SCAN_BUDGET
from spine.orchestration.registry import workflows
from spine.web.access import PREFIX, Editor, Viewer
from spine.web.charts import gantt
from spine.web.pages.run_timeline import timeline_rows
from spine.web.params import optional_choice
from spine.web.rendering import redirect, render

router = APIRouter()

#: Runs on a page of the list.
PAGE = 50
#: The most events the run page lists (a map step writes several per item).
MAX_EVENTS = 500
#: The most child runs the run page lists.
MAX_CHILDREN = 100
#: Attempts the run page reads: :data:`MAX_ROWS` steps of a few attempts each.
MAX_ATTEMPTS = 500
#: Failed attempts the run page lists.
MAX_FAILURES = 50
_RETRYABLE = frozenset({WorkflowStatus.FAILED, WorkflowStatus.CANCELLED})
_ACTIVE = frozenset({WorkflowStatus.PENDING, WorkflowStatus.RUNNING})
#: The length of a run id (a ULID).
_ID_LENGTH = 26
_Text = Annotated[str | None, Query(max_length=255)]


@router.get("/runs", response_class=HTMLResponse)
def list_runs(
    request: Request,
    access: Viewer,
    workflow: _Text = None,
    status: _Text = None,
    since: _Text = None,
    until: _Text = None,
    partition: _Text = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    """The workspace's runs, newest first, filtered by the form's fields."""
    where = RunFilter(
        workflow_name=(workflow or "").strip() or None,
        status=optional_choice(WorkflowStatus, status, "status"),
        since=_time(since, "since"),
        until=_time(until, "until"),
        partition=(partition or "").strip() or None,
    )
    if where.since and where.until and where.since >= where.until:
        raise InvalidInput("since must be before until")
    found = access.services.runs.page_runs(where, before=_cursor(cursor), limit=PAGE + 1)
    runs = found.runs[:PAGE]
    if len(found.runs) > PAGE:
        next_cursor: str | None = _cursor_of(runs[-1].created_at, runs[-1].run_id)
    elif found.searched_to is not None:
        next_cursor = _cursor_of(*found.searched_to)
    else:
        next_cursor = None
    filtered = any(v is not None for v in (where.workflow_name, where.status, since, until))
    return render(
        request,
        "runs.html",
        {
            "title": "Runs",
            "runs": runs,
            "next_cursor": next_cursor,
            "searched_to": found.searched_to,
            "scan_budget": SCAN_BUDGET,
            "filtered": filtered or where.partition is not None,
            "form": {
                "workflow": where.workflow_name or "",
                "status": where.status.value if where.status else "",
                "since": (since or "").strip(),
                "until": (until or "").strip(),
                "partition": where.partition or "",
            },
            "statuses": [s.value for s in WorkflowStatus],
            "workflow_names": sorted(w.name for w in workflows.all()),
        },
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def show_run(request: Request, access: Viewer, run_id: str) -> HTMLResponse:
    """One run: its timeline, errors, params, outputs, related runs and events."""
    store = access.services.runs
    run = store.run_row(_run_id(run_id))
    attempts, attempt_count, events = store.run_timeline(
        run.run_id, steps=MAX_ATTEMPTS, events=MAX_EVENTS
    )
    rows, _ = timeline_rows(attempts, access.services.clock.now())
    drawn = sum(1 for row in rows for span in row.spans if span.kind != "gap")
    failed = [a for a in attempts if a.error]
    return render(
        request,
        "run.html",
        {
            "title": f"Run {run.run_id}",
            "run": run,
            "chart": gantt(rows, label=f"Steps and attempts of run {run.run_id} over time")
            if rows
            else None,
            "chart_rows": len(rows),
            "drawn_attempts": drawn,
            "attempt_count": attempt_count,
            "failed_attempts": failed[:MAX_FAILURES],
            "more_failures": len(failed) > MAX_FAILURES or attempt_count > len(attempts),
            "events": events,
            "max_events": MAX_EVENTS,
            "children": store.child_runs(run.run_id, MAX_CHILDREN),
            "params_json": _pretty(run.params),
            "outputs_json": _pretty(run.outputs),
            "can_cancel": run.status in _ACTIVE,
            "can_retry": run.status in _RETRYABLE,
        },
    )


@router.post("/runs/{run_id}/cancel")
def cancel_run(access: Editor, run_id: str) -> RedirectResponse:
    """Cancel a run and its active child runs (as ``spine runs cancel``)."""
    run = access.services.runs.request_cancel(_run_id(run_id))
    if run.status is WorkflowStatus.CANCELLED:
        message = f"Run {run.run_id} cancelled."
    else:
        message = f"Run {run.run_id} will be cancelled before its next step."
    return redirect(f"{PREFIX}/runs/{run.run_id}", flash=message)


@router.post("/runs/{run_id}/retry")
def retry_run(access: Editor, run_id: str) -> RedirectResponse:
    """Start the workflow again with the run's params and partition: a new run."""
    old = access.services.runs.run_row(_run_id(run_id))
    if old.status not in _RETRYABLE:
        raise Conflict(f"run {old.run_id} is {old.status.value}: only a failed or cancelled run")
    new = access.services.runner().submit(
        old.workflow_name, old.params, partition_key=old.partition_key, triggered_by="manual"
    )
    return redirect(
        f"{PREFIX}/runs/{new.run_id}",
        flash=f"Started run {new.run_id}, a retry of {old.run_id}; a worker runs it "
        "(spine worker).",
    )


def _run_id(run_id: str) -> str:
    """``run_id`` as stored (ULIDs are upper case); one too long is no run's id."""
    if not 0 < len(run_id) <= _ID_LENGTH:
        raise RunNotFound(run_id[:64])
    return run_id.upper()


def _time(value: str | None, name: str) -> datetime | None:
    """A time typed in the form (``2026-12-01`` or ISO-8601); without a zone it is UTC."""
    if not value or not value.strip():
        return None
    text = value.strip().replace(" ", "T")
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise InvalidInput(
            f"{name}: {value!r} is not a time; write 2026-12-01 or 2026-12-01T08:00Z"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _cursor_of(created_at: datetime, run_id: str) -> str:
    return f"{created_at.astimezone(UTC).isoformat()}~{run_id}"


def _cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    at, _, run_id = value.partition("~")
    try:
        if not 0 < len(run_id) <= _ID_LENGTH:
            raise ValueError(run_id)
        return datetime.fromisoformat(at).astimezone(UTC), run_id
    except ValueError:
        raise InvalidInput("this page link is not valid: start again from the first page") from None


def _pretty(value: Any) -> str | None:
    return json.dumps(value, indent=2, sort_keys=True, default=str) if value else None
