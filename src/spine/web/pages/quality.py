"""The quality pages: checks with their latest result, one check's series, incidents.

Everything is read through the quality service the API uses (``access.services.quality``):
a page of checks costs three bounded statements (the page with each check's newest
result, then the page's results and failures per day, from the indexes only), never one
per check; the pass rate by table, which reads every result of its window, has its own
page (``/ui/checks/tables``). Actions are the CLI's and
the API's: "Run now" runs the check in this process as ``spine checks run NAME`` does
(docs/decisions.md says why not a queued job), acknowledging and resolving an incident
as ``spine incidents ack|resolve`` do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from spine.quality.models import CheckDefinition, CheckResult, exact_number
from spine.quality.rules import thresholds
from spine.quality.store import CheckRow
from spine.web.access import PREFIX, Editor, Viewer
from spine.web.charts import BandPoint, Point, Threshold, series, sparkline
from spine.web.rendering import redirect, render

router = APIRouter()

#: Checks a page of the list shows.
PAGE = 50
#: The days of pass rates on the list and by table.
DAYS = 30
#: The default window of the pass rate by table (the summary's): it reads every result in it.
TABLE_DAYS = 7
#: Results the check page draws (newest ones) and lists.
SERIES_RESULTS = 200
RECENT_RESULTS = 20
_STATUSES = ("passed", "failed", "never")


def _blank(value: str | None) -> str | None:
    """A filter's value, ``None`` when the form left it empty."""
    return value.strip() or None if value is not None else None


def value_text(value: Any) -> str:
    """A sensor value as a person reads it: exact, thousands separated when whole."""
    number = exact_number(value)
    if number is None:
        return "\u2014"
    if isinstance(number, int):
        return f"{number:,}"
    return str(number)


def _status(result: CheckResult | None) -> str:
    """``passed``, ``failed`` or ``never`` (ran): the status badge's word."""
    if result is None:
        return "never"
    return "passed" if result.rule_passed else "failed"


def _verdict(result: CheckResult | None) -> str:
    """The status in words, with the severity a failure had."""
    if result is None or result.rule_passed or result.severity is None:
        return "never ran" if result is None else _status(result)
    return f"failed ({result.severity.value})"


def _why(result: CheckResult) -> str:
    """What explains a result: its error, the thresholds it failed, its anomaly verdict."""
    if result.error_message:
        return result.error_message
    details = result.details or {}
    reasons = [
        f"{f.get('severity')} {f.get('key')} {f.get('limit')}"
        for f in details.get("failed") or []
        if isinstance(f, dict)
    ]
    anomaly = details.get("anomaly")
    if isinstance(anomaly, dict):
        if anomaly.get("flagged"):
            reasons.append("outside the expected range")
        elif anomaly.get("reason"):
            reasons.append(str(anomaly["reason"]))
    if details.get("reason"):
        reasons.append(str(details["reason"]))
    return "; ".join(reasons)


def _trend(row: CheckRow, today: date) -> Markup | None:
    """The check's pass rate per day as a sparkline: one slot a day, a mark a day with results."""
    if not row.days:
        return None
    by_day = {d.day: d for d in row.days}
    slots = [(today - timedelta(days=back)).isoformat() for back in range(DAYS - 1, -1, -1)]
    values = [by_day[day].rate if day in by_day else None for day in slots]
    names = [
        f"{day} ({by_day[day].passed} of {by_day[day].total} passed)" if day in by_day else day
        for day in slots
    ]
    return sparkline(
        values,
        label=f"{row.check.name}: pass rate per day over {DAYS} days",
        names=names,
    )


@router.get("/checks", response_class=HTMLResponse)
def checks_page(
    request: Request,
    access: Viewer,
    status: Annotated[str | None, Query(max_length=20)] = None,
    table: Annotated[str | None, Query(max_length=511)] = None,
    connection: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=255)] = None,
) -> HTMLResponse:
    """A page of checks by name, with their latest result and their 30-day trend."""
    quality = access.services.quality
    status, table, connection = _blank(status), _blank(table), _blank(connection)
    found = quality.check_rows(
        days=DAYS,
        status=status,
        table=table,
        connection=connection,
        after=_blank(cursor),
        limit=PAGE + 1,
    )
    rows, more = found[:PAGE], len(found) > PAGE
    filtered = any((status, table, connection, cursor))
    today = access.services.clock.now().astimezone(UTC).date()
    context = {
        "title": "Checks",
        "rows": [
            {
                "row": row,
                "status": _status(row.latest),
                "severity": row.latest.severity.value
                if row.latest and row.latest.severity and not row.latest.rule_passed
                else None,
                "value": value_text(row.latest.sensor_value) if row.latest else "\u2014",
                "trend": _trend(row, today),
                "rate": _overall(row),
            }
            for row in rows
        ],
        "statuses": _STATUSES,
        "filters": {"status": status, "table": table, "connection": connection},
        "filtered": filtered,
        "next_cursor": rows[-1].check.name if more else None,
        "days": DAYS,
    }
    return render(request, "checks.html", context)


@router.get("/checks/tables", response_class=HTMLResponse)
def tables_page(
    request: Request,
    access: Viewer,
    days: Annotated[int, Query(ge=1, le=DAYS)] = TABLE_DAYS,
) -> HTMLResponse:
    """The pass rate of each watched table (a connection's table), worst first."""
    context = {
        "title": "Pass rate by table",
        "tables": access.services.quality.table_pass_rates(days=days),
        "days": days,
        "windows": (1, TABLE_DAYS, DAYS),
    }
    return render(request, "checks_tables.html", context)


def _overall(row: CheckRow) -> float | None:
    total = sum(d.total for d in row.days)
    return sum(d.passed for d in row.days) / total if total else None


@router.get("/checks/{check_id}", response_class=HTMLResponse)
def check_page(request: Request, check_id: str, access: Viewer) -> HTMLResponse:
    """One check: its series chart, definition, failed-row samples and recent results."""
    quality = access.services.quality
    check = quality.get_check(check_id)
    results = quality.results(str(check.id), limit=SERIES_RESULTS)
    connection = access.services.sources.connections.get(check.connection_name)
    context = {
        "title": f"Check {check.name}",
        "check": check,
        "chart": _series_chart(check, results) if results else None,
        "shown": len(results),
        "recent": [
            {"result": r, "status": _status(r), "value": value_text(r.sensor_value), "why": _why(r)}
            for r in results[:RECENT_RESULTS]
        ],
        "latest": results[0] if results else None,
        "incident": quality.open_incident(str(check.id)),
        "samples": _samples(results) if connection.allow_samples else None,
        "allow_samples": connection.allow_samples,
        "thresholds": _limits(check),
        "config": {k: v for k, v in check.config.items() if k not in _RULE_KEYS},
        "anomaly": check.config.get("anomaly"),
    }
    return render(request, "check.html", context)


_RULE_KEYS = frozenset({"min", "max", "equals", "warning", "error", "fatal", "anomaly"})


def _limits(check: CheckDefinition) -> list[Threshold]:
    """The check's thresholds as lines (``equals`` is drawn as a line too)."""
    return [
        Threshold(
            value=float(rule.limit),
            severity=rule.severity.value,
            label=f"{rule.severity.value} {rule.key} {value_text(rule.limit)}",
        )
        for rule in thresholds(check.config, check.severity)
    ]


def _series_chart(check: CheckDefinition, newest_first: Sequence[CheckResult]) -> Markup:
    results = list(reversed(newest_first))
    points = [
        Point(
            at=r.executed_at,
            value=None if r.sensor_value is None else float(r.sensor_value),
            failed=not r.rule_passed,
            label=f"{r.executed_at:%Y-%m-%d %H:%M} UTC: {value_text(r.sensor_value)}, "
            f"{_verdict(r)}",
        )
        for r in results
    ]
    band = []
    for r in results:
        anomaly = (r.details or {}).get("anomaly") or {}
        lower, upper = anomaly.get("lower"), anomaly.get("upper")
        if isinstance(lower, int | float) and isinstance(upper, int | float):
            band.append(BandPoint(at=r.executed_at, lower=float(lower), upper=float(upper)))
    return series(
        points,
        label=f"{check.name}: its values over time ({len(points)} results), with thresholds"
        + (" and the anomaly band" if band else ""),
        thresholds=_limits(check),
        band=band,
    )


def _samples(results: Sequence[CheckResult]) -> dict[str, Any] | None:
    """The failed rows kept by the newest failed result that kept some, as a table."""
    for result in results:
        rows = (result.details or {}).get("samples")
        if not result.rule_passed and isinstance(rows, list) and rows:
            columns: list[str] = []
            for row in rows:
                columns += [c for c in row if c not in columns]
            return {"result": result, "columns": columns, "rows": rows}
    return None


@router.post("/checks/{check_id}/run")
def run_check(check_id: str, access: Editor) -> RedirectResponse:
    """Run the check now, in this process, and come back to it with its new result."""
    quality = access.services.quality
    check = quality.get_check(check_id)
    [outcome] = quality.run_checks([str(check.id)], triggered_by="api")
    verdict = _verdict(outcome.result)
    value = value_text(outcome.result.sensor_value)
    message = f"Ran {check.name}: {value}, {verdict}."
    if outcome.result.error_message:
        message += f" {outcome.result.error_message}"
    return redirect(f"{PREFIX}/checks/{check.id}", flash=message)


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, access: Viewer) -> HTMLResponse:
    """Unresolved incidents by severity, with acknowledge and resolve; the latest resolved."""
    unresolved, resolved = access.services.quality.incident_board(resolved_limit=20)
    context = {"title": "Incidents", "unresolved": unresolved, "resolved": resolved}
    return render(request, "incidents.html", context)


@router.post("/incidents/{incident_id}/acknowledge")
def acknowledge_incident(
    incident_id: str,
    access: Editor,
    by: Annotated[str, Form(max_length=255)] = "",
    notes: Annotated[str, Form(max_length=4000)] = "",
) -> RedirectResponse:
    """Acknowledge an incident (``spine incidents ack ID --by NAME``)."""
    incident = access.services.quality.acknowledge(incident_id, by=by, notes=_blank(notes))
    return redirect(
        f"{PREFIX}/incidents",
        flash=f"Acknowledged the incident of {incident.check_name} "
        f"(by {incident.acknowledged_by}).",
    )


@router.post("/incidents/{incident_id}/resolve")
def resolve_incident(
    incident_id: str,
    access: Editor,
    notes: Annotated[str, Form(max_length=4000)] = "",
) -> RedirectResponse:
    """Resolve an incident by hand (``spine incidents resolve ID --notes TEXT``)."""
    incident = access.services.quality.resolve(incident_id, notes=_blank(notes))
    return redirect(f"{PREFIX}/incidents", flash=f"Resolved the incident of {incident.check_name}.")
