"""ServiceNow channel: an incident through the Table API (``POST /api/now/table/incident``).

Config: ``instance_url`` (``https://acme.service-now.com``), ``username``, ``password`` (sealed)
or ``password_ref``; optional ``table`` (default ``incident``), ``assignment_group``,
``caller_id``, ``category``. Urgency and impact follow the alert's severity.
"""

from __future__ import annotations

from typing import Any

from spine.alerting.channels.base import HttpPoster, Message, has_secret, require
from spine.alerting.models import ALLOW_PRIVATE_SETTING
from spine.core.errors import InvalidInput
from spine.core.net import check_outbound_url

# ServiceNow's 1 (high) .. 3 (low) scale.
_LEVEL = {"CRITICAL": "1", "ERROR": "2", "WARNING": "3", "INFO": "3"}


class ServiceNowChannel:
    """ServiceNow incidents."""

    secret_fields: tuple[str, ...] = ("password",)

    def validate(self, config: dict[str, Any], *, allow_private: bool) -> dict[str, Any]:
        """Check the instance URL and that credentials are given."""
        url = str(require(config, "instance_url", "servicenow")).rstrip("/")
        check_outbound_url(
            url, allow_private=allow_private, setting=ALLOW_PRIVATE_SETTING, unresolved_ok=True
        )
        require(config, "username", "servicenow")
        if not has_secret(config, "password"):
            raise InvalidInput(
                "servicenow channel config needs 'password_ref' (env:VAR or file:PATH)"
            )
        table = str(config.get("table") or "incident")
        if not table.replace("_", "").isalnum():
            raise InvalidInput(f"servicenow table {table!r} is not a table name")
        return {**config, "instance_url": url, "table": table}

    def send(
        self,
        message: Message,
        config: dict[str, Any],
        *,
        timeout: float,
        allow_private: bool,
        sender: HttpPoster,
    ) -> dict[str, Any]:
        """Create the incident; return its ``sys_id`` and ``number``."""
        alert = message.alert
        level = _LEVEL[alert.severity.value]
        body: dict[str, Any] = {
            "short_description": message.summary()[:160],
            "description": message.text(),
            "urgency": level,
            "impact": level,
            "correlation_id": f"spine:{alert.id}",
            "correlation_display": "spine",
        }
        for key in ("assignment_group", "caller_id", "category"):
            if config.get(key):
                body[key] = config[key]
        url = f"{config['instance_url']}/api/now/table/{config.get('table') or 'incident'}"
        response = sender.post(
            url,
            json=body,
            headers={"accept": "application/json"},
            auth=(str(config["username"]), str(config["password"])),
            timeout=timeout,
            allow_private=allow_private,
        )
        try:
            parsed = response.json()
        except ValueError:
            parsed = {}
        result = parsed.get("result", {}) if isinstance(parsed, dict) else {}
        result = result if isinstance(result, dict) else {}
        return {
            "status_code": response.status_code,
            "sys_id": result.get("sys_id"),
            "number": result.get("number"),
        }
