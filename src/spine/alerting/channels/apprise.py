"""Apprise channel: any service Apprise speaks (``slack://``, ``msteams://``, ``json://`` ...).

Config: ``url`` (an Apprise URL; it usually embeds a token, so it is sealed at rest and
masked on display) or ``url_ref``. The outbound guard checks the URL's host when it
resolves to an address: self-hosted targets (``json://``, ``ntfy://host``) are checked,
while service URLs whose "host" is a token go to the service's fixed public endpoint.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import apprise

from spine.alerting.channels.base import DeliveryError, HttpPoster, Message, has_secret
from spine.core.errors import ErrorCategory, InvalidInput, SpineError
from spine.core.net import check_outbound_host
from spine.core.secrets import is_secret_ref, redact_url_password

_TYPES = {
    "INFO": apprise.NotifyType.INFO,
    "WARNING": apprise.NotifyType.WARNING,
    "ERROR": apprise.NotifyType.FAILURE,
    "CRITICAL": apprise.NotifyType.FAILURE,
}


def _check_host(url: str, allow_private: bool) -> None:
    host = urlsplit(url).hostname
    if not host or allow_private:
        return
    try:
        check_outbound_host(host, allow_private=False)
    except SpineError as error:
        if error.category is ErrorCategory.NETWORK:
            return  # not a resolvable host: a token of a service with a fixed endpoint
        raise


class AppriseChannel:
    """Notifications through the Apprise library."""

    secret_fields: tuple[str, ...] = ("url",)

    def validate(self, config: dict[str, Any], *, allow_private: bool) -> dict[str, Any]:
        """Check that Apprise understands the URL and its host passes the outbound guard."""
        if not has_secret(config, "url"):
            raise InvalidInput("apprise channel config needs 'url' (an Apprise URL) or 'url_ref'")
        url = config.get("url")
        if isinstance(url, str) and not is_secret_ref(url):
            if apprise.Apprise.instantiate(url) is None:
                raise InvalidInput(
                    f"apprise does not understand the URL {redact_url_password(url)[:40]}…"
                )
            _check_host(url, allow_private)
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
        """Notify through Apprise; Apprise reports only success or failure."""
        url = str(config["url"])
        _check_host(url, allow_private)
        notifier = apprise.Apprise()
        if not notifier.add(url):
            raise DeliveryError(
                "apprise does not understand the channel's URL", category=ErrorCategory.VALIDATION
            )
        with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
            ok = notifier.notify(
                title=message.summary(),
                body=message.text(),
                notify_type=_TYPES[message.alert.severity.value],
            )
            log_text = captured.getvalue() if hasattr(captured, "getvalue") else ""
        if not ok:
            detail = redact_url_password(str(log_text)).strip().splitlines()
            raise DeliveryError(
                "apprise could not notify" + (f": {detail[-1][:300]}" if detail else "")
            )
        return {"notified": True, "service": urlsplit(url).scheme}
