"""Alerting: channels, routing, throttling, durable deliveries, dead letters, breakers.

An alert is written with one delivery per matching channel in one transaction (an
outbox); :class:`DeliveryWorker` sends them, retries with backoff, dead-letters after the
last attempt and keeps a circuit breaker per channel (docs/alerting.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from spine.alerting.delivery import DeliveryWorker
from spine.alerting.listener import FailedRunAlerts, ScheduleFireAlerts
from spine.alerting.models import (
    Alert,
    BreakerState,
    Channel,
    Delivery,
    DeliveryPolicy,
    DeliveryStatus,
    DlqStatus,
    Severity,
)
from spine.alerting.service import AlertService
from spine.alerting.signing import WebhookVerificationError, generate_secret, verify_signature
from spine.alerting.store import AlertStore, record_alert
from spine.config import Settings
from spine.core.clock import Clock
from spine.core.errors import ConfigurationError
from spine.core.storage import Database
from spine.core.storage.clock import DatabaseClock
from spine.core.workspaces import DEFAULT_WORKSPACE_ID

__all__ = [
    "Alert",
    "AlertService",
    "AlertStore",
    "BreakerState",
    "Channel",
    "Delivery",
    "DeliveryPolicy",
    "DeliveryStatus",
    "DeliveryWorker",
    "DlqStatus",
    "FailedRunAlerts",
    "ScheduleFireAlerts",
    "Severity",
    "WebhookVerificationError",
    "generate_secret",
    "policy_from_settings",
    "record_alert",
    "send_alert",
    "verify_signature",
]


def policy_from_settings(settings: Settings) -> DeliveryPolicy:
    """The delivery policy that ``SPINE_ALERTING_*`` settings describe."""
    return DeliveryPolicy(
        max_attempts=settings.alerting_max_attempts,
        backoff_base_seconds=settings.alerting_backoff_base_seconds,
        backoff_max_seconds=settings.alerting_backoff_max_seconds,
        lease_seconds=settings.alerting_lease_seconds,
        breaker_threshold=settings.alerting_breaker_threshold,
        breaker_cooldown_seconds=settings.alerting_breaker_cooldown_seconds,
        send_timeout_seconds=settings.alerting_send_timeout_seconds,
        concurrency=settings.alerting_delivery_concurrency,
        channel_concurrency=settings.alerting_channel_concurrency,
        allow_private_urls=settings.alerting_allow_private_urls,
        secret_key=settings.effective_secret_key(),
    )


def send_alert(
    severity: str,
    title: str,
    message: str,
    *,
    source: str,
    domain: str | None = None,
    run_id: str | None = None,
    execution_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    error_category: str | None = None,
    database: Database | None = None,
    clock: Clock | None = None,
    workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID,
) -> str:
    """Record an alert and one delivery per matching channel, in one transaction.

    The alert is of ``workspace_id`` (spine itself acting there: not audited) and goes
    to that workspace's channels only.

    ``database`` is spine's database, given explicitly: inside a workflow step call
    ``ctx.send_alert(...)`` instead, which also links the alert to the run. A delivery
    worker (``spine alerts deliver``) sends the deliveries.

    Returns:
        The alert's id.

    Raises:
        ConfigurationError: If no ``database`` is given.
        InvalidInput: If the severity is not INFO, WARNING, ERROR or CRITICAL, or title or
            source is empty.
    """
    if database is None:
        # It used to read settings and open an engine per call, below the wiring.
        raise ConfigurationError(
            "send_alert needs database=...: inside a workflow step call "
            "ctx.send_alert(severity, title, message); elsewhere use "
            "spine.bootstrap.build(settings).alerting().send(...)"
        )
    # The database's time: deliveries are due from it, whatever this host's clock says.
    now = (clock or DatabaseClock(database)).now()
    return database.run_write(
        lambda conn: record_alert(
            conn,
            now,
            workspace_id=workspace_id,
            severity=severity,
            title=title,
            message=message,
            source=source,
            domain=domain,
            run_id=run_id,
            execution_id=execution_id,
            metadata=metadata,
            error_category=error_category,
        )
    )
