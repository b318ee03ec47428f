"""``call_webhook``: a signed POST to one of the workspace's webhooks, through the outbox.

Config::

    webhook: orders-hook                # a webhook added with `spine webhooks add`
    event: order.rejected               # the body's "type" (default automation.action)
    data: {order: "{{ new.id }}"}       # the body's "data" (default: the changed row)

The webhook holds the URL (checked by the outbound guard) and the ``whsec_`` secret
(sealed at rest); the action writes a message to alerting's outbox in its own
transaction, and the delivery worker signs and sends it the Standard Webhooks way,
with retries, back-off, dead letters and the webhook's circuit breaker.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from spine.alerting.models import WEBHOOK_SOURCE
from spine.alerting.store import record_alert
from spine.automation.actions import common
from spine.automation.models import ActionContext, ActionType
from spine.automation.store.deliveries import webhook_channel
from spine.core.errors import SpineError
from spine.core.events import Connection

DEFAULT_EVENT = "automation.action"


class CallWebhook:
    """Enqueues one signed delivery to the named webhook."""

    action_type = ActionType.CALL_WEBHOOK

    def validate(self, config: Mapping[str, Any], *, workspace_id: uuid.UUID) -> None:
        """A webhook name; ``data`` a mapping when given."""
        common.text(config, "webhook")
        common.text(config, "event", required=False)
        common.mapping(config, "data")

    def perform(self, conn: Connection, ctx: ActionContext) -> Mapping[str, Any]:
        """Write the outbox message with the webhook's delivery; return its id."""
        config = ctx.config
        try:
            name = str(common.text(config, "webhook"))
            channel = webhook_channel(conn, ctx.workspace_id, name)
            event = common.text(config, "event", required=False) or DEFAULT_EVENT
            data = common.mapping(config, "data") or dict(ctx.change.row())
        except SpineError as error:
            raise common.failed(error) from None
        body = {
            **data,
            "rule": ctx.rule.name,
            "entity": ctx.change.table_name,
            "operation": ctx.change.operation.value,
            "execution_id": str(ctx.execution_id),
        }
        message_id = record_alert(
            conn,
            ctx.now,
            workspace_id=ctx.workspace_id,
            severity="INFO",
            title=f"{event}: {ctx.rule.name}"[:500],
            message=f"rule {ctx.rule.name} calls webhook {name}",
            source=WEBHOOK_SOURCE,
            domain=ctx.change.table_name[:200],
            metadata={
                "webhook_event": event,
                "data": body,
                "occurred_at": ctx.now.isoformat(),
            },
            channels=[channel],
            # Every call is its own message: no dedup window between two changes.
            dedup=ctx.idempotency_key[:255],
        )
        return {"message_id": message_id, "webhook": name, "event": event}
