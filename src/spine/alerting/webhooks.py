"""Spec 004 webhooks: what ``spine webhooks`` and the API's ``/webhooks`` do.

A webhook names the quality events it wants (:data:`~spine.alerting.models.WEBHOOK_EVENTS`)
and is delivered through its own alert channel, so that its deliveries are durable like
every alert's: the outbox, retries with back-off, dead letters, the circuit breaker.
Bodies are signed the Standard Webhooks way with the webhook's ``whsec_`` secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from spine.alerting.channels import DeliveryError, Message, channel_type, http_sender
from spine.alerting.models import WEBHOOK_EVENTS, Alert, DeliveryPolicy, Severity, Webhook
from spine.alerting.secrets import open_config, seal_config
from spine.alerting.signing import generate_secret
from spine.alerting.store.webhooks import WebhookStore
from spine.core.errors import InvalidInput
from spine.core.ids import new_id
from spine.core.secrets import is_secret_ref
from spine.tenancy import Actor

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,190}")
#: The ``type`` of the event ``spine webhooks test`` sends.
TEST_EVENT = "webhook.test"


def parse_events(events: str | Iterable[str]) -> tuple[str, ...]:
    """The events asked for (comma-separated text or a list), checked, without repeats.

    Raises:
        InvalidInput: If one is unknown, or none is given.
    """
    items = events.split(",") if isinstance(events, str) else list(events)
    names: list[str] = []
    for item in items:
        name = str(item).strip()
        if not name:
            continue
        if name not in WEBHOOK_EVENTS:
            raise InvalidInput(
                f"unknown webhook event {name!r}: expected {', '.join(WEBHOOK_EVENTS)}"
            )
        if name not in names:
            names.append(name)
    if not names:
        raise InvalidInput(f"give at least one event of {', '.join(WEBHOOK_EVENTS)}")
    return tuple(names)


class WebhookService:
    """Webhooks of the store's actor's workspace."""

    def __init__(self, store: WebhookStore, policy: DeliveryPolicy) -> None:
        self.store = store
        self.policy = policy
        self.kind = channel_type("webhook")

    @property
    def actor(self) -> Actor:
        """Who acts, in which workspace."""
        return self.store.actor

    def acting_as(self, actor: Actor) -> WebhookService:
        """This service acting as ``actor``."""
        return WebhookService(self.store.acting_as(actor), self.policy)

    def _config(self, url: str, secret: str) -> dict[str, Any]:
        """The channel's config: URL through the outbound guard, secret checked and sealed."""
        if not isinstance(url, str) or not url.strip():
            raise InvalidInput("a webhook needs --url")
        field = "secret_ref" if is_secret_ref(secret) else "secret"
        config = self.kind.validate(
            {"url": url.strip(), field: secret}, allow_private=self.policy.allow_private_urls
        )
        return seal_config(self.kind, config, self.policy.secret_key)

    def add(
        self, name: str, *, url: str, events: str | Iterable[str], secret: str | None = None
    ) -> tuple[Webhook, str | None]:
        """Add a webhook (audited) and its alert channel.

        ``secret``: ``whsec_...``, or a reference (``env:VAR``, ``file:PATH``); without
        one a secret is generated and returned (shown once; stored sealed).

        Returns:
            The webhook, and the generated secret if one was made.

        Raises:
            InvalidInput: Bad name, event, URL or secret; a literal secret while no
                ``SPINE_SECRET_KEY`` can be had.
            UrlNotAllowed: If the URL is private and not allowed in settings.
            Conflict: If the name is taken.
        """
        if not _NAME.fullmatch(name):
            raise InvalidInput(
                f"webhook name {name!r} must be 1-191 letters, digits, '_', '-' or '.'"
            )
        chosen = parse_events(events)
        generated = None if secret else generate_secret()
        config = self._config(url, secret or str(generated))
        hook, _ = self.store.add(name=name, url=url.strip(), events=chosen, config=config)
        return hook, generated

    def get(self, ref: str) -> Webhook:
        """The webhook named ``ref`` (or whose id it is); raises WebhookNotFound."""
        return self.store.get(ref)[0]

    def list_webhooks(self, *, after: str | None = None, limit: int | None = None) -> list[Webhook]:
        """The workspace's webhooks, by name."""
        return self.store.list(after=after, limit=limit)

    def update(
        self,
        ref: str,
        *,
        url: str | None = None,
        events: str | Iterable[str] | None = None,
        enabled: bool | None = None,
        secret: str | None = None,
    ) -> Webhook:
        """Change what is given (audited); the channel follows in the same transaction.

        Raises:
            WebhookNotFound: If there is none.
            InvalidInput, UrlNotAllowed: As :meth:`add`.
        """
        hook, channel = self.store.get(ref)
        values: dict[str, Any] = {}
        if events is not None:
            values["events"] = parse_events(events)
        if enabled is not None:
            values["enabled"] = enabled
        config = None
        if url is not None or secret is not None:
            new_url = hook.url if url is None else url
            kept = secret
            if kept is None and "secret_ref" in channel.config:
                kept = str(channel.config["secret_ref"])
            elif kept is None:
                now = self.store.clock.now()
                opened = open_config(self.kind, channel.config, self.policy.secret_key, now=now)
                kept = str(opened["secret"])
            config = self._config(new_url, kept)
            values["url"] = new_url.strip()
        return self.store.update(hook.name, values, config, secret_changed=secret is not None)

    def set_enabled(self, ref: str, enabled: bool) -> Webhook:
        """Enable or disable a webhook (a disabled one gets no new deliveries)."""
        return self.update(ref, enabled=enabled)

    def remove(self, ref: str) -> tuple[Webhook, int]:
        """Remove a webhook and its channel; return it and how many deliveries were closed."""
        return self.store.remove(ref)

    def test(self, ref: str) -> dict[str, Any]:
        """Send a signed ``webhook.test`` event now, outside the outbox; nothing is recorded.

        Returns:
            The receiver's response (``status_code``, ``body``).

        Raises:
            WebhookNotFound: If there is none.
            DeliveryError: If the send fails or the receiver answers non-2xx (its
                ``response`` holds the status).
        """
        hook, channel = self.store.get(ref)
        now = self.store.clock.now()
        alert = Alert(
            id=new_id(),
            severity=Severity.INFO,
            title=f"spine test event for webhook {hook.name}",
            message="If you can read this, spine can reach this webhook.",
            source="spine.webhooks.test",
        )
        message = Message(
            alert=alert,
            message_id=f"msg_test_{alert.id}",
            delivery_id=alert.id,
            attempt=1,
            channel_name=channel.name,
            event=TEST_EVENT,
            event_data={
                "webhook": hook.name,
                "webhook_id": str(hook.id),
                "events": list(hook.events),
                "message": alert.message,
            },
            event_at=now.astimezone(UTC).isoformat(),
        )
        config = open_config(self.kind, channel.config, self.policy.secret_key, now=now)
        with http_sender() as sender:
            return self.kind.send(
                message,
                config,
                timeout=self.policy.send_timeout_seconds,
                allow_private=self.policy.allow_private_urls,
                sender=sender,
            )


def response_code(outcome: Mapping[str, Any] | DeliveryError) -> int | None:
    """The HTTP status of a test's outcome (``None``: no answer)."""
    record = outcome.response if isinstance(outcome, DeliveryError) else outcome
    code = (record or {}).get("status_code")
    return code if isinstance(code, int) else None


def iso(value: datetime | None) -> str | None:
    """A time as ISO-8601 UTC text (``None`` stays)."""
    return None if value is None else value.astimezone(UTC).isoformat()
