"""Circuit breakers of channels, in ``circuit_breakers`` so that every process shares them.

A channel's breaker is named ``alert-channel:<channel id>``: ids are unique across
workspaces, names only within one.

closed --N consecutive failures--> open --cool-down--> half_open (one probe)
half_open --probe succeeds--> closed; half_open --probe fails--> open.

Transitions are conditional UPDATEs (compare-and-set on the row's state and time), so
that of two workers racing to start a probe exactly one wins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from spine.alerting.models import BREAKER_PREFIX, BreakerState, DeliveryPolicy, breaker_name
from spine.core.ids import new_id
from spine.core.storage.dialect_sql import insert_if_absent
from spine.core.storage.schema.alerting import core_alert_channels
from spine.core.storage.schema.resilience import circuit_breakers

cb = circuit_breakers
ch = core_alert_channels


@dataclass(frozen=True, slots=True, kw_only=True)
class Gate:
    """Which channels (ids) may be sent to now: ``blocked`` not at all, ``probe`` once."""

    blocked: frozenset[str]
    probe: frozenset[str]


def create_breaker(
    conn: sa.Connection, now: datetime, channel_id: str, policy: DeliveryPolicy
) -> None:
    """Add a closed breaker for a new channel (nothing if one exists)."""
    insert_if_absent(
        conn,
        cb,
        {
            "breaker_id": new_id(),
            "name": breaker_name(channel_id),
            "state": BreakerState.CLOSED.value,
            "failure_count": 0,
            "success_count": 0,
            "config": {
                "failure_threshold": policy.breaker_threshold,
                "cooldown_seconds": policy.breaker_cooldown_seconds,
            },
            "updated_at": now,
        },
        key=["name"],
    )


def delete_breaker(conn: sa.Connection, channel_id: str) -> None:
    """Remove a channel's breaker."""
    conn.execute(sa.delete(cb).where(cb.c.name == breaker_name(channel_id)))


def gate(conn: sa.Connection, now: datetime, policy: DeliveryPolicy) -> Gate:
    """Sort channels (by id) whose breaker is not closed into blocked and probe-able.

    A probe-able channel still needs :func:`start_probe` to win its probe.
    """
    blocked: set[str] = set()
    probe: set[str] = set()
    rows = conn.execute(
        sa.select(cb.c.name, cb.c.state, cb.c.opened_at, cb.c.half_opened_at).where(
            cb.c.name.startswith(BREAKER_PREFIX), cb.c.state != BreakerState.CLOSED.value
        )
    )
    cooldown = timedelta(seconds=policy.breaker_cooldown_seconds)
    lease = timedelta(seconds=policy.lease_seconds)
    for row in rows:
        channel = row.name[len(BREAKER_PREFIX) :]
        if row.state == BreakerState.OPEN.value:
            ready = row.opened_at is None or row.opened_at + cooldown <= now
        else:  # half_open: a probe is out; a new one only if that one's lease ran out
            ready = row.half_opened_at is None or row.half_opened_at + lease <= now
        (probe if ready else blocked).add(channel)
    return Gate(blocked=frozenset(blocked), probe=frozenset(probe))


def start_probe(
    conn: sa.Connection, now: datetime, channel_id: str, policy: DeliveryPolicy
) -> bool:
    """Move an open (cooled-down) or stale half_open breaker to half_open; True if won."""
    cooldown = timedelta(seconds=policy.breaker_cooldown_seconds)
    lease = timedelta(seconds=policy.lease_seconds)
    result = conn.execute(
        sa.update(cb)
        .where(
            cb.c.name == breaker_name(channel_id),
            sa.or_(
                sa.and_(
                    cb.c.state == BreakerState.OPEN.value,
                    sa.or_(cb.c.opened_at.is_(None), cb.c.opened_at <= now - cooldown),
                ),
                sa.and_(
                    cb.c.state == BreakerState.HALF_OPEN.value,
                    sa.or_(cb.c.half_opened_at.is_(None), cb.c.half_opened_at <= now - lease),
                ),
            ),
        )
        .values(state=BreakerState.HALF_OPEN.value, half_opened_at=now, updated_at=now),
        execution_options={"preserve_rowcount": True},
    )
    return result.rowcount == 1


def end_probe_unsent(conn: sa.Connection, channel_id: str, started_at: datetime) -> None:
    """Let another probe go at once: the probe started at ``started_at`` was never sent."""
    conn.execute(
        sa.update(cb)
        .where(
            cb.c.name == breaker_name(channel_id),
            cb.c.state == BreakerState.HALF_OPEN.value,
            cb.c.half_opened_at == started_at,
        )
        .values(half_opened_at=None, updated_at=started_at)
    )


_CLOSE = (
    sa.update(cb)
    .where(cb.c.name == sa.bindparam("breaker"))
    .values(
        state=BreakerState.CLOSED.value,
        failure_count=0,
        success_count=sa.func.coalesce(cb.c.success_count, 0) + 1,
        last_success_at=sa.bindparam("now", type_=cb.c.updated_at.type),
        opened_at=None,
        half_opened_at=None,
        updated_at=sa.bindparam("now", type_=cb.c.updated_at.type),
    )
)


def record_success(conn: sa.Connection, now: datetime, channel_id: str) -> None:
    """A send succeeded: the breaker closes and its failure count restarts."""
    conn.execute(_CLOSE, {"breaker": breaker_name(channel_id), "now": now})


def record_failure(
    conn: sa.Connection, now: datetime, channel_id: str, policy: DeliveryPolicy
) -> str:
    """A send failed: count it; open the breaker at the threshold or after a failed probe.

    Returns:
        The breaker's state afterwards.
    """
    name = breaker_name(channel_id)
    row = conn.execute(sa.select(cb).where(cb.c.name == name).with_for_update()).first()
    if row is None:
        return BreakerState.CLOSED.value
    failures = int(row.failure_count or 0) + 1
    values: dict[str, Any] = {
        "failure_count": failures,
        "last_failure_at": now,
        "updated_at": now,
    }
    if row.state == BreakerState.HALF_OPEN.value or (
        row.state == BreakerState.CLOSED.value and failures >= policy.breaker_threshold
    ):
        values.update(state=BreakerState.OPEN.value, opened_at=now, half_opened_at=None)
    conn.execute(sa.update(cb).where(cb.c.name == name).values(**values))
    return str(values.get("state", row.state))


def state_of(
    conn: sa.Connection, channel_id: str, policy: DeliveryPolicy
) -> tuple[BreakerState, datetime | None]:
    """A channel's breaker state, and when an open one lets a probe through (else None).

    A channel without a breaker row counts as closed.
    """
    row = conn.execute(
        sa.select(cb.c.state, cb.c.opened_at).where(cb.c.name == breaker_name(channel_id))
    ).first()
    if row is None:
        return BreakerState.CLOSED, None
    state = BreakerState(row.state)
    if state != BreakerState.OPEN or row.opened_at is None:
        return state, None
    return state, row.opened_at + timedelta(seconds=policy.breaker_cooldown_seconds)


def list_breakers(conn: sa.Connection, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    """The breakers of the workspace's channels, by channel name.

    Rows keyed by column name, with ``channel_id`` and ``channel_name``.
    """
    query = (
        sa.select(cb, ch.c.id.label("channel_id"), ch.c.name.label("channel_name"))
        .join(ch, cb.c.name == sa.literal(BREAKER_PREFIX) + ch.c.id)
        .where(ch.c.workspace_id == workspace_id)
        .order_by(ch.c.name)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def reset_breaker(conn: sa.Connection, now: datetime, channel_id: str) -> bool:
    """Close channel ``channel_id``'s breaker and clear its failures; False if none."""
    result = conn.execute(
        sa.update(cb)
        .where(cb.c.name == breaker_name(channel_id))
        .values(
            state=BreakerState.CLOSED.value,
            failure_count=0,
            opened_at=None,
            half_opened_at=None,
            updated_at=now,
        ),
        execution_options={"preserve_rowcount": True},
    )
    return result.rowcount == 1
