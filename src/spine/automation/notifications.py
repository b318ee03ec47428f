"""The notification sender: sends the pending rows of ``notification_deliveries``.

``send_notification`` and ``send_email`` write one row per recipient and channel in the
transaction of their action; this loop (run by ``spine worker``) claims due rows
(``pending`` or ``retrying`` whose ``next_attempt_at`` has come, by the database's
clock), sends each through spine's channels and records the outcome on the row:

- e-mail through the alert channel of type ``email`` the action named (its SMTP
  server, sender and login), to the delivery's one address: ``sent`` once the server
  took it; ``bounced`` when the server refused the address;
- ``sms`` and ``push`` through the Apprise channel the action named: ``sent``;
- a failure is ``retrying`` with a back-off that doubles (alerting's base and cap,
  jittered) until the ``automation_notification_attempts``-th try, then ``failed``.

Every attempt counts in ``attempts``; the channel's answer is kept in
``provider_response`` and the failure's reason in ``error_message``. A claim pushes
``next_attempt_at`` out by a lease, so a sender killed mid-send leaves the row to be
tried again later (at least once, never lost).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from spine.alerting import policy_from_settings
from spine.alerting.backoff import backoff_seconds
from spine.alerting.channels import DeliveryError, Message, channel_type, http_sender
from spine.alerting.models import Alert as ChannelAlert
from spine.alerting.models import Severity
from spine.alerting.secrets import open_config
from spine.automation.models import DeliveryChannel, DeliveryStatus
from spine.automation.store.deliveries import Claimed, DeliveryStore, channel_named
from spine.config import Settings
from spine.core.clock import Clock
from spine.core.errors import ErrorCategory, SpineError
from spine.core.storage import Database
from spine.core.storage.outage import DatabaseWait, is_outage

log = logging.getLogger(__name__)

_SEVERITY = {
    "low": Severity.INFO,
    "medium": Severity.WARNING,
    "high": Severity.ERROR,
    "critical": Severity.CRITICAL,
}
#: The alert channel type each delivery channel goes through.
_CHANNEL_TYPE = {
    DeliveryChannel.EMAIL: "email",
    DeliveryChannel.SMS: "apprise",
    DeliveryChannel.PUSH: "apprise",
}
#: How long a claimed row is left alone before another sender may try it again.
LEASE = timedelta(minutes=5)
MAX_ERROR_CHARS = 2000


class NotificationSender:
    """Claims, sends and records notification deliveries of every workspace.

    Args:
        database: Spine's database.
        clock: The database's clock (what ``next_attempt_at`` is compared with).
        settings: ``automation_notification_attempts``, alerting's back-off, timeouts,
            private-address rule and secret key.
        batch_size: Most rows claimed at once.
        poll_seconds: How long an idle :meth:`run` waits before looking again.
        rand: The jitter's source (tests pin it).
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        settings: Settings,
        *,
        batch_size: int = 50,
        poll_seconds: float | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self.store = DeliveryStore(database)
        self.database = database
        self.clock = clock
        self.policy = policy_from_settings(settings)
        self.max_attempts = settings.automation_notification_attempts
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds or settings.automation_poll_seconds
        self.rand = rand
        self.database_wait = DatabaseWait("notification sender", logger=log)

    def run_once(self) -> int:
        """Send every due delivery (one batch at a time); return how many were tried."""
        tried = 0
        with http_sender() as http:
            while True:
                claimed = self.store.claim(self.clock.now(), LEASE, self.batch_size)
                for claim in claimed:
                    self._deliver(claim, http)
                tried += len(claimed)
                if len(claimed) < self.batch_size:
                    return tried

    def run(self, stop: threading.Event) -> None:
        """Send until ``stop`` is set, waiting out database outages."""
        while not stop.is_set():
            try:
                done = self.run_once()
            except Exception as error:
                if not is_outage(error):
                    raise
                self.database_wait.pause(error, stop)
                continue
            self.database_wait.succeeded()
            if not done:
                stop.wait(self.poll_seconds)

    def _deliver(self, claim: Claimed, http: Any) -> None:
        delivery = claim.delivery
        payload = claim.payload
        response: Mapping[str, Any] | None = None
        try:
            response = self._send(claim, http)
        except DeliveryError as error:
            failure: SpineError = error
            response = error.response
        except SpineError as error:
            failure = error
        except Exception as error:  # a channel's bug must not stop the loop
            log.exception("notification %s to %s raised", delivery.id, delivery.channel)
            failure = SpineError(
                f"{type(error).__name__}: {error}", category=ErrorCategory.INTERNAL, retryable=True
            )
        else:
            self._record(delivery.id, claim.attempt, DeliveryStatus.SENT, response, None, None)
            return
        now = self.clock.now()
        text = str(failure)[:MAX_ERROR_CHARS]
        log.info(
            "notification %s (%s, attempt %s) failed: %s",
            delivery.id,
            payload.get("channel_name"),
            claim.attempt,
            text,
        )
        if failure.category is ErrorCategory.VALIDATION and isinstance(failure, DeliveryError):
            status, retry_at = DeliveryStatus.BOUNCED, None  # the server refused the address
        elif claim.attempt >= self.max_attempts or not failure.retryable:
            status, retry_at = DeliveryStatus.FAILED, None
        else:
            wait = backoff_seconds(
                claim.attempt,
                base=self.policy.backoff_base_seconds,
                cap=self.policy.backoff_max_seconds,
                **({"rand": self.rand} if self.rand else {}),
            )
            status, retry_at = DeliveryStatus.RETRYING, now + timedelta(seconds=wait)
        self._record(delivery.id, claim.attempt, status, response, text, retry_at)

    def _record(
        self,
        delivery_id: uuid.UUID,
        attempt: int,
        status: DeliveryStatus,
        response: Mapping[str, Any] | None,
        error: str | None,
        retry_at: datetime | None,
    ) -> None:
        recorded = self.store.record(
            delivery_id,
            attempt,
            status=status,
            now=self.clock.now(),
            provider_response=response,
            error_message=error,
            next_attempt_at=retry_at,
        )
        if not recorded:
            log.info("notification %s: claim lost before its outcome was recorded", delivery_id)

    def _send(self, claim: Claimed, http: Any) -> dict[str, Any]:
        delivery = claim.delivery
        payload = claim.payload
        wanted = _CHANNEL_TYPE.get(delivery.channel)
        name = payload.get("channel_name")
        if wanted is None or not name:
            raise SpineError(f"no channel to send {delivery.channel.value} through")
        with self.database.read() as conn:
            channel = channel_named(conn, delivery.workspace_id, str(name))
        if channel.channel_type != wanted:
            raise SpineError(f"channel {name!r} is not of type {wanted}")
        kind = channel_type(channel.channel_type)
        config = open_config(kind, channel.config, self.policy.secret_key, now=self.clock.now())
        if delivery.channel is DeliveryChannel.EMAIL:
            config = {**config, "recipients": [str(payload.get("email"))]}
        alert = ChannelAlert(
            id=str(delivery.id),
            severity=_SEVERITY.get(str(payload.get("severity")).lower(), Severity.WARNING),
            title=str(payload.get("subject") or payload.get("rule") or "notification"),
            message=str(payload.get("message") or ""),
            source="automation",
            domain=str(payload.get("rule")) if payload.get("rule") else None,
            created_at=delivery.created_date,
            workspace_id=delivery.workspace_id,
        )
        message = Message(
            alert=alert,
            message_id=f"ntf_{delivery.id}",
            delivery_id=str(delivery.id),
            attempt=claim.attempt,
            channel_name=channel.name,
        )
        return kind.send(
            message,
            config,
            timeout=self.policy.send_timeout_seconds,
            allow_private=self.policy.allow_private_urls,
            sender=http,
        )
