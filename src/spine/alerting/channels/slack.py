"""Slack channel: an incoming webhook (``POST`` of ``text`` and ``blocks``).

Config: ``webhook_url`` (its path is the credential: sealed at rest, masked on display)
or ``webhook_url_ref``; optional ``channel`` and ``username`` overrides.
"""

from __future__ import annotations

from typing import Any

from spine.alerting.channels import http
from spine.alerting.channels.base import HttpPoster, Message, has_secret
from spine.alerting.models import ALLOW_PRIVATE_SETTING
from spine.core.errors import InvalidInput
from spine.core.net import check_outbound_url
from spine.core.secrets import is_secret_ref

_EMOJI = {"INFO": ":information_source:", "WARNING": ":warning:", "ERROR": ":x:"}


class SlackChannel:
    """Slack incoming webhooks."""

    secret_fields: tuple[str, ...] = ("webhook_url",)

    def validate(self, config: dict[str, Any], *, allow_private: bool) -> dict[str, Any]:
        """Check the webhook URL against the outbound guard."""
        if not has_secret(config, "webhook_url"):
            raise InvalidInput("slack channel config needs 'webhook_url' or 'webhook_url_ref'")
        url = config.get("webhook_url")
        if isinstance(url, str) and not is_secret_ref(url):
            check_outbound_url(
                url,
                allow_private=allow_private,
                setting=ALLOW_PRIVATE_SETTING,
                schemes=("https", "http"),
                unresolved_ok=True,
            )
        return config

    def send(
        self,
        message: Message,
        config: dict[str, Any],
        *,
        timeout: float,
        allow_private: bool,
        sender: HttpPoster,
    ) -> dict[str, Any]:
        """POST the message; Slack answers ``ok``."""
        alert = message.alert
        emoji = _EMOJI.get(alert.severity.value, ":rotating_light:")
        context = " · ".join(
            f"{label}: {value}"
            for label, value in (
                ("source", alert.source),
                ("domain", alert.domain),
                ("run", alert.run_id),
                ("alert", alert.id),
            )
            if value
        )
        body: dict[str, Any] = {
            "text": f"{emoji} {message.summary()}\n{alert.message}",
            "blocks": [
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"{emoji} *{message.summary()}*"},
                },
                {"type": "section", "text": {"type": "plain_text", "text": alert.message[:2900]}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
            ],
        }
        for key in ("channel", "username", "icon_emoji"):
            if config.get(key):
                body[key] = config[key]
        response = sender.post(
            config["webhook_url"], json=body, timeout=timeout, allow_private=allow_private
        )
        return http.response_record(response)
