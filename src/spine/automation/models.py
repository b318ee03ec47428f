"""The records of automation (spec 003): entities, rules, changes, executions, alerts.

These are the seams between the part's pieces:

- the capture (:mod:`spine.automation.capture`) writes a :class:`Change` per change of
  a watched table, in the transaction of the change;
- the dispatcher (:mod:`spine.automation.dispatcher`) reads changes in
  :attr:`Change.position` order, matches them against :class:`Rule` s
  (:mod:`spine.automation.conditions`) and has the executor run their actions;
- each :class:`ActionType` has an :class:`ActionHandler` (:mod:`spine.automation.actions`)
  that does its work inside the transaction that keeps its result under an idempotency
  key, so that a replayed change never repeats it;
- an :class:`Execution` records what one rule did for one change.

Ids are UUIDs (spec 003's tables); timestamps are aware UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from spine.core.events import Connection

#: A row of a watched table, by column name, as JSON values (what the trigger wrote).
Row = Mapping[str, Any]


class TriggerType(StrEnum):
    """When a rule fires (spec 003 ``trigger_types``)."""

    ON_CREATE = "on_create"
    ON_UPDATE = "on_update"
    ON_DELETE = "on_delete"
    SCHEDULED = "scheduled"


class EntityType(StrEnum):
    """What an entity is (spec 003 ``entity_types``)."""

    TABLE = "table"
    VIEW = "view"


class Operation(StrEnum):
    """What a change did (``automation_changes.operation``)."""

    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    #: A scheduled rule selected the row (addressed to that rule alone).
    SCHEDULED = "scheduled"

    @property
    def trigger(self) -> TriggerType:
        """The trigger type a change of this operation fires."""
        return _TRIGGER_OF[self]


_TRIGGER_OF = {
    Operation.INSERT: TriggerType.ON_CREATE,
    Operation.UPDATE: TriggerType.ON_UPDATE,
    Operation.DELETE: TriggerType.ON_DELETE,
    Operation.SCHEDULED: TriggerType.SCHEDULED,
}


class Operator(StrEnum):
    """A field condition's operator (``trigger_conditions.field_conditions[].operator``)."""

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    #: The old value was ``previous_value`` and the new one differs from it.
    CHANGED_FROM = "changed_from"
    #: The new value is ``value`` and the old one was different (a real change).
    CHANGED_TO = "changed_to"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"
    CONTAINS = "contains"
    IN = "in"


class ActionType(StrEnum):
    """What an action does (``rule_actions.action_config`` is read by its handler)."""

    CREATE_ALERT = "create_alert"
    SEND_NOTIFICATION = "send_notification"
    SEND_EMAIL = "send_email"
    RUN_WORKFLOW = "run_workflow"
    CALL_WEBHOOK = "call_webhook"
    UPDATE_FIELD = "update_field"
    SEEK_APPROVAL = "seek_approval"


class ExecutionStatus(StrEnum):
    """Spec 003 ``automation_executions.status``."""

    SUCCESS = "success"
    FAILED = "failed"
    PARTIAL = "partial"


class ActionStatus(StrEnum):
    """How one action of an execution ended (``actions_executed[].status``)."""

    SUCCESS = "success"
    FAILED = "failed"
    #: Its result was already kept under its idempotency key (a replay, a second
    #: dispatcher): not done again.
    ALREADY_DONE = "already_done"


class AlertSeverity(StrEnum):
    """Spec 003 ``alerts.severity``."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertStatus(StrEnum):
    """Spec 003 ``alerts.status``."""

    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"
    RESOLVED = "resolved"


class RecipientType(StrEnum):
    """Spec 003 ``alert_recipients.recipient_type``."""

    USER = "user"
    ROLE = "role"


class DeliveryChannel(StrEnum):
    """Spec 003 ``notification_deliveries.channel``."""

    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    IN_APP = "in_app"


class DeliveryStatus(StrEnum):
    """Spec 003 ``notification_deliveries.status``."""

    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    RETRYING = "retrying"


class Decision(StrEnum):
    """An approval alert's answer (``alerts.decision``)."""

    APPROVED = "approved"
    REJECTED = "rejected"


#: Spine's own tables that can be watched; their parts record their changes themselves
#: (no trigger), in the transaction that makes the change.
SPINE_TABLES = ("core_workflow_runs", "check_results", "incidents", "alerts")


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    """A watched table or view (spec 003 ``entities``)."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    entity_type: EntityType
    schema_name: str | None
    is_active: bool
    created_date: datetime
    #: The table's columns when it was watched (what conditions may name).
    columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldCondition:
    """One of ``trigger_conditions.field_conditions`` (all are ANDed).

    ``value`` is what ``equals``, ``not_equals``, ``changed_to``, ``greater_than``,
    ``less_than`` and ``contains`` compare with (a list for ``in``);
    ``previous_value`` is what ``changed_from`` needs the old value to be.
    """

    field_name: str
    operator: Operator
    value: Any = None
    previous_value: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The spec's JSON shape (``previous_value`` only when the operator uses it)."""
        out: dict[str, Any] = {"field_name": self.field_name, "operator": self.operator.value}
        if self.operator is Operator.CHANGED_FROM:
            out["previous_value"] = self.previous_value
        else:
            out["value"] = self.value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A scheduled rule's cron (in ``trigger_conditions``: ``cron``, ``timezone``, ``max_rows``)."""

    cron: str
    timezone: str = "UTC"
    max_rows: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleAction:
    """One action of a rule (spec 003 ``rule_actions``).

    ``config`` is the action's own ``action_config``; the template's ``default_config``
    is merged under it key by key when the action runs (:attr:`template` names it).
    """

    id: uuid.UUID
    name: str
    action_type: ActionType
    config: Mapping[str, Any]
    execution_order: int
    description: str | None = None
    template: str | None = None
    template_id: uuid.UUID | None = None
    is_active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """An automation rule with its actions and parents (spec 003 ``automation_rules``)."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    entity: str
    entity_id: uuid.UUID
    trigger: TriggerType
    conditions: tuple[FieldCondition, ...]
    actions: tuple[RuleAction, ...]
    description: str | None = None
    is_active: bool = True
    #: Names of the rules that must succeed for a change before this one runs for it.
    depends_on: tuple[str, ...] = ()
    schedule: Schedule | None = None
    next_fire_at: datetime | None = None
    created_date: datetime | None = None
    updated_date: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionTemplate:
    """Default config for actions of one type (spec 003 ``action_templates``)."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    action_type: ActionType
    default_config: Mapping[str, Any]
    description: str | None = None
    is_active: bool = True
    created_date: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One change of a watched table (``automation_changes``), as the dispatcher reads it.

    Attributes:
        position: Its durable place in the log (``replay --from`` takes one).
        table_name: The table changed (an entity's name).
        operation: What was done; ``old``/``new`` are ``None`` where the operation has
            no such row (``insert`` has no old row, ``delete`` no new one).
        depth: How many automation actions led to it; past the limit it is recorded,
            not acted on.
        rule_id: For :attr:`Operation.SCHEDULED`, the one rule it is for.
        workspace_id: The workspace of a change spine's parts recorded; ``None`` for a
            trigger's (every workspace that watches the table).
    """

    position: int
    table_name: str
    schema_name: str | None
    operation: Operation
    old: Row | None
    new: Row | None
    depth: int = 0
    rule_id: uuid.UUID | None = None
    workspace_id: uuid.UUID | None = None
    created_at: datetime | None = None

    def row(self) -> Row:
        """The row the change is about: the new one, else the old one (a delete)."""
        return self.new if self.new is not None else (self.old or {})


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionVerdict:
    """Whether one condition held for a change, and why (``automation test``)."""

    condition: FieldCondition
    matched: bool
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionOutcome:
    """What one action did in an execution (an item of ``actions_executed``)."""

    action_id: uuid.UUID
    name: str
    action_type: ActionType
    execution_order: int
    status: ActionStatus
    result: Mapping[str, Any] | None = None
    error: str | None = None
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON kept in ``actions_executed``."""
        return {
            "action_id": str(self.action_id),
            "name": self.name,
            "action_type": self.action_type.value,
            "execution_order": self.execution_order,
            "status": self.status.value,
            "result": None if self.result is None else dict(self.result),
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution:
    """What one rule did for one change (spec 003 ``automation_executions``)."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    rule_id: uuid.UUID
    rule_name: str
    entity_type: str
    change_position: int | None
    trigger_data: Mapping[str, Any]
    actions_executed: tuple[Mapping[str, Any], ...]
    status: ExecutionStatus
    error_message: str | None
    execution_time_ms: int | None
    executed_at: datetime
    depth: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    """A user or role an alert or notification is for, resolved to an id."""

    type: RecipientType
    id: uuid.UUID
    #: The email or role name it was given by (for display).
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """An alert for people (spec 003 ``alerts``) with its recipients."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    alert_type: str
    severity: AlertSeverity
    title: str
    message: str
    context: Mapping[str, Any]
    source_entity_name: str | None
    source_entity_id: uuid.UUID | None
    source_rule_id: uuid.UUID | None
    status: AlertStatus
    expires_date: datetime | None
    created_date: datetime
    updated_date: datetime
    recipients: tuple[Recipient, ...] = ()
    automation_execution_id: uuid.UUID | None = None
    decision: Decision | None = None
    decided_by: uuid.UUID | None = None
    decided_at: datetime | None = None
    #: Spec 003 ``alert_acknowledgments`` rows: ``acknowledged_by`` (a user id),
    #: ``email``, ``acknowledged_date``, ``notes``; oldest first.
    acknowledgments: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationDelivery:
    """One notification to one recipient over one channel (spec 003 ``notification_deliveries``)."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    notification_id: uuid.UUID
    automation_execution_id: uuid.UUID | None
    rule_id: uuid.UUID | None
    action_id: uuid.UUID | None
    recipient_id: str
    channel: DeliveryChannel
    status: DeliveryStatus
    attempts: int
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    error_message: str | None
    provider_response: Mapping[str, Any] | None
    created_date: datetime
    updated_date: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionContext:
    """What an action handler is given to do its work for one change.

    Attributes:
        rule: The rule whose action runs.
        action: The action, with its own config.
        config: The action's config merged over its template's and rendered
            (``{{ new.status }}`` ...): what the handler reads.
        change: The change the rule answers.
        execution_id: The execution being recorded (alerts and deliveries link to it).
        idempotency_key: The key the result is kept under; a handler that starts
            something durable elsewhere (a workflow run) passes it on.
        now: The time of the dispatch (the database's clock).
    """

    rule: Rule
    action: RuleAction
    config: Mapping[str, Any]
    change: Change
    execution_id: uuid.UUID
    idempotency_key: str
    now: datetime
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def workspace_id(self) -> uuid.UUID:
        """The rule's workspace (everything the action writes belongs to it)."""
        return self.rule.workspace_id


class ActionHandler(Protocol):
    """Does one type of action. One instance per type, built in the part's assembly."""

    @property
    def action_type(self) -> ActionType:
        """The type it does."""
        ...

    def validate(self, config: Mapping[str, Any], *, workspace_id: uuid.UUID) -> None:
        """Refuse a config that cannot work, when the rule is saved.

        The config is the merged one, before rendering (``{{ ... }}`` strings are
        whatever text they render to). Raises ``InvalidInput`` with one line naming
        the key.
        """
        ...

    def perform(self, conn: Connection, ctx: ActionContext) -> Mapping[str, Any]:
        """Do the action on ``conn`` (the transaction that keeps its result) and return it.

        Everything durable it does is written on ``conn``, so that it commits with
        its idempotency record or not at all; work outside the database (an email, an
        HTTP call) is only enqueued here and done by a delivery loop. Raises
        ``ActionFailed`` (or any ``SpineError``) when it cannot be done; the
        transaction then rolls back and the failure is recorded in the execution.
        """
        ...
