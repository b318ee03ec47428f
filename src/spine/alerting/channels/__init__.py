"""Channel types, one module each; :func:`channel_type` looks one up by name."""

from __future__ import annotations

from spine.alerting.channels.base import ChannelType, DeliveryError, Message
from spine.alerting.models import CHANNEL_TYPES
from spine.core.errors import InvalidInput

__all__ = ["ChannelType", "DeliveryError", "Message", "channel_type"]


def channel_type(name: str) -> ChannelType:
    """The implementation of channel type ``name``.

    Imported on first use: Apprise takes a noticeable time to import, and most commands
    never send.

    Raises:
        InvalidInput: If ``name`` is not webhook, email, slack, servicenow or apprise.
    """
    if name == "webhook":
        from spine.alerting.channels.webhook import WebhookChannel

        return WebhookChannel()
    if name == "email":
        from spine.alerting.channels.email import EmailChannel

        return EmailChannel()
    if name == "slack":
        from spine.alerting.channels.slack import SlackChannel

        return SlackChannel()
    if name == "servicenow":
        from spine.alerting.channels.servicenow import ServiceNowChannel

        return ServiceNowChannel()
    if name == "apprise":
        from spine.alerting.channels.apprise import AppriseChannel

        return AppriseChannel()
    raise InvalidInput(f"unknown channel type {name!r}: expected {', '.join(CHANNEL_TYPES)}")
