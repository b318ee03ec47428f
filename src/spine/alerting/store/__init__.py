"""Alerting's SQL: the only place of the part that speaks to the database.

:class:`AlertStore` runs each use case in one transaction (retried whole on transient
errors); the functions it calls take a connection, so that :func:`record_alert` can also
write in a caller's transaction (a run that finishes FAILED).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.alerting.models import Channel, DeliveryPolicy, DeliveryStatus, Requeued, Severity
from spine.alerting.store import breakers, channels, deliveries
from spine.alerting.store.alerts import get_alert, list_alerts, record_alert
from spine.alerting.store.channels import ChannelNotFound
from spine.alerting.store.deliveries import Claim
from spine.core.clock import Clock
from spine.core.errors import NotFound
from spine.core.events import Listener, Publisher
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries

__all__ = ["AlertStore", "ChannelNotFound", "Claim", "record_alert"]


class AlertStore:
    """Channels, alerts, deliveries, dead letters and breakers in spine's database.

    Args:
        database: Spine's database.
        clock: Where times come from.
        policy: Delivery attempts, back-off, breaker and secret key.
        listeners: Get ``alert.recorded`` in the transaction that records an alert.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        policy: DeliveryPolicy,
        *,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self.database = database
        self.clock = clock
        self.policy = policy
        self.listeners = Publisher(listeners)

    def add_channel(self, **fields: Any) -> Channel:
        """Insert a validated, sealed channel (see :func:`channels.add_channel`)."""
        now = self.clock.now()
        return self.database.run_write(
            lambda conn: channels.add_channel(conn, now, policy=self.policy, **fields)
        )

    def get_channel(self, name: str) -> Channel:
        """The channel ``name``; raises :class:`ChannelNotFound`."""
        return self.database.run_read(lambda conn: channels.get_channel(conn, name))

    def list_channels(self) -> list[Channel]:
        """Every channel, by name."""
        return self.database.run_read(channels.list_channels)

    def update_channel(self, **fields: Any) -> Channel:
        """Change a channel in one transaction (see :func:`channels.update_channel`)."""
        now = self.clock.now()
        return self.database.run_write(lambda conn: channels.update_channel(conn, now, **fields))

    def set_enabled(self, name: str, enabled: bool) -> Channel:
        """Enable or disable channel ``name``."""
        now = self.clock.now()
        return self.database.run_write(lambda conn: channels.set_enabled(conn, now, name, enabled))

    def remove_channel(self, name: str) -> int:
        """Remove channel ``name``; return how many waiting deliveries were closed."""
        now = self.clock.now()
        return self.database.run_write(lambda conn: channels.remove_channel(conn, now, name))

    def reseal_secrets(self, reseal: Callable[[Any], tuple[Any, int]]) -> tuple[int, int]:
        """Re-seal every channel's sealed values in one transaction (all or none).

        Returns:
            How many values were re-sealed, and in how many channels.
        """
        now = self.clock.now()
        return self.database.run_write(lambda conn: channels.reseal_configs(conn, now, reseal))

    def record_alert(self, *, channels_only: Sequence[Channel] | None = None, **fields: Any) -> str:
        """Record an alert with its deliveries in one transaction; return its id."""
        now = self.clock.now()
        return self.database.run_write(
            lambda conn: record_alert(
                conn, now, channels=channels_only, listeners=self.listeners, **fields
            )
        )

    def list_alerts(
        self, *, severity: Severity | None, since: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        """Alerts newest first (rows keyed by the specification's column names)."""
        return self.database.run_read(
            lambda conn: list_alerts(conn, severity=severity, since=since, limit=limit)
        )

    def show_alert(self, alert_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """An alert's row and its delivery rows.

        Raises:
            NotFound: If there is no such alert.
        """

        def work(conn: sa.Connection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            from spine.core.storage.schema.alerting import core_alerts

            row = conn.execute(sa.select(core_alerts).where(core_alerts.c.id == alert_id)).first()
            if row is None:
                raise NotFound(f"no alert {alert_id!r}")
            return dict(row._mapping), deliveries.deliveries_of(conn, alert_id)

        return self.database.run_read(work)

    def alert_exists(self, alert_id: str) -> bool:
        """Whether alert ``alert_id`` exists."""
        return self.database.run_read(lambda conn: get_alert(conn, alert_id)) is not None

    def claim(self, limit: int) -> list[Claim]:
        """Claim up to ``limit`` due deliveries (committed before anything is sent)."""
        now = self.clock.now()
        return self.database.run_write(
            lambda conn: deliveries.claim_due(conn, now, self.policy, limit)
        )

    def hand_back(self, claims: Sequence[Claim]) -> None:
        """Give back claimed deliveries that were not sent (a worker stopping): due at once.

        Only a claim still held is given back (its attempt is not counted); a probe given
        back lets the channel's breaker probe again at once.
        """
        d = core_alert_deliveries

        def work(conn: sa.Connection) -> None:
            for claim in claims:
                given = conn.execute(
                    sa.update(d)
                    .where(
                        d.c.id == claim.delivery_id,
                        d.c.status == DeliveryStatus.PENDING.value,
                        d.c.attempted_at == claim.claimed_at,
                    )
                    .values(attempted_at=None, next_retry_at=claim.claimed_at),
                    execution_options={"preserve_rowcount": True},
                ).rowcount
                if given and claim.probe:
                    breakers.end_probe_unsent(conn, claim.channel.name, claim.claimed_at)

        if claims:
            self.database.run_write(work)

    def record_sent(self, claim: Claim, response: Mapping[str, Any]) -> bool:
        """Record a successful send; False if the claim had been lost."""
        now = self.clock.now()
        return self.database.run_write(
            lambda conn: deliveries.record_sent(conn, now, claim, dict(response))
        )

    def record_failed(
        self,
        claim: Claim,
        *,
        error: str,
        category: str,
        retryable: bool,
        response: Mapping[str, Any] | None,
        backoff: Callable[[int], float],
        gone: bool = False,
    ) -> str | None:
        """Record a failed send; return ``retry``, ``dead_letter`` or None (claim lost).

        ``gone`` (the endpoint answered 410 Gone) also disables the channel and records
        a WARNING alert saying so, in the same transaction.
        """
        now = self.clock.now()
        return self.database.run_write(
            lambda conn: deliveries.record_failed(
                conn,
                now,
                claim,
                error=error,
                category=category,
                retryable=retryable,
                response=dict(response) if response is not None else None,
                policy=self.policy,
                backoff=backoff,
                gone=gone,
                listeners=self.listeners,
            )
        )

    def list_dead_letters(self, status: str | None = None) -> list[dict[str, Any]]:
        """Dead letters of alert deliveries."""
        return self.database.run_read(
            lambda conn: deliveries.list_dead_letters(conn, status=status)
        )

    def retry_dead_letter(self, dlq_id: str) -> Requeued:
        """Queue a dead letter again; return the new delivery and its channel's breaker."""
        now = self.clock.now()

        def work(conn: sa.Connection) -> Requeued:
            delivery_id = deliveries.retry_dead_letter(conn, now, dlq_id)
            channel_name = deliveries.channel_name_of(conn, delivery_id)
            state, probe_from = breakers.state_of(conn, channel_name, self.policy)
            return Requeued(
                delivery_id=delivery_id,
                channel_name=channel_name,
                breaker=state,
                probe_from=probe_from,
            )

        return self.database.run_write(work)

    def resolve_dead_letter(self, dlq_id: str) -> None:
        """Mark a dead letter resolved."""
        now = self.clock.now()
        self.database.run_write(lambda conn: deliveries.resolve_dead_letter(conn, now, dlq_id))

    def list_breakers(self) -> list[dict[str, Any]]:
        """Every circuit breaker."""
        return self.database.run_read(breakers.list_breakers)

    def reset_breaker(self, name: str) -> None:
        """Close breaker ``name`` (a channel's name or ``alert-channel:<name>``).

        Raises:
            NotFound: If there is no such breaker.
        """
        from spine.alerting.models import BREAKER_PREFIX

        now = self.clock.now()

        def work(conn: sa.Connection) -> None:
            for candidate in (name, BREAKER_PREFIX + name):
                if breakers.reset_breaker(conn, now, candidate):
                    if candidate.startswith(BREAKER_PREFIX):
                        channels.reset_channel_failures(conn, candidate[len(BREAKER_PREFIX) :])
                    return
            raise NotFound(f"no circuit breaker named {name!r} (see `spine breakers list`)")

        self.database.run_write(work)
