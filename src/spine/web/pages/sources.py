"""The sources pages: each source's fetch history with change detection, and a chart of it.

Read through the sources part's service bound to the session's workspace
(``access.services.sources``, the one the API and ``spine sources`` call). The list is a
keyset page of sources by name with their latest fetches read in one query for the
page; a source's own page lists its fetches in keyset pages. A fetch is *changed* when
its content hash differs from the fetch before it: that is what SUCCESS (new content)
and UNCHANGED (same hash, or not modified) record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from spine.sources.store import Ref
from spine.web.access import PREFIX, Editor, Viewer
from spine.web.charts import TimelineMark, timeline
from spine.web.rendering import redirect, render

router = APIRouter()

#: Sources a page; fetches charted with each; fetches listed with each.
PAGE = 20
CHARTED = 30
LISTED = 5
#: Fetches a page on a source's own page.
FETCHES_PAGE = 50
#: Characters of a content hash shown (the whole hash is in the title).
HASH_SHOWN = 12


@dataclass(frozen=True, slots=True)
class Fetch:
    """A fetch row as a page shows it."""

    row: dict[str, Any]
    #: Whether its content hash differs from the fetch before it (``None``: unknown,
    #: the one before is not on this page, or either has no hash).
    changed: bool | None

    @property
    def short_hash(self) -> str | None:
        """The content hash's first characters."""
        digest = self.row.get("content_hash")
        return digest[:HASH_SHOWN] if digest else None


def with_changes(rows: Sequence[dict[str, Any]]) -> list[Fetch]:
    """Fetch rows (newest first), each marked changed or not against the one after it."""
    fetches = []
    for i, row in enumerate(rows):
        older = rows[i + 1] if i + 1 < len(rows) else None
        mine, theirs = row.get("content_hash"), older.get("content_hash") if older else None
        changed = None if not (mine and theirs) else mine != theirs
        fetches.append(Fetch(row=row, changed=changed))
    return fetches


def human_bytes(size: int | None) -> str:
    """A size read at a glance: ``512 B``, ``1.5 KB``, ``3.2 MB``."""
    if size is None:
        return "\u2014"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns at GB


def fetch_chart(name: str, rows: Sequence[dict[str, Any]], *, large: bool = False) -> Markup:
    """The timeline of a source's fetches (rows newest first; drawn oldest first)."""
    marks = [
        TimelineMark(
            status=str(row["status"]),
            size=row.get("byte_count"),
            text=(
                f"{_utc(row['started_at'])}: {row['status']}, {human_bytes(row.get('byte_count'))}"
                + (f", {row['content_hash'][:HASH_SHOWN]}" if row.get("content_hash") else "")
            ),
        )
        for row in reversed(rows)
    ]
    return timeline(marks, label=f"The last {len(marks)} fetches of {name}", large=large)


def _utc(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


@router.get("/sources", response_class=HTMLResponse)
def sources_page(
    request: Request,
    access: Viewer,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """The workspace's sources, each with its latest fetches and their chart."""
    service = access.services.sources
    found = service.list_sources(after=cursor, limit=PAGE + 1)
    shown = found[:PAGE]
    history = service.latest_fetches([s.id for s in shown], CHARTED)
    rows = [
        (s, fetch_chart(s.name, history[s.id]), with_changes(history[s.id])[:LISTED]) for s in shown
    ]
    return render(
        request,
        "sources.html",
        {
            "title": "Sources",
            "rows": rows,
            "next_cursor": shown[-1].name if len(found) > PAGE else None,
            "human_bytes": human_bytes,
        },
    )


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source_page(
    request: Request,
    access: Viewer,
    source_id: str,
    before: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """One source: its definition and every fetch, newest first, with their chart."""
    service = access.services.sources
    source = service.get(Ref.id(source_id))
    rows = service.fetches(Ref.id(source.id), FETCHES_PAGE + 1, before=before or None)
    fetches = with_changes(rows)[:FETCHES_PAGE]
    shown = rows[:FETCHES_PAGE]
    return render(
        request,
        "source.html",
        {
            "title": f"Source {source.name}",
            "source": source,
            "chart": fetch_chart(source.name, shown, large=True),
            "fetches": fetches,
            "next_cursor": shown[-1]["id"] if len(rows) > FETCHES_PAGE else None,
            "human_bytes": human_bytes,
        },
    )


@router.post("/sources/{source_id}/fetch")
def fetch_now(access: Editor, source_id: str) -> RedirectResponse:
    """Fetch the source now (as ``spine sources fetch``): a new row of its history."""
    service = access.services.sources
    source = service.get(Ref.id(source_id))
    result = service.fetch(Ref.id(source.id))
    return redirect(
        f"{PREFIX}/sources/{source.id}", flash=f"Fetched {source.name}: {result.status.value}."
    )
