"""The alerting use cases the CLI and the API call: channels, sending, testing, the worker."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from spine.alerting import rotation
from spine.alerting.channels import Message, channel_type, http_sender
from spine.alerting.delivery import DeliveryWorker
from spine.alerting.models import Alert, Channel, DeliveryPolicy, Severity, breaker_name
from spine.alerting.routing import parse_domains
from spine.alerting.secrets import (
    display_config,
    merge_config,
    open_config,
    seal_config,
    unsealed_config,
)
from spine.alerting.signing import generate_secret
from spine.alerting.store import AlertStore
from spine.core.crypto import SecretBox, reseal
from spine.core.errors import InvalidInput
from spine.core.ids import new_id
from spine.tenancy import Actor

if TYPE_CHECKING:
    from spine.alerting.webhooks import WebhookService

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")


def _secret_fields(channel_type_name: str) -> tuple[str, ...]:
    try:
        return tuple(channel_type(channel_type_name).secret_fields)
    except InvalidInput:
        return ()


class AlertService:
    """Alerting for one database: what ``spine alerts``, ``dlq`` and ``breakers`` do.

    It acts for its store's actor (:attr:`AlertStore.actor`), in that actor's workspace.
    """

    def __init__(self, store: AlertStore, policy: DeliveryPolicy) -> None:
        # The store audits channel changes; which config keys are secrets is the
        # channel types' knowledge, which the store does not import.
        store.secret_fields = _secret_fields
        self.store = store
        self.policy = policy

    @property
    def actor(self) -> Actor:
        """Who acts, in which workspace."""
        return self.store.actor

    def acting_as(self, actor: Actor) -> AlertService:
        """This service acting as ``actor`` (a cheap copy)."""
        return AlertService(self.store.acting_as(actor), self.policy)

    def add_channel(
        self,
        name: str,
        channel_type_name: str,
        config: Mapping[str, Any],
        *,
        min_severity: str = "INFO",
        domains: str | Iterable[str] | None = None,
        throttle_minutes: int = 0,
        created_by: str | None = None,
    ) -> Channel:
        """Validate, seal and store a new channel.

        Raises:
            InvalidInput: If the name, type, config, severity or domains are invalid, or a
                credential is given in clear without ``SPINE_SECRET_KEY``.
            UrlNotAllowed: If the target is private and not allowed in settings.
            Conflict: If the name is taken.
        """
        if not _NAME.fullmatch(name):
            raise InvalidInput(
                f"channel name {name!r} must be 1-200 letters, digits, '_', '-', '.' or ':'"
            )
        if throttle_minutes < 0:
            raise InvalidInput("--throttle-minutes must be 0 or more")
        kind = channel_type(channel_type_name)
        if set(config) & set(rotation.MANAGED):
            raise InvalidInput(
                f"config keys {', '.join(rotation.MANAGED)} are set by rotation only"
            )
        level = Severity.parse(min_severity, "--min-severity")
        patterns = parse_domains(domains)
        checked = kind.validate(dict(config), allow_private=self.policy.allow_private_urls)
        sealed = seal_config(kind, checked, self.policy.secret_key)
        return self.store.add_channel(
            name=name,
            channel_type=channel_type_name,
            config=sealed,
            min_severity=level,
            domains=patterns,
            throttle_minutes=throttle_minutes,
            created_by=created_by,
        )

    def update_channel(
        self,
        name: str,
        *,
        config: Mapping[str, Any] | None = None,
        min_severity: str | None = None,
        domains: str | Iterable[str] | None = None,
        throttle_minutes: int | None = None,
        enabled: bool | None = None,
        rotate_secret: bool = False,
        overlap_hours: float = 24.0,
    ) -> tuple[Channel, str | None]:
        """Change what is given of a channel, in one transaction; keep the rest.

        ``config`` keys replace the stored keys (``null`` removes one); the result is
        validated (outbound URL guard included) and sealed as :meth:`add_channel` does.
        ``rotate_secret`` (webhook) makes a new signing secret and keeps the current one
        signing for ``overlap_hours`` (:mod:`spine.alerting.rotation`).

        Returns:
            The channel as stored, and the new secret if one was made (shown once).

        Raises:
            ChannelNotFound: If there is no such channel.
            InvalidInput: If nothing is to change, or a value is invalid.
            UrlNotAllowed: If the target is private and not allowed in settings.
            Conflict: If someone else changed the channel meanwhile (nothing is written).
        """
        given = dict(config) if config is not None else None
        if (
            given is None
            and not rotate_secret
            and all(value is None for value in (min_severity, domains, throttle_minutes, enabled))
        ):
            raise InvalidInput(
                "nothing to update: give --config, --min-severity, --domains, "
                "--throttle-minutes, --enable/--disable or --rotate-secret"
            )
        if throttle_minutes is not None and throttle_minutes < 0:
            raise InvalidInput("--throttle-minutes must be 0 or more")
        if not 0 <= overlap_hours <= 24 * 90:
            raise InvalidInput("--overlap-hours must be between 0 and 2160 (90 days)")
        level = Severity.parse(min_severity, "--min-severity") if min_severity else None
        patterns = parse_domains(domains) if domains is not None else None
        channel = self.store.get_channel(name)
        return self._update(
            channel,
            given=given,
            level=level,
            patterns=patterns,
            throttle_minutes=throttle_minutes,
            enabled=enabled,
            rotate_secret=rotate_secret,
            overlap_hours=overlap_hours,
        )

    def update_channel_by_id(
        self,
        channel_id: str,
        *,
        config: Mapping[str, Any] | None = None,
        min_severity: str | None = None,
        domains: str | Iterable[str] | None = None,
        throttle_minutes: int | None = None,
        enabled: bool | None = None,
    ) -> Channel:
        """Change the workspace's channel ``channel_id`` (the API's ``PATCH``).

        As :meth:`update_channel`; an empty change is no change (the channel as it is).
        """
        channel = self.store.get_channel_by_id(channel_id)
        if config is None and all(
            value is None for value in (min_severity, domains, throttle_minutes, enabled)
        ):
            return channel
        stored, _ = self.update_channel(
            channel.name,
            config=config,
            min_severity=min_severity,
            domains=domains,
            throttle_minutes=throttle_minutes,
            enabled=enabled,
        )
        return stored

    def _update(
        self,
        channel: Channel,
        *,
        given: dict[str, Any] | None,
        level: Severity | None,
        patterns: tuple[str, ...] | None,
        throttle_minutes: int | None,
        enabled: bool | None,
        rotate_secret: bool,
        overlap_hours: float,
    ) -> tuple[Channel, str | None]:
        kind = channel_type(channel.channel_type)
        new_config = channel.config
        if given is not None:
            managed = sorted(set(given) & set(rotation.MANAGED))
            if managed:
                raise InvalidInput(
                    f"config keys {', '.join(managed)} are set by --rotate-secret only"
                )
            merged = merge_config(kind, channel.config, given)
            opened = unsealed_config(kind, merged, self.policy.secret_key)
            checked = kind.validate(opened, allow_private=self.policy.allow_private_urls)
            new_config = seal_config(kind, checked, self.policy.secret_key)
        now = self.store.clock.now()
        generated: str | None = None
        if rotate_secret:
            if channel.channel_type != "webhook":
                raise InvalidInput("--rotate-secret is for webhook channels only")
            if given is not None and ("secret" in given or "secret_ref" in given):
                raise InvalidInput("give either --rotate-secret or a secret in --config")
            generated = generate_secret()
            new_config = rotation.rotated(
                new_config, generated, now, timedelta(hours=overlap_hours)
            )
            new_config = seal_config(kind, new_config, self.policy.secret_key)
        stored = self.store.update_channel(
            expected=channel,
            config=rotation.current(new_config, now),
            min_severity=level or channel.min_severity,
            domains=patterns if patterns is not None else channel.domains,
            enabled=channel.enabled if enabled is None else enabled,
            throttle_minutes=(
                channel.throttle_minutes if throttle_minutes is None else throttle_minutes
            ),
        )
        return stored, generated

    def channel_view(self, channel: Channel) -> dict[str, Any]:
        """A channel as the specification's columns, with credentials masked."""
        try:
            kind = channel_type(channel.channel_type)
        except InvalidInput:
            kind = None
        return {
            "id": channel.id,
            "name": channel.name,
            "channel_type": channel.channel_type,
            "config_json": display_config(kind, channel.config),
            "min_severity": channel.min_severity.value,
            "domains": list(channel.domains),
            "enabled": channel.enabled,
            "throttle_minutes": channel.throttle_minutes,
            "last_success_at": channel.last_success_at,
            "last_failure_at": channel.last_failure_at,
            "consecutive_failures": channel.consecutive_failures,
            "created_at": channel.created_at,
            "updated_at": channel.updated_at,
            "created_by": channel.created_by,
            "breaker": breaker_name(channel.id),
        }

    def send(
        self,
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
        dedup_key: str | None = None,
    ) -> str:
        """Record an alert and its deliveries; return the alert's id.

        ``dedup_key``: the caller's own key for throttling repeats (default: a hash of
        source, title and severity).
        """
        return self.store.record_alert(
            dedup=dedup_key,
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

    def reseal_secrets(self, secret_key: str) -> tuple[int, int]:
        """Re-seal every channel's stored secrets with the first key of ``secret_key``.

        One transaction: if a value opens with none of the keys, nothing is changed.

        Returns:
            How many secrets were re-sealed, and in how many channels.

        Raises:
            ConfigurationError: If ``secret_key`` is not Fernet keys.
            DecryptionFailed: If no key opens a stored secret.
        """
        box = SecretBox(secret_key)
        return self.store.reseal_secrets(lambda config: reseal(config, box))

    def test_channel(self, name: str, *, channel: Channel | None = None) -> dict[str, Any]:
        """Send a test message to channel ``name`` now, outside the outbox.

        Nothing is recorded: a test checks the configuration, it is not an alert.

        Raises:
            ChannelNotFound: If there is no such channel.
            DeliveryError: If the send fails (the message says why).
        """
        channel = channel or self.store.get_channel(name)
        kind = channel_type(channel.channel_type)
        alert = Alert(
            id=new_id(),
            severity=Severity.INFO,
            title=f"spine test message for channel {channel.name}",
            message="If you can read this, spine can alert you through this channel.",
            source="spine.alerts.test",
        )
        message = Message(
            alert=alert,
            message_id=f"msg_test_{alert.id}",
            delivery_id=alert.id,
            attempt=1,
            channel_name=channel.name,
        )
        config = open_config(
            kind, channel.config, self.policy.secret_key, now=self.store.clock.now()
        )
        with http_sender() as sender:
            return kind.send(
                message,
                config,
                timeout=self.policy.send_timeout_seconds,
                allow_private=self.policy.allow_private_urls,
                sender=sender,
            )

    @property
    def webhooks(self) -> WebhookService:
        """Spec 004 webhooks of the same workspace, delivered through this outbox."""
        from spine.alerting.store.webhooks import WebhookStore
        from spine.alerting.webhooks import WebhookService

        store = WebhookStore(self.store.database, self.store.clock, self.policy, actor=self.actor)
        return WebhookService(store, self.policy)

    def worker(
        self, *, concurrency: int | None = None, poll_seconds: float = 1.0
    ) -> DeliveryWorker:
        """A delivery worker over this database (``concurrency``: the policy's if None)."""
        return DeliveryWorker(
            self.store, self.policy, concurrency=concurrency, poll_seconds=poll_seconds
        )
