"""Webhook channel: a JSON POST signed as the Standard Webhooks spec says.

Config: ``url``; ``secret`` (``whsec_...``, sealed at rest) or ``secret_ref``
(``env:VAR`` / ``file:PATH``); optional ``headers`` (non-secret extra headers). After
``--rotate-secret``, ``previous_secret`` and ``overlap_until`` (:mod:`spine.alerting.rotation`):
until then the previous secret signs too.
The body is ``{"type": "alert.<severity>", "timestamp": ..., "data": {...}}``; for a spec
004 webhook's event, ``type`` is the event (``incident.created`` ...) and ``data`` its facts.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from spine.alerting.channels import http
from spine.alerting.channels.base import HttpPoster, Message, has_secret, require
from spine.alerting.models import ALLOW_PRIVATE_SETTING
from spine.alerting.rotation import PREVIOUS
from spine.alerting.signing import secret_key, signed_headers
from spine.core.errors import InvalidInput
from spine.core.net import check_outbound_url
from spine.core.secrets import is_secret_key, is_secret_ref


class WebhookChannel:
    """Signed JSON webhooks."""

    secret_fields: tuple[str, ...] = ("secret", PREVIOUS)

    def validate(self, config: dict[str, Any], *, allow_private: bool) -> dict[str, Any]:
        """Check the URL (outbound guard), the secret's form and the extra headers."""
        check_outbound_url(
            str(require(config, "url", "webhook")),
            allow_private=allow_private,
            setting=ALLOW_PRIVATE_SETTING,
            unresolved_ok=True,
        )
        if not has_secret(config, "secret"):
            raise InvalidInput(
                "webhook channel config needs 'secret' (whsec_...) or 'secret_ref' "
                "(env:VAR or file:PATH); make one with "
                "`python -c 'from spine.alerting import generate_secret; print(generate_secret())'`"
            )
        for field in self.secret_fields:
            secret = config.get(field)
            if isinstance(secret, str) and not is_secret_ref(secret):
                secret_key(secret)
        headers = config.get("headers") or {}
        if not isinstance(headers, dict) or any(is_secret_key(str(k)) for k in headers):
            raise InvalidInput(
                "webhook 'headers' must be an object of non-secret headers "
                "(the signature authenticates the request)"
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
        """POST the signed body; return the receiver's status and body.

        A spec 004 webhook's event is sent as ``{"type": <event>, "timestamp": <when it
        happened>, "data": <its facts>}``; an alert as ``alert.<severity>``.
        """
        if message.event is not None:
            document: dict[str, Any] = {
                "type": message.event,
                "timestamp": message.event_at or datetime.now(UTC).isoformat(),
                "data": message.event_data or {},
            }
        else:
            document = {
                "type": f"alert.{message.alert.severity.value.lower()}",
                "timestamp": datetime.now(UTC).isoformat(),
                "data": message.payload(),
            }
        body = json.dumps(document, separators=(",", ":"), default=str).encode("utf-8")
        headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
        previous = config.get(PREVIOUS)
        headers.update(
            signed_headers(
                config["secret"],
                message.message_id,
                int(time.time()),
                body,
                also=(previous,) if previous else (),
            )
        )
        headers["content-type"] = "application/json"
        response = sender.post(
            config["url"],
            content=body,
            headers=headers,
            timeout=timeout,
            allow_private=allow_private,
        )
        return http.response_record(response)
