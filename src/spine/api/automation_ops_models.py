"""The answers and bodies of the executions and alerts-for-people routes.

Spec 003's field names, built from the automation part's records field by field (the
rules' models are in :mod:`spine.api.automation_models`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from spine.api.automation_models import _Body
from spine.automation.models import Alert, Execution

_TIME = "ISO-8601 time in UTC."
ExecutionStatusName = Literal["success", "failed", "partial"]
AlertStatusName = Literal["active", "acknowledged", "dismissed", "resolved"]


class ExecutionResponse(BaseModel):
    """What one rule did for one change (spec 003 ``automation_executions``)."""

    id: str
    workspace_id: str
    automation_rules_id: str
    rule: str = Field(description="The rule's name.")
    entity_type: str = Field(description="The table the change was of.")
    change_position: int | None = Field(description="Its place in the change log.")
    trigger_data: dict[str, Any] = Field(description="The change: operation, old, new.")
    actions_executed: list[dict[str, Any]] = Field(
        description="Each action: name, action_type, status, result, error, duration_ms."
    )
    status: str = Field(description="success, failed or partial.")
    error_message: str | None
    execution_time_ms: int | None
    executed_at: datetime = Field(description=_TIME)
    depth: int = Field(description="How many automation actions led to the change.")

    @classmethod
    def of(cls, execution: Execution) -> ExecutionResponse:
        """The answer for ``execution``."""
        return cls(
            id=str(execution.id),
            workspace_id=str(execution.workspace_id),
            automation_rules_id=str(execution.rule_id),
            rule=execution.rule_name,
            entity_type=execution.entity_type,
            change_position=execution.change_position,
            trigger_data=dict(execution.trigger_data),
            actions_executed=[dict(a) for a in execution.actions_executed],
            status=execution.status.value,
            error_message=execution.error_message,
            execution_time_ms=execution.execution_time_ms,
            executed_at=execution.executed_at,
            depth=execution.depth,
        )


class RecipientResponse(BaseModel):
    """A user or role an alert is for."""

    recipient_type: str = Field(description="user or role.")
    recipient_id: str
    name: str = Field(description="The user's email or the role's name.")


class AcknowledgmentResponse(BaseModel):
    """An ``alert_acknowledgments`` row, with the user's email."""

    acknowledged_by: str = Field(description="The user's id.")
    email: str | None
    acknowledged_date: datetime = Field(description=_TIME)
    notes: str | None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> AcknowledgmentResponse:
        """The answer for one acknowledgment of an alert."""
        return cls(
            acknowledged_by=str(row["acknowledged_by"]),
            email=row.get("email"),
            acknowledged_date=row["acknowledged_date"],
            notes=row.get("notes"),
        )


class AlertResponse(BaseModel):
    """An alert for people (spec 003 ``alerts``) with its recipients."""

    id: str
    workspace_id: str
    alert_type: str = Field(description="e.g. rule or approval.")
    severity: str = Field(description="low, medium, high or critical.")
    title: str
    message: str
    context: dict[str, Any]
    source_entity_name: str | None
    source_entity_id: str | None
    source_rule_id: str | None
    status: str = Field(description="active, acknowledged, dismissed or resolved.")
    expires_date: datetime | None = Field(description=_TIME)
    created_date: datetime = Field(description=_TIME)
    updated_date: datetime = Field(description=_TIME)
    recipients: list[RecipientResponse]
    automation_execution_id: str | None
    decision: str | None = Field(description="approved or rejected (approval alerts).")
    decided_by: str | None = Field(description="The id of the user who decided.")
    decided_at: datetime | None = Field(description=_TIME)
    acknowledgments: list[AcknowledgmentResponse] = Field(description="Oldest first.")

    @classmethod
    def of(cls, alert: Alert) -> AlertResponse:
        """The answer for ``alert``."""
        return cls(
            id=str(alert.id),
            workspace_id=str(alert.workspace_id),
            alert_type=alert.alert_type,
            severity=alert.severity.value,
            title=alert.title,
            message=alert.message,
            context=dict(alert.context),
            source_entity_name=alert.source_entity_name,
            source_entity_id=_id(alert.source_entity_id),
            source_rule_id=_id(alert.source_rule_id),
            status=alert.status.value,
            expires_date=alert.expires_date,
            created_date=alert.created_date,
            updated_date=alert.updated_date,
            recipients=[
                RecipientResponse(recipient_type=r.type.value, recipient_id=str(r.id), name=r.name)
                for r in alert.recipients
            ],
            automation_execution_id=_id(alert.automation_execution_id),
            decision=alert.decision.value if alert.decision else None,
            decided_by=_id(alert.decided_by),
            decided_at=alert.decided_at,
            acknowledgments=[AcknowledgmentResponse.of(a) for a in alert.acknowledgments],
        )


class AlertAcknowledgeBody(_Body):
    """Notes on what is known so far; who acknowledges is the key's user."""

    notes: str | None = Field(default=None, max_length=10_000)
    user: str | None = Field(
        default=None,
        min_length=3,
        max_length=320,
        description="The recipient's email, for a key that acts for no user.",
    )


class AlertDismissBody(_Body):
    """Who dismisses: the key's user, or (for a key that acts for none) `user`."""

    user: str | None = Field(default=None, min_length=3, max_length=320)


def _id(value: object) -> str | None:
    return None if value is None else str(value)
