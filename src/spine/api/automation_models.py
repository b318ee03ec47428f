"""The bodies and answers of the automation routes (spec 003's field names).

A rule is sent and returned in the shape of one item of the YAML ``rules:`` list that
``spine automation apply`` reads (``name``, ``entity``, ``trigger``, ``conditions``,
``actions[].type`` ...), so that a rule written for the CLI can be posted as JSON as it
is. Answers are built from the automation part's records field by field, so that the
document says exactly what a client gets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from spine.api.quality_models import _no_nul
from spine.automation.models import (
    ActionTemplate,
    Entity,
    FieldCondition,
    Rule,
    RuleAction,
)

_TIME = "ISO-8601 time in UTC."
_NAME = "Unique in the workspace (at most 255 characters)."
Trigger = Literal["on_create", "on_update", "on_delete", "scheduled"]
OperatorName = Literal[
    "equals",
    "not_equals",
    "changed_from",
    "changed_to",
    "greater_than",
    "less_than",
    "contains",
    "in",
]
ActionTypeName = Literal[
    "create_alert",
    "send_notification",
    "send_email",
    "run_workflow",
    "call_webhook",
    "update_field",
    "seek_approval",
]
OperationName = Literal["insert", "update", "delete"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _no_nul(value)


# --- entities -------------------------------------------------------------------------


class EntityResponse(BaseModel):
    """A watched table (spec 003 ``entities``)."""

    id: str
    workspace_id: str
    name: str = Field(description="The table's name.")
    entity_type: str = Field(description="table or view.")
    schema_name: str | None
    is_active: bool = Field(description="false once unwatched (the row is kept).")
    created_date: datetime = Field(description=_TIME)
    columns: list[str] = Field(description="The table's columns: what conditions may name.")

    @classmethod
    def of(cls, entity: Entity) -> EntityResponse:
        """The answer for ``entity``."""
        return cls(
            id=str(entity.id),
            workspace_id=str(entity.workspace_id),
            name=entity.name,
            entity_type=entity.entity_type.value,
            schema_name=entity.schema_name,
            is_active=entity.is_active,
            created_date=entity.created_date,
            columns=list(entity.columns),
        )


class WatchBody(_Body):
    """A table to watch."""

    table: str = Field(
        min_length=1,
        max_length=255,
        description="A table of spine's database, or spine's own `core_workflow_runs`, "
        "`check_results`, `incidents` or `alerts`.",
    )
    schema_name: str | None = Field(
        default=None, min_length=1, max_length=255, description="Its schema (PostgreSQL)."
    )


# --- rules ----------------------------------------------------------------------------


class ConditionSpec(_Body):
    """One field condition; the conditions of a rule are ANDed."""

    field_name: str = Field(min_length=1, max_length=255, description="A column of the table.")
    operator: OperatorName
    value: Any = Field(
        default=None, description="What the field is compared with (a list for `in`)."
    )
    previous_value: Any = Field(default=None, description="For `changed_from`: the old value.")


class ActionSpec(_Body):
    """One action of a rule (spec 003 ``rule_actions``)."""

    name: str = Field(min_length=1, max_length=255, description="Unique in the rule.")
    type: ActionTypeName
    execution_order: int = Field(
        default=1, ge=1, le=1000, description="Equal orders run together; orders in sequence."
    )
    template: str | None = Field(
        default=None, max_length=255, description="An action template's name: its defaults."
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="The action's config; strings are templates (`{{ new.status }}`).",
    )
    description: str | None = Field(default=None, max_length=10_000)


class RuleSpec(_Body):
    """A rule: one item of the YAML `rules:` list of `spine automation apply`."""

    name: str = Field(min_length=1, max_length=255, description=_NAME)
    description: str | None = Field(default=None, max_length=10_000)
    entity: str = Field(min_length=1, max_length=255, description="A watched table's name.")
    trigger: Trigger
    cron: str | None = Field(default=None, max_length=100, description="For `scheduled`.")
    timezone: str | None = Field(default=None, max_length=50, description="IANA zone.")
    max_rows: int | None = Field(
        default=None, ge=1, description="For `scheduled`: at most this many rows per fire."
    )
    conditions: list[ConditionSpec] = Field(default_factory=list, max_length=100)
    depends_on: list[str] = Field(
        default_factory=list, max_length=100, description="Names of parent rules."
    )
    is_active: bool = True
    actions: list[ActionSpec] = Field(default_factory=list, max_length=100)

    def spec(self) -> dict[str, Any]:
        """The rule spec the service takes (the fields given, nested)."""
        return self.model_dump(exclude_unset=True)


class RulePatch(_Body):
    """What to change in a rule; absent fields stay (lists are replaced whole)."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    entity: str | None = Field(default=None, min_length=1, max_length=255)
    trigger: Trigger | None = None
    cron: str | None = Field(default=None, max_length=100)
    timezone: str | None = Field(default=None, max_length=50)
    max_rows: int | None = Field(default=None, ge=1)
    conditions: list[ConditionSpec] | None = Field(default=None, max_length=100)
    depends_on: list[str] | None = Field(default=None, max_length=100)
    is_active: bool | None = None
    actions: list[ActionSpec] | None = Field(default=None, max_length=100)


class ConditionResponse(BaseModel):
    """A field condition (`previous_value` for `changed_from`, `value` otherwise)."""

    field_name: str
    operator: str
    value: Any = None
    previous_value: Any = None

    @classmethod
    def of(cls, condition: FieldCondition) -> ConditionResponse:
        """The answer for ``condition``."""
        return cls.model_validate(condition.to_dict())


class ActionResponse(BaseModel):
    """An action of a rule."""

    id: str
    name: str
    type: str
    execution_order: int
    template: str | None
    config: dict[str, Any]
    description: str | None

    @classmethod
    def of(cls, action: RuleAction) -> ActionResponse:
        """The answer for ``action``."""
        return cls(
            id=str(action.id),
            name=action.name,
            type=action.action_type.value,
            execution_order=action.execution_order,
            template=action.template,
            config=dict(action.config),
            description=action.description,
        )


class RuleResponse(BaseModel):
    """A rule (spec 003 ``automation_rules``) with its conditions, actions and parents."""

    id: str
    workspace_id: str
    name: str
    description: str | None
    entity: str
    entity_id: str
    trigger: str
    cron: str | None
    timezone: str | None
    max_rows: int | None
    conditions: list[ConditionResponse]
    depends_on: list[str]
    is_active: bool
    actions: list[ActionResponse]
    next_fire_at: datetime | None = Field(description="A scheduled rule's next fire.")
    created_date: datetime | None = Field(description=_TIME)
    updated_date: datetime | None = Field(description=_TIME)

    @classmethod
    def of(cls, rule: Rule) -> RuleResponse:
        """The answer for ``rule``."""
        schedule = rule.schedule
        return cls(
            id=str(rule.id),
            workspace_id=str(rule.workspace_id),
            name=rule.name,
            description=rule.description,
            entity=rule.entity,
            entity_id=str(rule.entity_id),
            trigger=rule.trigger.value,
            cron=schedule.cron if schedule else None,
            timezone=schedule.timezone if schedule else None,
            max_rows=schedule.max_rows if schedule else None,
            conditions=[ConditionResponse.of(c) for c in rule.conditions],
            depends_on=list(rule.depends_on),
            is_active=rule.is_active,
            actions=[ActionResponse.of(a) for a in rule.actions],
            next_fire_at=rule.next_fire_at,
            created_date=rule.created_date,
            updated_date=rule.updated_date,
        )


def rule_spec(rule: Rule) -> dict[str, Any]:
    """``rule`` as the spec it could have been saved from (for a PATCH to change)."""
    spec: dict[str, Any] = {
        "name": rule.name,
        "description": rule.description,
        "entity": rule.entity,
        "trigger": rule.trigger.value,
        "conditions": [c.to_dict() for c in rule.conditions],
        "depends_on": list(rule.depends_on),
        "is_active": rule.is_active,
        "actions": [
            {
                "name": a.name,
                "type": a.action_type.value,
                "execution_order": a.execution_order,
                "template": a.template,
                "config": dict(a.config),
                "description": a.description,
            }
            for a in rule.actions
        ],
    }
    if rule.schedule is not None:
        spec.update(
            cron=rule.schedule.cron,
            timezone=rule.schedule.timezone,
            max_rows=rule.schedule.max_rows,
        )
    return spec


class TestEvent(_Body):
    """A change to try a rule on: nothing is saved, nothing is done."""

    operation: OperationName | None = Field(
        default=None, description="What the change did; or give `trigger`."
    )
    trigger: Trigger | None = Field(default=None, description="In place of `operation`.")
    old: dict[str, Any] | None = Field(default=None, description="The row before (update).")
    new: dict[str, Any] | None = Field(default=None, description="The row after.")


class ConditionVerdictResponse(BaseModel):
    """Whether one condition held, and why."""

    field_name: str
    operator: str
    value: Any = None
    previous_value: Any = None
    matched: bool
    reason: str


class ActionPreview(BaseModel):
    """An action that would run, with its config merged and rendered for the event."""

    name: str
    action_type: str
    execution_order: int
    config: dict[str, Any] | None = Field(description="null when it cannot be rendered.")
    error: str | None = Field(default=None, description="Why it cannot be rendered.")


class RuleTestResponse(BaseModel):
    """What the rule would do for the event."""

    rule: str
    matched: bool = Field(description="The trigger fits and every condition holds.")
    trigger_matched: bool
    trigger: str = Field(description="The rule's trigger.")
    operation: str = Field(description="The event's operation.")
    conditions: list[ConditionVerdictResponse]
    actions: list[ActionPreview] = Field(description="What would run (when matched).")


class TemplateResponse(BaseModel):
    """An action template (spec 003 ``action_templates``): default config for a type."""

    id: str
    workspace_id: str
    name: str
    action_type: str
    default_config: dict[str, Any]
    description: str | None
    is_active: bool
    created_date: datetime | None = Field(description=_TIME)

    @classmethod
    def of(cls, template: ActionTemplate) -> TemplateResponse:
        """The answer for ``template``."""
        return cls(
            id=str(template.id),
            workspace_id=str(template.workspace_id),
            name=template.name,
            action_type=template.action_type.value,
            default_config=dict(template.default_config),
            description=template.description,
            is_active=template.is_active,
            created_date=template.created_date,
        )
