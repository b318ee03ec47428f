"""Alerting's records and names: severities, delivery statuses, channels, alerts, deliveries.

Statuses keep the specification's values (spec 000 ``core_alert_deliveries.status``,
spec 001 ``dead_letter_queue.status`` and ``circuit_breakers.state``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from spine.core.errors import InvalidInput
from spine.core.workspaces import DEFAULT_WORKSPACE_ID


class Severity(StrEnum):
    """Alert severities, in increasing order."""

    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """0 for INFO up to 3 for CRITICAL."""
        return _ORDER.index(self)

    @classmethod
    def parse(cls, value: str, option: str = "severity") -> Severity:
        """The severity named ``value`` (any case).

        Raises:
            InvalidInput: If it is not one of INFO, WARNING, ERROR, CRITICAL.
        """
        try:
            return cls(value.strip().upper())
        except (ValueError, AttributeError):
            raise InvalidInput(
                f"unknown {option} {value!r}: expected INFO, WARNING, ERROR or CRITICAL"
            ) from None


_ORDER = list(Severity)


class DeliveryStatus(StrEnum):
    """One delivery attempt's status (spec 000)."""

    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    THROTTLED = "THROTTLED"


class DlqStatus(StrEnum):
    """A dead letter's status (spec 001)."""

    PENDING = "pending"
    RETRYING = "retrying"
    EXHAUSTED = "exhausted"
    RESOLVED = "resolved"


class BreakerState(StrEnum):
    """A circuit breaker's state (spec 001)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


CHANNEL_TYPES = ("webhook", "email", "slack", "servicenow", "apprise")
#: The setting (``spine.config.Settings`` field) that lets channels reach private
#: addresses; named by every refusal (:func:`spine.core.net.refusal_message`).
ALLOW_PRIVATE_SETTING = "alerting_allow_private_urls"
#: ``dead_letter_queue.source_type`` of an alert delivery.
DLQ_SOURCE_TYPE = "alert_delivery"
#: Prefix of a channel's circuit breaker name in ``circuit_breakers``.
BREAKER_PREFIX = "alert-channel:"


def breaker_name(channel_id: str) -> str:
    """The ``circuit_breakers.name`` of a channel, keyed by its id.

    Two workspaces' channels of one name never share a breaker.
    """
    return BREAKER_PREFIX + channel_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """A row of ``core_alert_channels``; ``config`` holds references or sealed secrets."""

    id: str
    name: str
    channel_type: str
    config: dict[str, Any]
    min_severity: Severity = Severity.INFO
    domains: tuple[str, ...] = ()
    enabled: bool = True
    throttle_minutes: int = 0
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    consecutive_failures: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID
    #: The events of the spec 004 webhook this channel delivers (``None``: an ordinary
    #: channel). Such a channel is left out of routing by severity.
    events: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A row of ``core_alerts``."""

    id: str
    severity: Severity
    title: str
    message: str
    source: str
    domain: str | None = None
    execution_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    error_category: str | None = None
    created_at: datetime | None = None
    dedup_key: str | None = None
    capture_id: str | None = None
    workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A row of ``core_alert_deliveries``: one attempt to send one alert to one channel."""

    id: str
    alert_id: str
    channel_id: str | None
    channel_name: str
    status: DeliveryStatus
    attempt: int
    attempted_at: datetime | None = None
    delivered_at: datetime | None = None
    response: dict[str, Any] | None = None
    error: str | None = None
    next_retry_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryPolicy:
    """How the delivery worker retries, leases and trips breakers (from settings).

    ``concurrency``: deliveries a worker sends at once (its threads).
    ``channel_concurrency``: deliveries of one channel in flight at once, over every
    worker: what one channel whose endpoint hangs can hold of the workers' threads.
    """

    max_attempts: int = 5
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    lease_seconds: float = 120.0
    breaker_threshold: int = 5
    breaker_cooldown_seconds: float = 300.0
    send_timeout_seconds: float = 10.0
    concurrency: int = 4
    channel_concurrency: int = 2
    allow_private_urls: bool = False
    secret_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Requeued:
    """A dead letter queued again (``spine dlq retry``), and what may hold it back.

    ``breaker``: the state of the channel's circuit breaker; unless it is closed the new
    attempt waits for a probe (``probe_from``: when the cool-down of an open breaker
    ends) or for ``spine breakers reset``.
    """

    delivery_id: str
    channel_name: str
    breaker: BreakerState
    probe_from: datetime | None = None


#: The events a spec 004 webhook may ask for (``webhooks.events``).
WEBHOOK_EVENTS = ("check.failed", "incident.created", "incident.acknowledged", "incident.resolved")
#: ``core_alerts.source`` of a message recorded only to carry webhook deliveries through
#: the outbox (``check.failed``, ``incident.acknowledged``): not an alert, not listed.
WEBHOOK_SOURCE = "spine.webhooks"
#: Prefix of the name of the alert channel that delivers a webhook.
WEBHOOK_CHANNEL_PREFIX = "webhook:"


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    """A spec 004 webhook (``webhooks``); its URL and secret live in its alert channel.

    ``failure_count``: failed attempts since the last successful one.
    """

    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    url: str
    events: tuple[str, ...]
    enabled: bool = True
    last_triggered_at: datetime | None = None
    last_response_code: int | None = None
    failure_count: int = 0
    channel_id: str | None = None
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The spec's columns (the secret never: ``secret`` says whether one is set)."""
        return {
            "id": str(self.id),
            "workspace_id": str(self.workspace_id),
            "name": self.name,
            "url": self.url,
            "secret": "********",
            "events": list(self.events),
            "enabled": self.enabled,
            "last_triggered_at": self.last_triggered_at,
            "last_response_code": self.last_response_code,
            "failure_count": self.failure_count,
            "channel_id": self.channel_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
