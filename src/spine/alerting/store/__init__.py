"""Alerting's SQL: the only place of the part that speaks to the database.

An :class:`AlertStore` acts for one :class:`~spine.tenancy.Actor`: what the CLI and the
API call (channels, alerts, dead letters, breakers) reads and writes only the actor's
workspace and writes one ``audit_log`` row per change in the change's transaction; the
delivery worker's methods (claim, record_sent, record_failed, hand_back) serve every
workspace.

:class:`AlertStore` runs each use case in one transaction (retried whole on transient
errors); the functions it calls take a connection, so that :func:`record_alert` can also
write in a caller's transaction (a run that finishes FAILED).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.alerting.models import (
    BREAKER_PREFIX,
    Channel,
    DeliveryPolicy,
    DeliveryStatus,
    Requeued,
    Severity,
)
from spine.alerting.store import breakers, channels, dead_letters, deliveries, delivery_history
from spine.alerting.store.alerts import get_alert, list_alerts, record_alert
from spine.alerting.store.channels import ChannelNotFound
from spine.alerting.store.deliveries import Claim
from spine.alerting.store.rows import is_ulid
from spine.core.clock import Clock
from spine.core.errors import NotFound
from spine.core.events import Listener, Publisher
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries, core_alerts
from spine.tenancy import OPERATOR, Actor, AuditAction, Change, changes_between
from spine.tenancy.bound import ActorBound
from spine.tenancy.store import record as record_audit

__all__ = ["AlertStore", "ChannelNotFound", "Claim", "audit_fields", "record_alert"]

#: Secret fields of a channel's config, besides those its type names (``secret_fields``):
#: any key that names a credential, and any value holding one (a URL with a password).
AuditFields = tuple[dict[str, Any], frozenset[str]]


def audit_fields(channel: Channel, secret_fields: Sequence[str]) -> AuditFields:
    """A channel's audited fields (config keys as ``config.<key>``) and its secrets.

    Secrets are recorded only as changed (:func:`spine.tenancy.changes_between`).
    """
    from spine.core.secrets import is_secret_key, redact

    fields: dict[str, Any] = {
        "name": channel.name,
        "channel_type": channel.channel_type,
        "min_severity": channel.min_severity.value,
        "domains": list(channel.domains),
        "enabled": channel.enabled,
        "throttle_minutes": channel.throttle_minutes,
    }
    secrets: set[str] = set()
    for key, value in channel.config.items():
        field = f"config.{key}"
        fields[field] = value
        if key in secret_fields or is_secret_key(str(key)) or redact(value) != value:
            secrets.add(field)
    return fields, frozenset(secrets)


class AlertStore(ActorBound):
    """Channels, alerts, deliveries, dead letters and breakers in spine's database.

    Args:
        database: Spine's database.
        clock: Where times come from.
        policy: Delivery attempts, back-off, breaker and secret key.
        listeners: Get ``alert.recorded`` in the transaction that records an alert.
        actor: Who acts, in which workspace (the CLI in the default one by default).
        secret_fields: A channel type's secret config keys (for audit rows).
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        policy: DeliveryPolicy,
        *,
        listeners: Sequence[Listener] = (),
        actor: Actor = OPERATOR,
        secret_fields: Callable[[str], Sequence[str]] = lambda channel_type: (),
    ) -> None:
        self.database = database
        self.clock = clock
        self.policy = policy
        self.listeners = Publisher(listeners)
        self.actor = actor
        self.secret_fields = secret_fields

    def _audit_channel(
        self,
        conn: sa.Connection,
        now: datetime,
        action: AuditAction,
        old: Channel | None,
        new: Channel | None,
    ) -> None:
        channel = new or old
        assert channel is not None
        secret_fields = self.secret_fields(channel.channel_type)
        before, hidden_before = audit_fields(old, secret_fields) if old else (None, frozenset())
        after, hidden_after = audit_fields(new, secret_fields) if new else (None, frozenset())
        change = Change(
            entity_type="alert_channel",
            entity_id=channel.id,
            action=action,
            changes=changes_between(before, after, secrets=hidden_before | hidden_after),
        )
        record_audit(conn, self.actor, change, now)

    def _audit(
        self, conn: sa.Connection, now: datetime, entity_type: str, entity_id: str, **fields: Any
    ) -> None:
        action = AuditAction.CREATE if entity_type == "alert" else AuditAction.UPDATE
        old = {k: v[0] for k, v in fields.items()} if action == AuditAction.UPDATE else None
        new = {k: v[1] for k, v in fields.items()} if old is not None else fields
        change = Change(
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            changes=changes_between(old, new),
        )
        record_audit(conn, self.actor, change, now)

    # --- channels (user-facing) ------------------------------------------------------

    def add_channel(self, **fields: Any) -> Channel:
        """Insert a validated, sealed channel (see :func:`channels.add_channel`)."""
        now = self.clock.now()

        def work(conn: sa.Connection) -> Channel:
            channel = channels.add_channel(
                conn, now, workspace_id=self.workspace_id, policy=self.policy, **fields
            )
            self._audit_channel(conn, now, AuditAction.CREATE, None, channel)
            return channel

        return self.database.run_write(work)

    def get_channel(self, name: str) -> Channel:
        """The workspace's channel ``name``; raises :class:`ChannelNotFound`."""
        return self.database.run_read(
            lambda conn: channels.get_channel(conn, self.workspace_id, name)
        )

    def get_channel_by_id(self, channel_id: str) -> Channel:
        """The workspace's channel with id ``channel_id``; raises NotFound."""
        return self.database.run_read(
            lambda conn: channels.get_channel_by_id(conn, self.workspace_id, channel_id)
        )

    def list_channels(
        self, *, after: str | None = None, limit: int | None = None, webhooks: bool = False
    ) -> list[Channel]:
        """The workspace's channels, by name (webhooks' channels only with ``webhooks``)."""
        return self.database.run_read(
            lambda conn: channels.list_channels(
                conn, self.workspace_id, after=after, limit=limit, webhooks=webhooks
            )
        )

    def update_channel(self, **fields: Any) -> Channel:
        """Change a channel in one transaction (see :func:`channels.update_channel`)."""
        now = self.clock.now()
        expected: Channel = fields["expected"]

        def work(conn: sa.Connection) -> Channel:
            if expected.workspace_id != self.workspace_id:
                raise ChannelNotFound(expected.name)
            channels.refuse_managed(expected)
            channel = channels.update_channel(conn, now, **fields)
            self._audit_channel(conn, now, AuditAction.UPDATE, expected, channel)
            return channel

        return self.database.run_write(work)

    def set_enabled(self, name: str, enabled: bool) -> Channel:
        """Enable or disable the workspace's channel ``name``."""
        now = self.clock.now()

        def work(conn: sa.Connection) -> Channel:
            channels.refuse_managed(channels.get_channel(conn, self.workspace_id, name))
            old, new = channels.set_enabled(conn, now, self.workspace_id, name, enabled)
            self._audit_channel(conn, now, AuditAction.UPDATE, old, new)
            return new

        return self.database.run_write(work)

    def remove_channel(self, name: str) -> int:
        """Remove the workspace's channel ``name``; return how many deliveries it closed."""
        now = self.clock.now()

        def work(conn: sa.Connection) -> int:
            channels.refuse_managed(channels.get_channel(conn, self.workspace_id, name))
            channel, closed = channels.remove_channel(conn, now, self.workspace_id, name)
            self._audit_channel(conn, now, AuditAction.DELETE, channel, None)
            return closed

        return self.database.run_write(work)

    def reseal_secrets(self, reseal: Callable[[Any], tuple[Any, int]]) -> tuple[int, int]:
        """Re-seal every channel's sealed values in one transaction (all or none).

        An operator's key rotation over the whole database (every workspace): the
        values do not change, only their sealing, so nothing is audited.

        Returns:
            How many values were re-sealed, and in how many channels.
        """
        now = self.clock.now()
        return self.database.run_write(lambda conn: channels.reseal_configs(conn, now, reseal))

    # --- alerts (user-facing) ------------------------------------------------------

    def record_alert(self, *, channels_only: Sequence[Channel] | None = None, **fields: Any) -> str:
        """Record an alert of the workspace with its deliveries; return its id.

        One transaction, with its audit row (none when spine itself records it).
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> str:
            alert_id = record_alert(
                conn,
                now,
                workspace_id=self.workspace_id,
                channels=channels_only,
                listeners=self.listeners,
                **fields,
            )
            names = {"dedup": "dedup_key"}
            audited = {
                names.get(key, key): fields.get(key)
                for key in ("severity", "title", "message", "source", "domain", "dedup")
                if fields.get(key) is not None
            }
            self._audit(conn, now, "alert", alert_id, **audited)
            return alert_id

        return self.database.run_write(work)

    def list_alerts(
        self,
        *,
        severity: Severity | None,
        since: datetime | None,
        limit: int,
        domain: str | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> list[dict[str, Any]]:
        """The workspace's alerts newest first (rows keyed by the column names)."""
        return self.database.run_read(
            lambda conn: list_alerts(
                conn,
                self.workspace_id,
                severity=severity,
                since=since,
                domain=domain,
                before=before,
                limit=limit,
            )
        )

    def show_alert(self, alert_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """An alert's row and its delivery rows.

        Raises:
            NotFound: If the workspace has no such alert.
        """

        def work(conn: sa.Connection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            a = core_alerts
            row = None
            if is_ulid(alert_id):
                row = conn.execute(
                    sa.select(a).where(a.c.id == alert_id, a.c.workspace_id == self.workspace_id)
                ).first()
            if row is None:
                raise NotFound(f"no alert {alert_id!r}")
            return dict(row._mapping), deliveries.deliveries_of(conn, alert_id)

        return self.database.run_read(work)

    def alert_exists(self, alert_id: str) -> bool:
        """Whether the workspace has alert ``alert_id``."""
        found = self.database.run_read(lambda conn: get_alert(conn, self.workspace_id, alert_id))
        return found is not None

    def list_deliveries(
        self, *, channel_id: str | None = None, before: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The workspace's delivery attempts newest first (``before``: an attempt's id)."""
        return self.database.run_read(
            lambda conn: delivery_history.list_deliveries(
                conn, self.workspace_id, channel_id=channel_id, before=before, limit=limit
            )
        )

    # --- the delivery worker (every workspace) -------------------------------------

    def claim(self, limit: int) -> list[Claim]:
        """Claim up to ``limit`` due deliveries of any workspace (committed before sending)."""
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
                    breakers.end_probe_unsent(conn, claim.channel.id, claim.claimed_at)

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

    # --- dead letters and breakers (user-facing) -----------------------------------

    def list_dead_letters(
        self,
        status: str | None = None,
        *,
        before: tuple[datetime, str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The workspace's dead letters of alert deliveries, newest failure first."""
        return self.database.run_read(
            lambda conn: dead_letters.list_dead_letters(
                conn, self.workspace_id, status=status, before=before, limit=limit
            )
        )

    def get_dead_letter(self, dlq_id: str) -> dict[str, Any]:
        """The workspace's dead letter ``dlq_id``; raises NotFound."""
        return self.database.run_read(
            lambda conn: dict(dead_letters.dead_letter(conn, self.workspace_id, dlq_id)._mapping)
        )

    def retry_dead_letter(self, dlq_id: str) -> Requeued:
        """Queue a dead letter again; return the new delivery and its channel's breaker."""
        now = self.clock.now()

        def work(conn: sa.Connection) -> Requeued:
            old = dead_letters.dead_letter(conn, self.workspace_id, dlq_id)
            delivery_id = deliveries.retry_dead_letter(conn, now, self.workspace_id, dlq_id)
            channel_id, channel_name = deliveries.channel_of(conn, delivery_id)
            state, probe_from = breakers.state_of(conn, channel_id, self.policy)
            self._audit(
                conn,
                now,
                "dead_letter",
                dlq_id,
                status=(old.status, "retrying"),
                retry_count=(old.retry_count, int(old.retry_count or 0) + 1),
            )
            return Requeued(
                delivery_id=delivery_id,
                channel_name=channel_name,
                breaker=state,
                probe_from=probe_from,
            )

        return self.database.run_write(work)

    def resolve_dead_letter(self, dlq_id: str) -> None:
        """Mark the workspace's dead letter ``dlq_id`` resolved."""
        now = self.clock.now()

        def work(conn: sa.Connection) -> None:
            old = dead_letters.dead_letter(conn, self.workspace_id, dlq_id)
            dead_letters.resolve_dead_letter(conn, now, self.workspace_id, dlq_id)
            self._audit(conn, now, "dead_letter", dlq_id, status=(old.status, "resolved"))

        self.database.run_write(work)

    def list_breakers(
        self, *, after: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The circuit breakers of the workspace's channels, by channel name."""

        def work(conn: sa.Connection) -> list[dict[str, Any]]:
            rows = breakers.list_breakers(conn, self.workspace_id)
            if after is not None:
                rows = [r for r in rows if r["channel_name"] > after]
            return rows if limit is None else rows[:limit]

        return self.database.run_read(work)

    def reset_breaker(self, name: str) -> None:
        """Close the breaker of the workspace's channel ``name``.

        ``name``: the channel's name, ``alert-channel:<name>``, or the breaker's own
        name ``alert-channel:<channel id>``.

        Raises:
            NotFound: If the workspace has no such breaker.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> None:
            candidates = [name]
            if name.startswith(BREAKER_PREFIX):
                candidates.append(name[len(BREAKER_PREFIX) :])
            for candidate in candidates:
                found = None
                try:
                    found = channels.get_channel(conn, self.workspace_id, candidate)
                except ChannelNotFound:
                    if is_ulid(candidate):
                        try:
                            found = channels.get_channel_by_id(conn, self.workspace_id, candidate)
                        except NotFound:
                            found = None
                if found is not None and breakers.reset_breaker(conn, now, found.id):
                    channels.reset_channel_failures(conn, found.id)
                    return
            raise NotFound(f"no circuit breaker named {name!r} (see `spine breakers list`)")

        self.database.run_write(work)
