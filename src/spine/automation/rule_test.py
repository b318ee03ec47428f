"""``spine automation test RULE --event JSON``: would this event fire the rule, and how.

No side effect: the event is made into a :class:`~spine.automation.models.Change` of the
rule's table, matched (:mod:`spine.automation.conditions`) condition by condition, and
each action's config is merged with its template's and rendered as the dispatcher would.

The event: ``{"operation": "insert|update|delete", "old": {...}|null, "new": {...}|null}``;
``"trigger": "on_update"`` may stand for ``operation`` (``scheduled`` tests a scheduled
rule's row, given as ``new``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spine.automation.conditions import evaluate, trigger_fits
from spine.automation.models import (
    ActionTemplate,
    Change,
    ConditionVerdict,
    Operation,
    Rule,
    TriggerType,
)
from spine.automation.templating import merge_config, render_config, template_names
from spine.core.errors import InvalidInput

__all__ = ["ActionPreview", "RuleTest", "event_change", "run_test"]

_OPERATION_OF = {operation.trigger: operation for operation in Operation}


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionPreview:
    """An action as it would run for the event: its config merged and rendered."""

    name: str
    action_type: str
    execution_order: int
    config: Mapping[str, Any] | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``name``, ``action_type``, ``execution_order``, ``config`` (and ``error``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "action_type": self.action_type,
            "execution_order": self.execution_order,
            "config": None if self.config is None else dict(self.config),
        }
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleTest:
    """What a rule would do for one event."""

    rule: Rule
    change: Change
    trigger_matched: bool
    conditions: tuple[ConditionVerdict, ...]
    actions: tuple[ActionPreview, ...]

    @property
    def matched(self) -> bool:
        """Whether the rule would fire: its trigger fits and every condition holds."""
        return self.trigger_matched and all(v.matched for v in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        """``rule``, ``matched``, ``trigger_matched``, ``conditions``, ``actions``."""
        return {
            "rule": self.rule.name,
            "matched": self.matched,
            "trigger_matched": self.trigger_matched,
            "trigger": self.rule.trigger.value,
            "operation": self.change.operation.value,
            "conditions": [
                {**v.condition.to_dict(), "matched": v.matched, "reason": v.reason}
                for v in self.conditions
            ],
            "actions": [action.to_dict() for action in self.actions],
        }


def event_change(rule: Rule, event: Any) -> Change:
    """The change of ``rule``'s table that ``event`` describes.

    Raises:
        InvalidInput: If the event is not of the documented shape.
    """
    if not isinstance(event, Mapping):
        raise InvalidInput('event: expected an object like {"operation": "update", ...}')
    for key in event:
        if key not in ("operation", "trigger", "old", "new"):
            raise InvalidInput(f"event.{key}: unknown key (expected operation, old, new)")
    operation = _operation(event)
    old, new = _row(event, "old"), _row(event, "new")
    if operation in (Operation.INSERT, Operation.SCHEDULED):
        old = None
        if new is None:
            raise InvalidInput(f"event.new: {operation.value} needs the new row")
    elif operation is Operation.DELETE:
        new = None
        if old is None:
            raise InvalidInput("event.old: delete needs the old row")
    elif old is None or new is None:
        raise InvalidInput("event: update needs the old and the new row")
    return Change(
        position=0,
        table_name=rule.entity,
        schema_name=None,
        operation=operation,
        old=old,
        new=new,
        rule_id=rule.id if operation is Operation.SCHEDULED else None,
    )


def run_test(rule: Rule, event: Any, templates: Mapping[uuid.UUID, ActionTemplate]) -> RuleTest:
    """What ``rule`` would do for ``event`` (``templates``: the actions' templates by id)."""
    change = event_change(rule, event)
    names = template_names(change, rule)
    previews = []
    for action in rule.actions:
        template = templates.get(action.template_id) if action.template_id else None
        merged = merge_config(template.default_config if template else None, action.config)
        try:
            config: Mapping[str, Any] | None = render_config(merged, names)
            error = None
        except InvalidInput as failure:
            config, error = None, str(failure)
        previews.append(
            ActionPreview(
                name=action.name,
                action_type=action.action_type.value,
                execution_order=action.execution_order,
                config=config,
                error=error,
            )
        )
    return RuleTest(
        rule=rule,
        change=change,
        trigger_matched=trigger_fits(rule, change),
        conditions=evaluate(rule.conditions, change),
        actions=tuple(previews),
    )


def _operation(event: Mapping[str, Any]) -> Operation:
    raw = event.get("operation")
    if raw is not None:
        try:
            return Operation(raw)
        except ValueError:
            options = ", ".join(o.value for o in Operation)
            raise InvalidInput(f"event.operation: unknown {raw!r} (expected {options})") from None
    trigger = event.get("trigger")
    if trigger is None:
        raise InvalidInput("event.operation: required (insert, update, delete)")
    try:
        return _OPERATION_OF[TriggerType(trigger)]
    except ValueError:
        options = ", ".join(t.value for t in TriggerType)
        raise InvalidInput(f"event.trigger: unknown {trigger!r} (expected {options})") from None


def _row(event: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = event.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput(f"event.{key}: expected an object (the row) or null")
    return {str(k): v for k, v in value.items()}
