"""Email channel: SMTP with optional STARTTLS (or implicit TLS) and login.

Config: ``smtp_host``, ``smtp_port`` (default 587 with STARTTLS, 465 with ``ssl``, else 25),
``from``, ``recipients`` (a list), ``starttls`` (bool), ``ssl`` (bool), ``ca_file`` (a CA
bundle for a server with a private certificate), ``username`` and ``password_ref`` (or
``password``, sealed at rest).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from spine.alerting.channels.base import DeliveryError, HttpPoster, Message, require
from spine.alerting.models import ALLOW_PRIVATE_SETTING
from spine.core.errors import ErrorCategory, InvalidInput
from spine.core.net import check_outbound_host


def _port(config: dict[str, Any]) -> int:
    if config.get("smtp_port"):
        return int(config["smtp_port"])
    if config.get("ssl"):
        return 465
    return 587 if config.get("starttls") else 25


class EmailChannel:
    """Email through an SMTP server."""

    secret_fields: tuple[str, ...] = ("password",)

    def validate(self, config: dict[str, Any], *, allow_private: bool) -> dict[str, Any]:
        """Check host (outbound guard), port, sender and recipients."""
        host = str(require(config, "smtp_host", "email"))
        check_outbound_host(
            host, allow_private=allow_private, setting=ALLOW_PRIVATE_SETTING, unresolved_ok=True
        )
        require(config, "from", "email")
        recipients = require(config, "recipients", "email")
        if isinstance(recipients, str):
            recipients = [r.strip() for r in recipients.split(",") if r.strip()]
        if not isinstance(recipients, list) or not all("@" in str(r) for r in recipients):
            raise InvalidInput("email 'recipients' must be a list of addresses")
        try:
            port = _port(config)
        except (TypeError, ValueError):
            raise InvalidInput("email 'smtp_port' must be a number") from None
        if config.get("password") or config.get("password_ref"):
            require(config, "username", "email")
        return {**config, "recipients": [str(r) for r in recipients], "smtp_port": port}

    def send(
        self,
        message: Message,
        config: dict[str, Any],
        *,
        timeout: float,
        allow_private: bool,
        sender: HttpPoster,
    ) -> dict[str, Any]:
        """Send one mail to every recipient; return the refused recipients (if any)."""
        host = str(config["smtp_host"])
        check_outbound_host(host, allow_private=allow_private, setting=ALLOW_PRIVATE_SETTING)
        mail = EmailMessage()
        mail["Subject"] = message.summary()
        mail["From"] = str(config["from"])
        mail["To"] = ", ".join(config["recipients"])
        mail["Message-ID"] = f"<{message.message_id}@spine>"
        mail.set_content(message.text())
        context = ssl.create_default_context(cafile=config.get("ca_file") or None)
        smtp_class = smtplib.SMTP_SSL if config.get("ssl") else smtplib.SMTP
        try:
            kwargs: dict[str, Any] = {"timeout": timeout}
            if config.get("ssl"):
                kwargs["context"] = context
            with smtp_class(host, _port(config), **kwargs) as smtp:
                if config.get("starttls"):
                    smtp.starttls(context=context)
                if config.get("username") and config.get("password"):
                    smtp.login(str(config["username"]), str(config["password"]))
                refused = smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"SMTP login refused by {host}: {error.smtp_code}",
                category=ErrorCategory.AUTHENTICATION,
            ) from None
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryError(
                f"{host} refused every recipient",
                response={"refused": {k: v[0] for k, v in error.recipients.items()}},
                category=ErrorCategory.VALIDATION,
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"SMTP to {host} failed: {type(error).__name__}: {error}") from None
        return {
            "smtp_host": host,
            "recipients": config["recipients"],
            "refused": {k: v[0] for k, v in refused.items()},
        }
