"""Channel types, one module each; :func:`channel_type` looks one up by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from spine.alerting.channels.base import ChannelType, DeliveryError, HttpPoster, Message
from spine.alerting.models import CHANNEL_TYPES
from spine.core.errors import InvalidInput

if TYPE_CHECKING:
    from spine.alerting.channels.http import HttpSender

__all__ = [
    "ChannelType",
    "DeliveryError",
    "HttpPoster",
    "Message",
    "channel_type",
    "http_sender",
]


def http_sender() -> HttpSender:
    """A new HTTP client owner for the HTTP-based channels; its owner closes it.

    Imported on first use, like the channels: httpx is needed only by what sends.
    """
    from spine.alerting.channels.http import HttpSender

    return HttpSender()


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
