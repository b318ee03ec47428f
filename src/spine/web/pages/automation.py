"""The automation pages (spec 003): rules with their last executions, one execution, the tester.

Every page reads through ``access.services.automation``, the services the API's
``/automation`` routes and ``spine automation`` call. The rules page costs two queries
whatever the number of rules: the rules, then their newest executions in one
(:meth:`~spine.automation.executions.ExecutionService.latest_by_rule`). Alerts for
people are in :mod:`spine.web.pages.automation_alerts`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from spine.automation.models import Execution, FieldCondition, Operator, Rule, TriggerType
from spine.core.errors import InvalidInput
from spine.web.access import PREFIX, Editor, Viewer
from spine.web.charts.sparkline import sparkline
from spine.web.pages import automation_alerts
from spine.web.rendering import redirect, render

router = APIRouter()
router.include_router(automation_alerts.router)

#: Executions read per rule: the sparkline's points; the table shows the first few.
_PER_RULE = 10
_SHOWN = 3
#: Executions of the "recent" list per page.
_RECENT = 20
#: Rules per page.
_RULES = 100

_WORDS = {
    Operator.EQUALS: "is",
    Operator.NOT_EQUALS: "is not",
    Operator.CHANGED_FROM: "changed from",
    Operator.CHANGED_TO: "changed to",
    Operator.GREATER_THAN: ">",
    Operator.LESS_THAN: "<",
    Operator.CONTAINS: "contains",
    Operator.IN: "in",
}


def condition_text(condition: FieldCondition) -> str:
    """One condition as a person reads it: ``status changed to "shipped"``."""
    value = (
        condition.previous_value if condition.operator is Operator.CHANGED_FROM else condition.value
    )
    return f"{condition.field_name} {_WORDS[condition.operator]} {json.dumps(value)}"


def conditions_summary(rule: Rule) -> str:
    """All of a rule's conditions (they are ANDed), or "every change" when it has none."""
    if not rule.conditions:
        return "every change"
    return " and ".join(condition_text(c) for c in rule.conditions)


@dataclass(frozen=True, slots=True)
class RuleRow:
    """A rule on the rules page, with its newest executions (newest first)."""

    rule: Rule
    conditions: str
    executions: Sequence[Execution]
    chart: Markup | None

    @property
    def shown(self) -> Sequence[Execution]:
        """The executions the table lists."""
        return self.executions[:_SHOWN]


def durations_chart(rule: Rule, executions: Sequence[Execution]) -> Markup | None:
    """A sparkline of the executions' durations, oldest first (``None`` for fewer than 2)."""
    timed = [e for e in reversed(executions) if e.execution_time_ms is not None]
    if len(timed) < 2:
        return None
    values = [float(e.execution_time_ms or 0) for e in timed]
    return sparkline(
        values,
        label=f"durations of the last {len(values)} executions of {rule.name}",
        high=max(values) or 1.0,
        names=[f"{e.status.value} at {e.executed_at:%Y-%m-%d %H:%M:%S} UTC, ms" for e in timed],
    )


@router.get("/automation", response_class=HTMLResponse)
def automation(
    request: Request,
    access: Viewer,
    after: str | None = None,
    rules_after: Annotated[str | None, Query(max_length=255)] = None,
) -> HTMLResponse:
    """Rules (trigger, conditions) with their last executions, and the newest executions.

    Rules come by name, :data:`_RULES` a page (``rules_after``: the last name shown);
    executions newest first, :data:`_RECENT` a page (``after``: the last id shown).
    """
    service = access.services.automation
    named = sorted(service.rules.rules(), key=lambda r: r.name)
    following = [r for r in named if rules_after is None or r.name > rules_after]
    rules = following[:_RULES]
    rules_cursor = rules[-1].name if len(following) > _RULES else None
    latest = service.executions.latest_by_rule([r.id for r in rules], per_rule=_PER_RULE)
    rows = [
        RuleRow(
            rule=rule,
            conditions=conditions_summary(rule),
            executions=latest[rule.id],
            chart=durations_chart(rule, latest[rule.id]),
        )
        for rule in rules
    ]
    recent = service.executions.executions(limit=_RECENT + 1, after=after)
    cursor = str(recent[_RECENT - 1].id) if len(recent) > _RECENT else None
    return render(
        request,
        "automation.html",
        {
            "title": "Automation",
            "rows": rows,
            "recent": recent[:_RECENT],
            "cursor": cursor,
            "rules_cursor": rules_cursor,
        },
    )


@router.post("/automation/rules/{rule_id}/enable")
def enable_rule(rule_id: str, access: Editor) -> RedirectResponse:
    """Make a rule answer changes again."""
    rule = access.services.automation.rules.enable(rule_id)
    return redirect(f"{PREFIX}/automation", flash=f"Rule {rule.name} is enabled.")


@router.post("/automation/rules/{rule_id}/disable")
def disable_rule(rule_id: str, access: Editor) -> RedirectResponse:
    """Make a rule answer no change until enabled."""
    rule = access.services.automation.rules.disable(rule_id)
    return redirect(f"{PREFIX}/automation", flash=f"Rule {rule.name} is disabled.")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of the change an execution answered: its old and new values."""

    name: str
    old: str
    new: str
    changed: bool


def field_changes(trigger_data: Mapping[str, Any]) -> list[FieldChange]:
    """The fields of an execution's change, in the order the rows name them."""
    old = trigger_data.get("old") or {}
    new = trigger_data.get("new") or {}
    names = list(dict.fromkeys([*new, *old]))

    def shown(row: Mapping[str, Any], name: str) -> str:
        return json.dumps(row[name], default=str) if name in row else "\u2014"

    return [
        FieldChange(
            name=name,
            old=shown(old, name),
            new=shown(new, name),
            changed=bool(old) and bool(new) and old.get(name) != new.get(name),
        )
        for name in names
    ]


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@router.get("/automation/executions/{execution_id}", response_class=HTMLResponse)
def execution(request: Request, execution_id: str, access: Viewer) -> HTMLResponse:
    """One execution: its rule, the change it answered, each action's outcome in order."""
    service = access.services.automation
    found = service.executions.execution(execution_id)
    actions = sorted(
        found.actions_executed,
        key=lambda a: (int(a.get("execution_order") or 0), str(a.get("name") or "")),
    )
    deliveries = service.executions.deliveries(found)
    attempts: dict[str, int] = {}
    for delivery in deliveries:
        key = str(delivery.action_id)
        attempts[key] = attempts.get(key, 0) + delivery.attempts
    return render(
        request,
        "execution.html",
        {
            "title": f"Execution of {found.rule_name}",
            "execution": found,
            "actions": actions,
            "deliveries": deliveries,
            "attempts": attempts,
            "fields": field_changes(found.trigger_data),
            "as_json": _json,
        },
    )


def example_event(rule: Rule | None) -> str:
    """An event of the shape the rule's trigger needs, to edit in the tester."""
    fields: dict[str, Any] = {"id": 1}
    fields.update({c.field_name: "" for c in rule.conditions} if rule else {"status": ""})
    trigger = rule.trigger if rule else TriggerType.ON_UPDATE
    if trigger is TriggerType.ON_UPDATE:
        event: dict[str, Any] = {"operation": "update", "old": fields, "new": fields}
    elif trigger is TriggerType.ON_DELETE:
        event = {"operation": "delete", "old": fields}
    elif trigger is TriggerType.SCHEDULED:
        event = {"operation": "scheduled", "new": fields}
    else:
        event = {"operation": "insert", "new": fields}
    return json.dumps(event, indent=2)


def _tester(
    request: Request,
    access: Viewer,
    *,
    rule_ref: str | None,
    event: str | None,
    verdict: Mapping[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rules = access.services.automation.rules.rules()
    chosen = next((r for r in rules if rule_ref in (r.name, str(r.id))), None)
    if chosen is None and rule_ref is None and rules:
        chosen = rules[0]
    return render(
        request,
        "automation_test.html",
        {
            "title": "Test a rule",
            "rules": rules,
            "chosen": chosen,
            "event": event if event is not None else example_event(chosen),
            "verdict": verdict,
            "error": error,
            "as_json": _json,
        },
        status_code=status_code,
    )


@router.get("/automation/test", response_class=HTMLResponse)
def tester(request: Request, access: Viewer, rule: str | None = None) -> HTMLResponse:
    """The rule tester: pick a rule, paste an event."""
    return _tester(request, access, rule_ref=rule, event=None)


@router.post("/automation/test", response_class=HTMLResponse)
def run_tester(
    request: Request,
    access: Viewer,
    rule: Annotated[str, Form(max_length=255)],
    event: Annotated[str, Form(max_length=100_000)],
) -> HTMLResponse:
    """What the rule would do for the event (``spine automation test``): nothing is done.

    A read session may test (it changes nothing), as the API's ``rules/{id}/test``
    allows; a malformed event is shown on the page with a 400.
    """
    try:
        parsed = json.loads(event)
    except json.JSONDecodeError as bad:
        message = f"the event is not valid JSON: {bad.msg} (line {bad.lineno}, column {bad.colno})"
        return _tester(request, access, rule_ref=rule, event=event, error=message, status_code=400)
    try:
        verdict = access.services.automation.rules.test(rule, parsed).to_dict()
    except InvalidInput as refused:
        return _tester(
            request, access, rule_ref=rule, event=event, error=str(refused), status_code=400
        )
    return _tester(request, access, rule_ref=rule, event=event, verdict=verdict)
