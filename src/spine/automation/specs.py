"""A rule as people write it (one item of the YAML ``rules:`` list, or the API's JSON).

:func:`parse_rule` checks a spec's shape and reads it into a :class:`RuleSpec`
(:func:`parse_template` likewise for ``templates:``); whether it fits the workspace
(a watched table, its columns, known templates and parents, a handler's own checks) is
:mod:`spine.automation.validation`'s concern. :func:`rule_to_dict` gives a saved rule
back in the same shape, so that what ``rules show --json`` prints can be applied again.

A spec is the truth for its rule: a key left out takes its default (no conditions, no
parents, active), so that applying one document twice finds nothing to change.

Every refusal is one :class:`~spine.core.errors.InvalidInput` line naming the rule, the
field and the problem: ``rule 'shipped': conditions[0].operator: unknown operator 'is'``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from spine.automation.models import (
    ActionTemplate,
    ActionType,
    FieldCondition,
    Operator,
    Rule,
    RuleAction,
    Schedule,
    TriggerType,
)
from spine.core.errors import InvalidInput
from spine.scheduling.cron import CronExpression, next_fire_times, zone

__all__ = [
    "ActionSpec",
    "RuleSpec",
    "TemplateSpec",
    "next_fire_at",
    "parse_rule",
    "parse_template",
    "rule_to_dict",
    "spec_values",
    "template_to_dict",
]

RULE_KEYS = (
    "name",
    "description",
    "entity",
    "trigger",
    "cron",
    "timezone",
    "max_rows",
    "conditions",
    "depends_on",
    "is_active",
    "actions",
)
ACTION_KEYS = ("name", "type", "execution_order", "template", "config", "description")
TEMPLATE_KEYS = ("name", "action_type", "default_config", "description")
CONDITION_KEYS = ("field_name", "operator", "value", "previous_value")
#: Where an action's type is kept in ``rule_actions.action_config`` (spec 003's table has
#: no column for it); an action's own config may not use the key.
ACTION_TYPE_KEY = "action_type"
#: The rows one fire of a scheduled rule selects at most, unless it says.
DEFAULT_MAX_ROWS = 1000
#: The most rows one fire of a scheduled rule may select.
MAX_ROWS_LIMIT = 100_000
_MAX_NAME = 255
_SCALARS = (str, int, float, bool, type(None))
_E = TypeVar("_E", TriggerType, ActionType, Operator)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionSpec:
    """One action of a rule spec (``actions[]``)."""

    name: str
    action_type: ActionType
    execution_order: int
    config: dict[str, Any]
    template: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSpec:
    """One rule as declared, defaults applied, shape checked."""

    name: str
    entity: str
    trigger: TriggerType
    conditions: tuple[FieldCondition, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    depends_on: tuple[str, ...] = ()
    description: str | None = None
    is_active: bool = True
    schedule: Schedule | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateSpec:
    """One action template as declared (``templates[]``)."""

    name: str
    action_type: ActionType
    default_config: dict[str, Any]
    description: str | None = None


def parse_rule(raw: Any) -> RuleSpec:
    """Read one rule spec.

    Raises:
        InvalidInput: One line naming the rule, the field and what is wrong.
    """
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"a rule must be a mapping, not {_kind(raw)}")
    name = _name(raw.get("name"), "rule")
    try:
        return _parse_rule(name, raw)
    except InvalidInput as error:
        raise InvalidInput(f"rule {name!r}: {error}") from None


def parse_template(raw: Any) -> TemplateSpec:
    """Read one action template spec.

    Raises:
        InvalidInput: One line naming the template, the field and what is wrong.
    """
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"a template must be a mapping, not {_kind(raw)}")
    name = _name(raw.get("name"), "template")
    try:
        _keys(raw, TEMPLATE_KEYS, "")
        return TemplateSpec(
            name=name,
            action_type=_choice(raw.get("action_type"), ActionType, "action_type"),
            default_config=_mapping(raw.get("default_config"), "default_config"),
            description=_text(raw.get("description"), "description"),
        )
    except InvalidInput as error:
        raise InvalidInput(f"template {name!r}: {error}") from None


def _parse_rule(name: str, raw: Mapping[str, Any]) -> RuleSpec:
    _keys(raw, RULE_KEYS, "")
    entity = _text(raw.get("entity"), "entity")
    if not entity:
        raise InvalidInput("entity: a watched table is required")
    trigger = _choice(raw.get("trigger"), TriggerType, "trigger")
    schedule = _schedule(raw, trigger)
    conditions = tuple(
        _condition(item, f"conditions[{index}]")
        for index, item in enumerate(_list(raw.get("conditions"), "conditions"))
    )
    actions = tuple(
        _action(item, index) for index, item in enumerate(_list(raw.get("actions"), "actions"))
    )
    seen: set[str] = set()
    for index, action in enumerate(actions):
        if action.name in seen:
            raise InvalidInput(f"actions[{index}].name: {action.name!r} is used twice")
        seen.add(action.name)
    parents = []
    for index, parent in enumerate(_list(raw.get("depends_on"), "depends_on")):
        parents.append(_name(parent, f"depends_on[{index}]", prefix=False))
    is_active = raw.get("is_active", True)
    if not isinstance(is_active, bool):
        raise InvalidInput(f"is_active: expected true or false, not {_kind(is_active)}")
    return RuleSpec(
        name=name,
        entity=entity,
        trigger=trigger,
        conditions=conditions,
        actions=actions,
        depends_on=tuple(dict.fromkeys(parents)),
        description=_text(raw.get("description"), "description"),
        is_active=is_active,
        schedule=schedule,
    )


def _schedule(raw: Mapping[str, Any], trigger: TriggerType) -> Schedule | None:
    cron = raw.get("cron")
    if trigger is not TriggerType.SCHEDULED:
        for key in ("cron", "timezone", "max_rows"):
            if raw.get(key) is not None:
                raise InvalidInput(f"{key}: only a scheduled rule has one")
        return None
    if not isinstance(cron, str) or not cron.strip():
        raise InvalidInput("cron: a scheduled rule needs a cron expression")
    tz = raw.get("timezone") or "UTC"
    if not isinstance(tz, str):
        raise InvalidInput(f"timezone: expected text, not {_kind(tz)}")
    try:
        CronExpression.parse(cron)
    except InvalidInput as error:
        raise InvalidInput(f"cron: {error}") from None
    try:
        zone(tz)
    except InvalidInput as error:
        raise InvalidInput(f"timezone: {error}") from None
    max_rows = raw.get("max_rows")
    if max_rows is None:
        max_rows = DEFAULT_MAX_ROWS
    if isinstance(max_rows, bool) or not isinstance(max_rows, int):
        raise InvalidInput(f"max_rows: expected a whole number, not {_kind(max_rows)}")
    if not 1 <= max_rows <= MAX_ROWS_LIMIT:
        raise InvalidInput(f"max_rows: must be between 1 and {MAX_ROWS_LIMIT}, not {max_rows}")
    return Schedule(cron=cron.strip(), timezone=tz.strip(), max_rows=max_rows)


def _condition(raw: Any, where: str) -> FieldCondition:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where}: a condition must be a mapping, not {_kind(raw)}")
    _keys(raw, CONDITION_KEYS, f"{where}.")
    field_name = raw.get("field_name")
    if not isinstance(field_name, str) or not field_name:
        raise InvalidInput(f"{where}.field_name: a column name is required")
    operator = _choice(raw.get("operator"), Operator, f"{where}.operator")
    value = raw.get("value")
    if operator is Operator.CHANGED_FROM:
        if "previous_value" not in raw:
            raise InvalidInput(f"{where}.previous_value: changed_from needs a previous_value")
        previous = raw.get("previous_value")
        if not isinstance(previous, _SCALARS):
            raise InvalidInput(f"{where}.previous_value: expected one value, not a list or mapping")
        return FieldCondition(field_name=field_name, operator=operator, previous_value=previous)
    if "value" not in raw:
        raise InvalidInput(f"{where}.value: {operator.value} needs a value")
    if raw.get("previous_value") is not None:
        raise InvalidInput(f"{where}.previous_value: only changed_from has one")
    if operator is Operator.IN:
        if not isinstance(value, list):
            raise InvalidInput(f"{where}.value: in needs a list, not {_kind(value)}")
        if not all(isinstance(item, _SCALARS) for item in value):
            raise InvalidInput(f"{where}.value: the items of in must be single values")
    elif not isinstance(value, _SCALARS):
        raise InvalidInput(f"{where}.value: {operator.value} needs one value, not {_kind(value)}")
    return FieldCondition(field_name=field_name, operator=operator, value=value)


def _action(raw: Any, index: int) -> ActionSpec:
    where = f"actions[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where}: an action must be a mapping, not {_kind(raw)}")
    _keys(raw, ACTION_KEYS, f"{where}.")
    name = _name(raw.get("name"), f"{where}.name", prefix=False)
    order = raw.get("execution_order", index + 1)
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise InvalidInput(f"{where}.execution_order: expected a whole number from 1")
    config = _mapping(raw.get("config"), f"{where}.config")
    if ACTION_TYPE_KEY in config:
        raise InvalidInput(
            f"{where}.config.{ACTION_TYPE_KEY}: reserved (the action's type is type)"
        )
    template = raw.get("template")
    if template is not None and (not isinstance(template, str) or not template):
        raise InvalidInput(f"{where}.template: expected a template's name")
    return ActionSpec(
        name=name,
        action_type=_choice(raw.get("type"), ActionType, f"{where}.type"),
        execution_order=order,
        config=config,
        template=template,
        description=_text(raw.get("description"), f"{where}.description"),
    )


# -- back to the spec's shape -------------------------------------------------------------


def spec_values(rule: Rule | RuleSpec) -> dict[str, Any]:
    """The declared fields of a saved rule or a spec, in the YAML shape (diffs, audit)."""
    schedule = rule.schedule
    return {
        "name": rule.name,
        "description": rule.description,
        "entity": rule.entity,
        "trigger": rule.trigger.value,
        "cron": schedule.cron if schedule else None,
        "timezone": schedule.timezone if schedule else None,
        "max_rows": schedule.max_rows if schedule else None,
        "conditions": [condition.to_dict() for condition in rule.conditions],
        "depends_on": sorted(rule.depends_on),
        "is_active": rule.is_active,
        "actions": [
            {
                "name": action.name,
                "type": action.action_type.value,
                "execution_order": action.execution_order,
                "template": action.template,
                "config": dict(action.config),
                "description": action.description,
            }
            for action in _ordered(rule.actions)
        ],
    }


def _ordered(actions: Sequence[RuleAction | ActionSpec]) -> list[RuleAction | ActionSpec]:
    return sorted(actions, key=lambda action: (action.execution_order, action.name))


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """A saved rule as JSON: its spec's shape plus ``id``, ``workspace_id``, dates.

    Scheduled rules add ``next_fire_at``; each action adds its ``id``.
    """
    out = spec_values(rule)
    ids = {action.name: str(action.id) for action in rule.actions}
    for action in out["actions"]:
        action["id"] = ids[action["name"]]
    out.update(
        id=str(rule.id),
        workspace_id=str(rule.workspace_id),
        created_date=_iso(rule.created_date),
        updated_date=_iso(rule.updated_date),
        next_fire_at=_iso(rule.next_fire_at),
    )
    return out


def template_values(template: ActionTemplate | TemplateSpec) -> dict[str, Any]:
    """A template's declared fields (diffs, audit)."""
    return {
        "name": template.name,
        "action_type": template.action_type.value,
        "default_config": dict(template.default_config),
        "description": template.description,
    }


def template_to_dict(template: ActionTemplate) -> dict[str, Any]:
    """A saved template as JSON (spec field names plus ``id``, ``workspace_id``)."""
    return {
        **template_values(template),
        "id": str(template.id),
        "workspace_id": str(template.workspace_id),
        "is_active": template.is_active,
        "created_date": _iso(template.created_date),
    }


def next_fire_at(schedule: Schedule, after: datetime) -> datetime:
    """The first fire of ``schedule`` strictly after ``after``, in UTC."""
    return next_fire_times(schedule.cron, schedule.timezone, after, 1)[0].astimezone(UTC)


# -- shape helpers --------------------------------------------------------------------------


def _keys(raw: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise InvalidInput(f"{where}{key}: unknown key (expected one of {', '.join(allowed)})")


def _name(value: Any, what: str, *, prefix: bool = True) -> str:
    label = f"{what} name" if prefix else what
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{label}: a name is required")
    if len(value) > _MAX_NAME:
        raise InvalidInput(f"{label}: longer than {_MAX_NAME} characters")
    return value.strip()


def _text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: expected text, not {_kind(value)}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: expected a list, not {_kind(value)}")
    return value


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where}: expected a mapping, not {_kind(value)}")
    return {str(key): item for key, item in value.items()}


def _choice(value: Any, enum: type[_E], where: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        options = ", ".join(member.value for member in enum)
        raise InvalidInput(
            f"{where}: unknown {_label(where)} {value!r} (expected {options})"
        ) from None


def _label(where: str) -> str:
    return where.rsplit(".", 1)[-1].replace("_", " ")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return "a number"
    return f"{type(value).__name__} {str(value)[:40]!r}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()
