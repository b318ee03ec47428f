"""Alerts for people: what a user is sent, acknowledges, dismisses, approves or rejects.

An alert (spec 003 ``alerts``) is addressed to users and roles (``alert_recipients``).
A user sees the alerts addressed to them or to a role they hold in the alert's
workspace; acting on any other alert is answered as if it did not exist
(:class:`~spine.automation.errors.AlertNotFound`: 404 in the API, one line and exit 2
in the CLI), so that nobody learns which alerts others are sent.
"""

from __future__ import annotations

import uuid
from typing import Any

from spine.automation.errors import AlertNotFound
from spine.automation.models import Alert, AlertStatus, Decision
from spine.automation.store.alerts import AlertStore
from spine.core.clock import Clock
from spine.core.errors import InvalidInput
from spine.tenancy.bound import ActorBound
from spine.tenancy.models import Actor

__all__ = ["AlertInbox", "alert_to_dict"]

MAX_LIMIT = 1000


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """An alert with spec 003's field names, plus recipients, workspace and decision."""
    return {
        "id": alert.id,
        "alert_type": alert.alert_type,
        "severity": alert.severity.value,
        "title": alert.title,
        "message": alert.message,
        "context": dict(alert.context),
        "source_entity_name": alert.source_entity_name,
        "source_entity_id": alert.source_entity_id,
        "source_rule_id": alert.source_rule_id,
        "status": alert.status.value,
        "expires_date": alert.expires_date,
        "created_date": alert.created_date,
        "updated_date": alert.updated_date,
        "workspace_id": alert.workspace_id,
        "automation_execution_id": alert.automation_execution_id,
        "recipients": [
            {"recipient_type": r.type.value, "recipient_id": r.id, "name": r.name}
            for r in alert.recipients
        ],
        "decision": None if alert.decision is None else alert.decision.value,
        "decided_by": alert.decided_by,
        "decided_at": alert.decided_at,
        "acknowledgments": [dict(a) for a in alert.acknowledgments],
    }


def _alert_id(ref: uuid.UUID | str) -> uuid.UUID:
    if isinstance(ref, uuid.UUID):
        return ref
    try:
        return uuid.UUID(str(ref).strip())
    except ValueError:
        raise AlertNotFound(str(ref)) from None


class AlertInbox(ActorBound):
    """The alerts of :attr:`actor`'s workspace, as people see and answer them.

    Args:
        store: Where alerts are kept (bound to the same actor).
        clock: The database's clock (acknowledgment times).
    """

    def __init__(self, store: AlertStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.actor = store.actor

    def acting_as(self, actor: Actor) -> AlertInbox:
        """This inbox acting as ``actor``."""
        return AlertInbox(self.store.acting_as(actor), self.clock)

    def alerts(
        self,
        user: str | None = None,
        status: AlertStatus | None = None,
        limit: int = 50,
        after: uuid.UUID | str | None = None,
    ) -> list[Alert]:
        """The workspace's alerts, newest first; for ``user`` (an email), theirs only.

        Theirs: addressed to them or to one of their roles. ``after`` is the id of the
        last alert of the previous page.

        Raises:
            InvalidInput: If ``user`` is no user, or ``limit`` is out of range.
            AlertNotFound: If ``after`` is no alert of the workspace.
        """
        who = None if user is None else self.store.user_of(user)
        return self._list(who, status, limit, after)

    def mine(
        self,
        user_id: uuid.UUID,
        status: AlertStatus | None = None,
        limit: int = 50,
        after: uuid.UUID | str | None = None,
    ) -> list[Alert]:
        """The alerts addressed to the user ``user_id`` or one of their roles."""
        return self._list(user_id, status, limit, after)

    def _list(
        self,
        who: uuid.UUID | None,
        status: AlertStatus | None,
        limit: int,
        after: uuid.UUID | str | None,
    ) -> list[Alert]:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be from 1 to {MAX_LIMIT}")
        last = None if after is None else _alert_id(after)
        return self.store.alerts(user=who, status=status, limit=limit, after=last)

    def alert(self, alert_id: uuid.UUID | str) -> Alert:
        """One alert of the workspace.

        Raises:
            AlertNotFound: If the workspace has none with that id.
        """
        return self.store.alert(_alert_id(alert_id))

    def acknowledge(
        self,
        alert_id: uuid.UUID | str,
        *,
        user: str | None = None,
        user_id: uuid.UUID | None = None,
        notes: str | None = None,
    ) -> Alert:
        """Acknowledge an alert as one of its recipients, with optional ``notes``.

        Raises:
            AlertNotFound: If the user is not a recipient (directly or by role).
            Conflict: If the alert is dismissed or resolved.
        """
        return self.store.act(
            _alert_id(alert_id),
            self._who(user, user_id),
            status=AlertStatus.ACKNOWLEDGED,
            now=self.clock.now(),
            notes=notes,
        )

    def dismiss(
        self,
        alert_id: uuid.UUID | str,
        *,
        user: str | None = None,
        user_id: uuid.UUID | None = None,
    ) -> Alert:
        """Dismiss an alert as one of its recipients.

        Raises:
            AlertNotFound: If the user is not a recipient (directly or by role).
            Conflict: If the alert is dismissed or resolved already.
        """
        return self.store.act(
            _alert_id(alert_id),
            self._who(user, user_id),
            status=AlertStatus.DISMISSED,
            now=self.clock.now(),
        )

    def decide(
        self,
        alert_id: uuid.UUID | str,
        decision: Decision,
        *,
        user: str | None = None,
        user_id: uuid.UUID | None = None,
        notes: str | None = None,
    ) -> Alert:
        """Approve or reject an approval alert as one of its recipients.

        The alert is acknowledged with the decision; when ``alerts`` is watched, the
        change can trigger other rules (``changed_to`` on ``decision``).

        Raises:
            AlertNotFound: If the user is not a recipient (directly or by role).
            InvalidInput: If the alert is no approval.
            Conflict: If it was decided otherwise, or is closed.
        """
        return self.store.act(
            _alert_id(alert_id),
            self._who(user, user_id),
            status=AlertStatus.ACKNOWLEDGED,
            now=self.clock.now(),
            notes=notes,
            decision=decision,
        )

    def _who(self, user: str | None, user_id: uuid.UUID | None) -> uuid.UUID:
        if user_id is not None:
            return user_id
        if user is None:
            raise InvalidInput("say who acts: a user's email (--user EMAIL)")
        return self.store.user_of(user)
