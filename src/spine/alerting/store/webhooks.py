"""The webhooks of a workspace: one transaction per use case, audited (entity ``webhook``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.alerting.models import Channel, DeliveryPolicy, Webhook
from spine.alerting.store import webhook_rows
from spine.core.clock import Clock
from spine.core.storage import Database
from spine.tenancy import OPERATOR, Actor, AuditAction, Change, changes_between
from spine.tenancy.bound import ActorBound
from spine.tenancy.store import record as record_audit


def _audited(webhook: Webhook | None) -> dict[str, Any] | None:
    if webhook is None:
        return None
    return {
        "name": webhook.name,
        "url": webhook.url,
        "events": list(webhook.events),
        "enabled": webhook.enabled,
    }


class WebhookStore(ActorBound):
    """Spec 004 webhooks and their alert channels, in the actor's workspace."""

    def __init__(
        self, database: Database, clock: Clock, policy: DeliveryPolicy, *, actor: Actor = OPERATOR
    ) -> None:
        self.database = database
        self.clock = clock
        self.policy = policy
        self.actor = actor

    def _audit(
        self,
        conn: sa.Connection,
        now: datetime,
        action: AuditAction,
        old: Webhook | None,
        new: Webhook | None,
        *,
        secret_changed: bool = False,
    ) -> None:
        hook = new or old
        assert hook is not None
        changes = changes_between(_audited(old), _audited(new))
        if secret_changed:
            changes["secret"] = {"old": "[secret]" if old else None, "new": "[secret]"}
        change = Change(entity_type="webhook", entity_id=hook.id, action=action, changes=changes)
        record_audit(conn, self.actor, change, now)

    def add(
        self, *, name: str, url: str, events: Sequence[str], config: dict[str, Any]
    ) -> tuple[Webhook, Channel]:
        """Insert a webhook and its channel in one transaction (see ``add_webhook``)."""
        now = self.clock.now()

        def work(conn: sa.Connection) -> tuple[Webhook, Channel]:
            made = webhook_rows.add_webhook(
                conn,
                now,
                workspace_id=self.workspace_id,
                name=name,
                url=url,
                events=events,
                config=config,
                policy=self.policy,
                created_by=None if self.actor.api_key_id is None else str(self.actor.api_key_id),
            )
            self._audit(conn, now, AuditAction.CREATE, None, made[0], secret_changed=True)
            return made

        return self.database.run_write(work)

    def get(self, ref: str) -> tuple[Webhook, Channel]:
        """The workspace's webhook ``ref`` (name or id) and its channel.

        Raises:
            WebhookNotFound: If there is none.
        """

        def work(conn: sa.Connection) -> tuple[Webhook, Channel]:
            hook = webhook_rows.get_webhook(conn, self.workspace_id, ref)
            return hook, webhook_rows.channel_of(conn, hook.channel_id)

        return self.database.run_read(work)

    def list(self, *, after: str | None = None, limit: int | None = None) -> list[Webhook]:
        """The workspace's webhooks by name."""
        return self.database.run_read(
            lambda conn: webhook_rows.list_webhooks(
                conn, self.workspace_id, after=after, limit=limit
            )
        )

    def update(
        self,
        ref: str,
        values: Mapping[str, Any],
        config: dict[str, Any] | None = None,
        *,
        secret_changed: bool = False,
    ) -> Webhook:
        """Change a webhook (``url``, ``events``, ``enabled``) and its channel's config.

        Nothing changed writes nothing.

        Raises:
            WebhookNotFound: If there is none.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> Webhook:
            old = webhook_rows.get_webhook(conn, self.workspace_id, ref, for_update=True)
            before = _audited(old) or {}
            changed = {
                key: value
                for key, value in values.items()
                if before.get(key) != (list(value) if key == "events" else value)
            }
            if not changed and config is None:
                return old
            new = webhook_rows.update_webhook(conn, now, old, changed, config)
            self._audit(conn, now, AuditAction.UPDATE, old, new, secret_changed=secret_changed)
            return new

        return self.database.run_write(work)

    def remove(self, ref: str) -> tuple[Webhook, int]:
        """Delete a webhook and its channel; its waiting deliveries are closed.

        Raises:
            WebhookNotFound: If there is none.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> tuple[Webhook, int]:
            old = webhook_rows.get_webhook(conn, self.workspace_id, ref, for_update=True)
            closed = webhook_rows.remove_webhook(conn, now, old)
            self._audit(conn, now, AuditAction.DELETE, old, None)
            return old, closed

        return self.database.run_write(work)
