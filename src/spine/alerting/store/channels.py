"""Channel rows: add, look up, update, enable/disable, remove, and their delivery counters."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.alerting.models import Channel, DeliveryPolicy, DeliveryStatus, Severity
from spine.alerting.store import breakers
from spine.alerting.store.rows import channel_from_row, is_ulid
from spine.core.errors import Conflict, NotFound
from spine.core.ids import new_id
from spine.core.storage.bounds import check_lengths
from spine.core.storage.schema.alerting import core_alert_channels, core_alert_deliveries

ch = core_alert_channels


class ChannelNotFound(NotFound):
    """No channel of the workspace has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no alert channel named {name!r} (see `spine alerts channels list`)")


def add_channel(
    conn: sa.Connection,
    now: datetime,
    *,
    workspace_id: uuid.UUID,
    name: str,
    channel_type: str,
    config: dict[str, Any],
    min_severity: Severity,
    domains: Sequence[str],
    throttle_minutes: int,
    created_by: str | None,
    policy: DeliveryPolicy,
) -> Channel:
    """Insert a channel of ``workspace_id`` (config validated and sealed) and its breaker.

    Raises:
        InvalidInput: If a text field is longer than its column (nothing is written).
        Conflict: If a channel with this name exists in the workspace.
    """
    check_lengths(
        ch,
        {"name": name, "channel_type": channel_type, "created_by": created_by},
        what="channel",
    )
    taken = sa.select(ch.c.id).where(ch.c.workspace_id == workspace_id, ch.c.name == name)
    if conn.execute(taken).first() is not None:
        raise Conflict(f"an alert channel named {name!r} already exists")
    channel_id = new_id()
    conn.execute(
        sa.insert(ch).values(
            id=channel_id,
            name=name,
            channel_type=channel_type,
            config_json=config,
            min_severity=min_severity.value,
            domains=list(domains) or None,
            enabled=True,
            throttle_minutes=throttle_minutes,
            consecutive_failures=0,
            created_at=now,
            updated_at=now,
            created_by=created_by,
            workspace_id=workspace_id,
        )
    )
    breakers.create_breaker(conn, now, channel_id, policy)
    return get_channel(conn, workspace_id, name)


def get_channel(
    conn: sa.Connection, workspace_id: uuid.UUID, name: str, *, for_update: bool = False
) -> Channel:
    """The workspace's channel named ``name`` (row locked until commit with ``for_update``).

    Raises:
        ChannelNotFound: If the workspace has none.
    """
    query = sa.select(ch).where(ch.c.workspace_id == workspace_id, ch.c.name == name)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise ChannelNotFound(name)
    return channel_from_row(row)


def get_channel_by_id(conn: sa.Connection, workspace_id: uuid.UUID, channel_id: str) -> Channel:
    """The workspace's channel with id ``channel_id``.

    Raises:
        ChannelNotFound: If the workspace has none (whatever ``channel_id`` holds).
    """
    row = None
    if is_ulid(channel_id):
        row = conn.execute(
            sa.select(ch).where(ch.c.workspace_id == workspace_id, ch.c.id == channel_id)
        ).first()
    if row is None:
        raise NotFound(f"no alert channel {channel_id!r}")
    return channel_from_row(row)


def list_channels(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    *,
    after: str | None = None,
    limit: int | None = None,
    webhooks: bool = False,
) -> list[Channel]:
    """The workspace's channels, by name (after name ``after``, at most ``limit``).

    The channels of spec 004 webhooks only with ``webhooks`` (``spine webhooks`` manages
    them).
    """
    query = sa.select(ch).where(ch.c.workspace_id == workspace_id).order_by(ch.c.name)
    if not webhooks:
        query = query.where(ch.c.events.is_(None))
    if after is not None:
        query = query.where(ch.c.name > after)
    if limit is not None:
        query = query.limit(limit)
    return [channel_from_row(r) for r in conn.execute(query)]


def _settings(channel: Channel) -> tuple[Any, ...]:
    return (
        channel.config,
        channel.min_severity,
        channel.domains,
        channel.enabled,
        channel.throttle_minutes,
    )


def update_channel(
    conn: sa.Connection,
    now: datetime,
    *,
    expected: Channel,
    config: dict[str, Any],
    min_severity: Severity,
    domains: Sequence[str],
    enabled: bool,
    throttle_minutes: int,
) -> Channel:
    """Write a channel's new settings, if nobody changed them since ``expected`` was read.

    The row keeps its id, so its waiting deliveries are sent with the new settings.

    Raises:
        ChannelNotFound: If the channel is gone.
        Conflict: If its settings changed since ``expected`` was read (nothing is written).
    """
    current = get_channel(conn, expected.workspace_id, expected.name, for_update=True)
    if current.id != expected.id or _settings(current) != _settings(expected):
        raise Conflict(
            f"alert channel {expected.name!r} was changed by someone else meanwhile; "
            "nothing was updated, try again"
        )
    conn.execute(
        sa.update(ch)
        .where(ch.c.id == expected.id)
        .values(
            config_json=config,
            min_severity=min_severity.value,
            domains=list(domains) or None,
            enabled=enabled,
            throttle_minutes=throttle_minutes,
            updated_at=now,
        )
    )
    return get_channel(conn, expected.workspace_id, expected.name)


def set_enabled(
    conn: sa.Connection, now: datetime, workspace_id: uuid.UUID, name: str, enabled: bool
) -> tuple[Channel, Channel]:
    """Enable or disable a channel (deliveries of a disabled channel wait).

    Returns:
        The channel before and after.

    Raises:
        ChannelNotFound: If the workspace has none.
    """
    old = get_channel(conn, workspace_id, name, for_update=True)
    conn.execute(sa.update(ch).where(ch.c.id == old.id).values(enabled=enabled, updated_at=now))
    return old, get_channel(conn, workspace_id, name)


def remove_channel(
    conn: sa.Connection, now: datetime, workspace_id: uuid.UUID, name: str
) -> tuple[Channel, int]:
    """Delete a channel and its breaker; its deliveries stay as history.

    Deliveries still waiting are closed as FAILED ("channel removed").

    Returns:
        The channel removed, and how many waiting deliveries were closed.

    Raises:
        ChannelNotFound: If the workspace has none.
    """
    channel = get_channel(conn, workspace_id, name, for_update=True)
    d = core_alert_deliveries
    closed = conn.execute(
        sa.update(d)
        .where(d.c.channel_id == channel.id, d.c.status == DeliveryStatus.PENDING.value)
        .values(
            status=DeliveryStatus.FAILED.value,
            error="the channel was removed before this delivery was sent",
            next_retry_at=None,
        ),
        execution_options={"preserve_rowcount": True},
    ).rowcount
    breakers.delete_breaker(conn, channel.id)
    conn.execute(sa.delete(ch).where(ch.c.id == channel.id))
    return channel, int(closed or 0)


def reseal_configs(
    conn: sa.Connection, now: datetime, reseal: Callable[[Any], tuple[Any, int]]
) -> tuple[int, int]:
    """Re-seal the sealed values of every channel's config with ``reseal``.

    Rows are locked (``FOR UPDATE`` on PostgreSQL) so that no change is lost.

    Returns:
        How many sealed values were re-sealed, and in how many channels.
    """
    secrets = changed = 0
    rows = conn.execute(sa.select(ch.c.id, ch.c.config_json).order_by(ch.c.id).with_for_update())
    for channel_id, config in rows.all():
        resealed, found = reseal(config)
        if found:
            conn.execute(
                sa.update(ch)
                .where(ch.c.id == channel_id)
                .values(config_json=resealed, updated_at=now)
            )
            secrets += found
            changed += 1
    return secrets, changed


def reset_channel_failures(conn: sa.Connection, channel_id: str) -> None:
    """Clear a channel's ``consecutive_failures`` (with ``spine breakers reset``)."""
    conn.execute(sa.update(ch).where(ch.c.id == channel_id).values(consecutive_failures=0))


def refuse_managed(channel: Channel) -> Channel:
    """``channel``, unless it delivers a spec 004 webhook (changed through the webhook).

    Raises:
        InvalidInput: If it is a webhook's channel.
    """
    if channel.events is not None:
        from spine.core.errors import InvalidInput

        raise InvalidInput(
            f"alert channel {channel.name!r} delivers a webhook: change it with "
            "`spine webhooks` (or the API's /webhooks)"
        )
    return channel
