"""The overview: what is failing now, what is late, what runs next, and runs per day.

Every figure is a bounded read through a part's workspace-bound service, and links to
the page that explains it. Counts that could grow without limit (dead letters, open
incidents, schedules) are read up to :data:`CAP` and shown as "100+" beyond it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from spine.alerting.store import AlertStore
from spine.bootstrap import Services
from spine.web.access import Viewer
from spine.web.charts import stacked_bars
from spine.web.charts.svg import colour
from spine.web.rendering import render

router = APIRouter()

#: Days the runs-per-day chart shows, today included.
DAYS = 14
#: How far back "failing now" looks.
RECENT = timedelta(hours=24)
#: The most rows read for one count; more shows as "100+".
CAP = 100
#: Schedules read for "late" and "next" (a workspace has far fewer).
MAX_SCHEDULES = 1000
#: Next fires listed.
NEXT_FIRES = 5
#: The order of the chart's series, bottom up.
_SERIES = ("COMPLETED", "FAILED", "CANCELLED", "RUNNING", "PENDING")
_COLOURS = {name: colour(name) for name in _SERIES}
_LATE = frozenset({"MISSED", "SKIPPED"})
_UNRESOLVED_DLQ = ("pending", "retrying", "exhausted")


@dataclass(frozen=True, slots=True)
class Capped:
    """A count read up to a cap: ``shown`` is ``"100+"`` beyond it."""

    value: int
    capped: bool

    @property
    def shown(self) -> str:
        """The count as text."""
        return f"{self.value:,}+" if self.capped else f"{self.value:,}"


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, access: Viewer) -> HTMLResponse:
    """The overview page."""
    services = access.services
    now = services.clock.now().astimezone(UTC)
    since = now - RECENT
    chart, chart_total = _runs_per_day(services, now.date())
    alerts = services.alerting().store
    return render(
        request,
        "overview.html",
        {
            "title": "Overview",
            "now": now,
            "since_param": since.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "failed_runs": services.runs.run_statistics(since=since).failed,
            **_incidents(services),
            "dead_letters": _dead_letters(alerts),
            "open_breakers": [b for b in alerts.list_breakers() if b["state"] != "closed"],
            **_schedules(services),
            "sources": len(services.sources.list_sources(limit=CAP + 1)),
            "cap": CAP,
            "chart": chart,
            "chart_total": chart_total,
            "days": DAYS,
            "series": _COLOURS,
        },
    )


def _runs_per_day(services: Services, today: date) -> tuple[Markup, int]:
    first = today - timedelta(days=DAYS - 1)
    counts = services.runs.runs_per_day(first, today)
    days = [(first + timedelta(days=i)).isoformat() for i in range(DAYS)]
    series = {status: [counts.get(day, {}).get(status, 0) for day in days] for status in _SERIES}
    total = sum(sum(values) for values in series.values())
    label = f"Runs created per day over the last {DAYS} days, by status: {total:,} in all"
    return stacked_bars(days, series, label=label), total


def _incidents(services: Services) -> dict[str, Any]:
    """Open incidents by severity (worst first), and the acknowledged ones."""
    quality = services.quality
    opened = quality.list_incidents(status="open", limit=CAP + 1)
    acknowledged = quality.list_incidents(status="acknowledged", limit=CAP + 1)
    severities = Counter(i.severity for i in opened[:CAP])
    return {
        "open_incidents": Capped(min(len(opened), CAP), len(opened) > CAP),
        "incidents_by_severity": [
            (severity.value, severities[severity])
            for severity in sorted(severities, key=lambda s: -s.rank)
        ],
        "acknowledged_incidents": Capped(min(len(acknowledged), CAP), len(acknowledged) > CAP),
    }


def _dead_letters(store: AlertStore) -> Capped:
    total = sum(len(store.list_dead_letters(s, limit=CAP + 1)) for s in _UNRESOLVED_DLQ)
    return Capped(min(total, CAP), total > CAP)


def _schedules(services: Services) -> dict[str, Any]:
    """Schedules whose latest fire was missed or skipped, and the next fires."""
    schedules = services.schedules.page(after_id=None, limit=MAX_SCHEDULES)
    late = [s for s in schedules if s.last_run_status in _LATE]
    upcoming = sorted(
        (s for s in schedules if s.enabled and s.next_run_at is not None),
        key=lambda s: s.next_run_at or datetime.max.replace(tzinfo=UTC),
    )
    return {
        "schedule_count": len(schedules),
        "late_schedules": late[: NEXT_FIRES * 2],
        "late_count": len(late),
        "next_fires": upcoming[:NEXT_FIRES],
    }
