"""``create_alert`` and ``seek_approval``: spec 003 alerts for users and roles.

``create_alert`` config::

    severity: high                      # low | medium (default) | high | critical
    title: "Order {{ new.id }} shipped"
    message: "status was {{ old.status }}"
    recipients: [{type: role, name: oncall}, {type: user, email: ops@example.com}]
    alert_type: automation              # optional category
    expires_in: 4h                      # or expires_date: 2026-12-31T00:00:00Z
    context: {order: "{{ new.id }}"}    # optional extra data
    route: true                         # also a spine alert to the workspace's channels

``seek_approval`` takes the same keys; its alert's type is ``approval`` and recipients
answer it with ``spine automation alerts approve|reject``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from spine.alerting.store import record_alert
from spine.automation.actions import common
from spine.automation.models import ActionContext, ActionType, AlertSeverity
from spine.automation.store.alerts import insert_alert, resolve_recipients
from spine.core.errors import InvalidInput, SpineError
from spine.core.events import Connection

#: Spec 003 severities as spine's alert severities (``route: true``).
ROUTED_SEVERITY = {
    AlertSeverity.LOW: "INFO",
    AlertSeverity.MEDIUM: "WARNING",
    AlertSeverity.HIGH: "ERROR",
    AlertSeverity.CRITICAL: "CRITICAL",
}
#: ``core_alerts.source`` of a routed alert.
SOURCE = "automation"
APPROVAL = "approval"


class CreateAlert:
    """Writes an alert with its recipients; optionally routes it to spine's channels."""

    action_type = ActionType.CREATE_ALERT
    alert_type = "automation"

    def validate(self, config: Mapping[str, Any], *, workspace_id: uuid.UUID) -> None:
        """Title, message and recipients are needed; severity and expiry must read."""
        common.text(config, "title")
        common.text(config, "message")
        common.check_recipients(config)
        if not common.looks_templated(config.get("severity")):
            common.severity(config, AlertSeverity.MEDIUM)
        if config.get("expires_in") is not None and not common.looks_templated(
            config["expires_in"]
        ):
            common.duration(config["expires_in"], "expires_in")
        common.mapping(config, "context")
        if not isinstance(config.get("route", False), bool):
            raise InvalidInput("config.route: expected true or false")

    def perform(self, conn: Connection, ctx: ActionContext) -> Mapping[str, Any]:
        """Insert the alert (and route it); return its id and recipients."""
        config = ctx.config
        try:
            title = str(common.text(config, "title"))
            message = str(common.text(config, "message"))
            level = common.severity(config, AlertSeverity.MEDIUM)
            expires = common.expiry(config, ctx.now)
            recipients = resolve_recipients(
                conn, ctx.workspace_id, common.items(config, "recipients")
            )
            context = {
                **common.mapping(config, "context"),
                "rule": ctx.rule.name,
                "execution_id": str(ctx.execution_id),
                "change_position": ctx.change.position,
            }
        except SpineError as error:
            raise common.failed(error) from None
        alert_id = insert_alert(
            conn,
            workspace_id=ctx.workspace_id,
            alert_type=str(config.get("alert_type") or self.alert_type),
            severity=level,
            title=title,
            message=message,
            recipients=recipients,
            now=ctx.now,
            context=context,
            source_entity_name=ctx.change.table_name,
            source_entity_id=common.row_uuid(ctx.change.row()),
            source_rule_id=ctx.rule.id,
            expires_date=expires,
            execution_id=common.linked_execution(conn, ctx),
            depth=ctx.change.depth + 1,
        )
        result: dict[str, Any] = {
            "alert_id": str(alert_id),
            "recipients": [f"{r.type.value}:{r.name}" for r in recipients],
            "severity": level.value,
        }
        if config.get("route") is True:
            result["routed_alert_id"] = record_alert(
                conn,
                ctx.now,
                workspace_id=ctx.workspace_id,
                severity=ROUTED_SEVERITY[level],
                title=title[:500],
                message=message,
                source=SOURCE,
                domain=ctx.change.table_name[:200],
                metadata={"alert_id": str(alert_id), **context},
            )
        return result


class SeekApproval(CreateAlert):
    """An alert of type ``approval``: its recipients approve or reject it."""

    action_type = ActionType.SEEK_APPROVAL
    alert_type = APPROVAL

    def perform(self, conn: Connection, ctx: ActionContext) -> Mapping[str, Any]:
        """Insert the approval alert; return its id and recipients."""
        if ctx.config.get("alert_type") not in (None, APPROVAL):
            raise common.failed(InvalidInput("config.alert_type: an approval's type is approval"))
        return super().perform(conn, ctx)
