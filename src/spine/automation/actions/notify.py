"""``send_notification`` and ``send_email``: rows of ``notification_deliveries``.

Each recipient gets one delivery per channel; ``in_app`` is delivered by being written,
the others are sent by the notification sender (``spine worker``) through spine's
channels: e-mail through an alert channel of type ``email`` (its SMTP server and
sender; the delivery's address replaces its recipients), ``sms`` and ``push`` through
an alert channel of type ``apprise`` named in the config.

``send_notification`` config::

    recipients: [{type: role, name: desk}, {type: user, email: ada@example.com}]
    channels: [email, in_app]           # email | sms | push | in_app (default in_app)
    title: "Row {{ new.id }} rejected"
    message: "status {{ old.status }} -> {{ new.status }}"
    email_channel: ops-mail             # optional: the workspace's first email channel
    apprise_channel: pager              # needed for sms and push

``send_email`` config::

    to: [desk@example.com, {type: role, name: desk}]
    subject: "Row {{ new.id }} rejected"
    body: "..."
    email_channel: ops-mail             # optional, as above
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from spine.automation.actions import common
from spine.automation.models import ActionContext, ActionType, DeliveryChannel, RecipientType
from spine.automation.store.alerts import resolve_recipients
from spine.automation.store.deliveries import (
    NewDelivery,
    channel_named,
    first_channel_of_type,
    insert_deliveries,
    role_members,
)
from spine.core.errors import InvalidInput, SpineError
from spine.core.events import Connection

CHANNELS = tuple(c.value for c in DeliveryChannel)


def _channels(config: Mapping[str, Any]) -> list[DeliveryChannel]:
    found: list[DeliveryChannel] = []
    for value in common.items(config, "channels", required=False) or ["in_app"]:
        try:
            channel = DeliveryChannel(str(value).strip().lower())
        except ValueError:
            raise InvalidInput(
                f"config.channels: {value!r} is not one of {', '.join(CHANNELS)}"
            ) from None
        if channel not in found:
            found.append(channel)
    return found


def _people(conn: Connection, ctx: ActionContext, given: list[Any]) -> list[tuple[str, str]]:
    """The users the recipients name: ``(user id, email)``, roles expanded, no repeats."""
    found: dict[str, str] = {}
    for recipient in resolve_recipients(conn, ctx.workspace_id, given):
        if recipient.type is RecipientType.USER:
            found.setdefault(str(recipient.id), recipient.name)
            continue
        members = role_members(conn, recipient.id)
        if not members:
            raise InvalidInput(f"role {recipient.name!r} has no members: `spine roles assign`")
        for user_id, email in members:
            found.setdefault(str(user_id), email)
    return list(found.items())


def _channel_name(
    conn: Connection, ctx: ActionContext, key: str, channel_type: str, required_for: str
) -> str:
    """The alert channel a delivery goes through, checked to exist now."""
    name = common.text(ctx.config, key, required=False)
    if name is not None:
        channel = channel_named(conn, ctx.workspace_id, name)
        if channel.channel_type != channel_type:
            raise InvalidInput(f"config.{key}: channel {name!r} is not of type {channel_type}")
        return name
    if channel_type == "email":
        first = first_channel_of_type(conn, ctx.workspace_id, "email")
        if first is not None:
            return first.name
    raise InvalidInput(
        f"config.{key}: {required_for} needs an alert channel of type {channel_type} "
        "(`spine alerts channels add`)"
    )


def _base(ctx: ActionContext) -> dict[str, Any]:
    return {
        "rule": ctx.rule.name,
        "action": ctx.action.name,
        "execution_id": str(ctx.execution_id),
        "severity": str(ctx.config.get("severity") or "medium"),
    }


class SendNotification:
    """One delivery per recipient and channel."""

    action_type = ActionType.SEND_NOTIFICATION

    def validate(self, config: Mapping[str, Any], *, workspace_id: uuid.UUID) -> None:
        """Recipients, a message and known channels; sms and push need an Apprise channel."""
        common.check_recipients(config)
        common.text(config, "message")
        channels = _channels(config)
        wants_apprise = {DeliveryChannel.SMS, DeliveryChannel.PUSH} & set(channels)
        if wants_apprise and not config.get("apprise_channel"):
            raise InvalidInput("config.apprise_channel: sms and push go through an Apprise channel")

    def perform(self, conn: Connection, ctx: ActionContext) -> Mapping[str, Any]:
        """Insert the deliveries; return the notification id and counts by status."""
        config = ctx.config
        try:
            channels = _channels(config)
            people = _people(conn, ctx, common.items(config, "recipients"))
            title = common.text(config, "title", required=False) or ctx.rule.name
            message = str(common.text(config, "message"))
            through: dict[DeliveryChannel, str] = {}
            if DeliveryChannel.EMAIL in channels:
                through[DeliveryChannel.EMAIL] = _channel_name(
                    conn, ctx, "email_channel", "email", "email"
                )
            for kind in (DeliveryChannel.SMS, DeliveryChannel.PUSH):
                if kind in channels:
                    through[kind] = _channel_name(
                        conn, ctx, "apprise_channel", "apprise", kind.value
                    )
        except SpineError as error:
            raise common.failed(error) from None
        base = {**_base(ctx), "subject": title, "message": message}
        deliveries = [
            NewDelivery(
                recipient_id=user_id,
                channel=channel,
                payload={**base, "email": email, "channel_name": through.get(channel)},
            )
            for user_id, email in people
            for channel in channels
        ]
        return _insert(conn, ctx, deliveries)


class SendEmail:
    """One e-mail delivery per address."""

    action_type = ActionType.SEND_EMAIL

    def validate(self, config: Mapping[str, Any], *, workspace_id: uuid.UUID) -> None:
        """Addresses (or users and roles), a subject and a body."""
        common.check_recipients(config, "to")
        common.text(config, "subject")
        if not (config.get("body") or config.get("message")):
            raise InvalidInput("config.body: required")

    def perform(self, conn: Connection, ctx: ActionContext) -> Mapping[str, Any]:
        """Insert one pending e-mail delivery per address."""
        config = ctx.config
        try:
            addresses = self._addresses(conn, ctx, common.items(config, "to"))
            channel = _channel_name(conn, ctx, "email_channel", "email", "send_email")
            subject = str(common.text(config, "subject"))
            body = str(config.get("body") or config.get("message") or "")
        except SpineError as error:
            raise common.failed(error) from None
        base = {**_base(ctx), "subject": subject, "message": body, "channel_name": channel}
        deliveries = [
            NewDelivery(
                recipient_id=address,
                channel=DeliveryChannel.EMAIL,
                payload={**base, "email": address},
            )
            for address in addresses
        ]
        return _insert(conn, ctx, deliveries)

    def _addresses(self, conn: Connection, ctx: ActionContext, given: list[Any]) -> list[str]:
        plain = [g.strip() for g in given if isinstance(g, str) and "@" in g]
        named = [g for g in given if not (isinstance(g, str) and "@" in g)]
        found = dict.fromkeys(plain)
        for _, email in _people(conn, ctx, named):
            found.setdefault(email)
        return list(found)


def _insert(conn: Connection, ctx: ActionContext, deliveries: list[NewDelivery]) -> dict[str, Any]:
    if not deliveries:
        raise common.failed(InvalidInput("nobody to notify"))
    notification_id = uuid.uuid4()
    insert_deliveries(
        conn,
        workspace_id=ctx.workspace_id,
        notification_id=notification_id,
        deliveries=deliveries,
        now=ctx.now,
        execution_id=common.linked_execution(conn, ctx),
        rule_id=ctx.rule.id,
        action_id=ctx.action.id,
    )
    by_channel: dict[str, int] = {}
    for d in deliveries:
        by_channel[d.channel.value] = by_channel.get(d.channel.value, 0) + 1
    return {
        "notification_id": str(notification_id),
        "deliveries": len(deliveries),
        "channels": by_channel,
    }
