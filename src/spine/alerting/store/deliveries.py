"""Claiming due deliveries and recording what a send did.

A PENDING row whose ``next_retry_at`` has come is due. A worker claims it by setting
``attempted_at`` (the claim's token) and moving ``next_retry_at`` to when the claim
expires, and commits before it sends: on PostgreSQL the candidates are locked with
``FOR UPDATE SKIP LOCKED``, on SQLite the write transaction (``BEGIN IMMEDIATE``) is the
lock. The result is recorded only if the row still carries the worker's token. A claim
whose worker died (PENDING with ``attempted_at`` set, past its expiry) is recorded as a
FAILED attempt and its next attempt is claimed in its place: an attempt number is never
sent by two workers.

Every attempt is its own row (unique ``(alert_id, channel_id, attempt)``): a failure
turns the row FAILED and inserts attempt + 1 as PENDING at the backoff time, or, after
the last attempt, puts the delivery in ``dead_letter_queue``
(:mod:`spine.alerting.store.dead_letters`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from spine.alerting.bounds import ERROR_STORED
from spine.alerting.models import (
    DLQ_SOURCE_TYPE,
    WEBHOOK_CHANNEL_PREFIX,
    Alert,
    Channel,
    DeliveryPolicy,
    DeliveryStatus,
    DlqStatus,
)
from spine.alerting.store import breakers, claiming, webhook_rows
from spine.alerting.store.alerts import alerts_by_id, record_alert
from spine.alerting.store.dead_letters import (
    dead_letter,
    dead_letter_delivery,
    list_dead_letters,
    resolve_dead_letter,
    round_start,
    source_id,
)
from spine.alerting.store.rows import channel_from_row
from spine.core.errors import Conflict
from spine.core.events import Publisher
from spine.core.ids import new_id
from spine.core.storage.schema.alerting import core_alert_channels, core_alert_deliveries
from spine.core.storage.schema.resilience import dead_letter_queue

d = core_alert_deliveries
ch = core_alert_channels
dlq = dead_letter_queue
_ROWCOUNT = {"preserve_rowcount": True}
#: ``source`` of the WARNING alert raised when a channel's endpoint answers 410 Gone.
GONE_ALERT_SOURCE = "spine.alerting"
LEASE_EXPIRED = "the delivery worker that claimed this attempt stopped before recording it"

# The dead letters' own queries are in ``dead_letters``; their names stay importable here.
__all__ = [
    "GONE_ALERT_SOURCE",
    "LEASE_EXPIRED",
    "Claim",
    "channel_of",
    "claim_due",
    "dead_letter",
    "deliveries_of",
    "list_dead_letters",
    "record_failed",
    "record_sent",
    "resolve_dead_letter",
    "retry_dead_letter",
    "source_id",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A delivery attempt this worker may send (and no other worker will)."""

    delivery_id: str
    attempt: int
    alert: Alert
    channel: Channel
    claimed_at: datetime
    probe: bool = False


def _insert_attempt(
    conn: sa.Connection,
    row: Any,
    attempt: int,
    due: datetime,
    *,
    claimed_at: datetime | None = None,
) -> str:
    delivery_id = new_id()
    conn.execute(
        sa.insert(d).values(
            id=delivery_id,
            alert_id=row.alert_id,
            channel_id=row.channel_id,
            channel_name=row.channel_name,
            status=DeliveryStatus.PENDING.value,
            attempt=attempt,
            attempted_at=claimed_at,
            next_retry_at=due,
        )
    )
    return delivery_id


def claim_due(
    conn: sa.Connection, now: datetime, policy: DeliveryPolicy, limit: int
) -> list[Claim]:
    """Claim up to ``limit`` due deliveries of enabled channels whose breaker lets them.

    Deliveries of a channel whose breaker is open wait (they are neither failed nor
    counted); a channel whose breaker may probe gets one delivery. A channel gets at
    most ``policy.channel_concurrency`` in flight, and channels take turns
    (:mod:`spine.alerting.store.claiming`).
    """
    lease = timedelta(seconds=policy.lease_seconds)
    gate = breakers.gate(conn, now, policy)
    rows = claiming.fair_due_rows(
        conn, now, limit=limit, per_channel=policy.channel_concurrency, blocked=gate.blocked
    )
    probing: set[str] = set()
    claims: list[tuple[Any, str, int, bool]] = []
    fresh: list[str] = []
    for row in rows:
        probe = row.channel_id in gate.probe
        if probe:
            if row.channel_id in probing or not breakers.start_probe(
                conn, now, row.channel_id, policy
            ):
                continue
            probing.add(row.channel_id)
        if row.attempted_at is not None:
            # The worker that claimed it died: its attempt counts as failed.
            next_attempt = _fail_attempt(conn, now, row, LEASE_EXPIRED, "INTERNAL", policy, now)
            if next_attempt is None:
                continue
            delivery_id = _insert_attempt(conn, row, next_attempt, now + lease, claimed_at=now)
            claims.append((row, delivery_id, next_attempt, probe))
            continue
        fresh.append(row.id)
        claims.append((row, row.id, int(row.attempt), probe))
    if fresh:
        conn.execute(
            sa.update(d)
            .where(d.c.id.in_(fresh))
            .values(attempted_at=now, next_retry_at=now + lease)
        )
    alerts = alerts_by_id(conn, [row.alert_id for row, *_ in claims])
    channels = _channels_by_id(conn, [row.channel_id for row, *_ in claims])
    return [
        Claim(
            delivery_id=delivery_id,
            attempt=attempt,
            alert=alerts[row.alert_id],
            channel=channels[row.channel_id],
            claimed_at=now,
            probe=probe,
        )
        for row, delivery_id, attempt, probe in claims
    ]


def _channels_by_id(conn: sa.Connection, ids: list[str]) -> dict[str, Channel]:
    if not ids:
        return {}
    rows = conn.execute(sa.select(ch).where(ch.c.id.in_(sorted(set(ids)))))
    return {row.id: channel_from_row(row) for row in rows}


def _owned(claim: Claim) -> Any:
    return sa.and_(
        d.c.id == claim.delivery_id,
        d.c.status == DeliveryStatus.PENDING.value,
        d.c.attempted_at == claim.claimed_at,
    )


def _ts(name: str) -> Any:
    return sa.bindparam(name, type_=d.c.delivered_at.type)


# Built once: recording a sent delivery is the worker's hot path.
_MARK_SENT = (
    sa.update(d)
    .where(
        d.c.id == sa.bindparam("b_delivery"),
        d.c.status == DeliveryStatus.PENDING.value,
        d.c.attempted_at == _ts("claimed_at"),
    )
    .values(
        status=DeliveryStatus.SENT.value,
        delivered_at=_ts("now"),
        response_json=sa.bindparam("response", type_=d.c.response_json.type),
        next_retry_at=None,
    )
)
_RESOLVE_RETRIED = (
    sa.update(dlq)
    .where(
        dlq.c.source_type == DLQ_SOURCE_TYPE,
        dlq.c.source_id == sa.bindparam("b_source"),
        dlq.c.status == DlqStatus.RETRYING.value,
    )
    .values(status=DlqStatus.RESOLVED.value, resolved_at=_ts("now"), next_retry_at=None)
)
_CHANNEL_SUCCEEDED = (
    sa.update(ch)
    .where(ch.c.id == sa.bindparam("b_channel"))
    .values(consecutive_failures=0, last_success_at=_ts("now"))
)


def record_sent(conn: sa.Connection, now: datetime, claim: Claim, response: dict[str, Any]) -> bool:
    """Mark the claimed attempt SENT; False if the claim was lost (its lease ran out)."""
    result = conn.execute(
        _MARK_SENT,
        {
            "b_delivery": claim.delivery_id,
            "claimed_at": claim.claimed_at,
            "now": now,
            "response": response,
        },
        execution_options=_ROWCOUNT,
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        _RESOLVE_RETRIED, {"b_source": source_id(claim.alert.id, claim.channel.id), "now": now}
    )
    # The channel's and the breaker's rows are shared by every worker: updated last, so
    # that their row locks are held for as little as possible before the commit.
    conn.execute(_CHANNEL_SUCCEEDED, {"b_channel": claim.channel.id, "now": now})
    breakers.record_success(conn, now, claim.channel.id)
    if claim.channel.events is not None:
        webhook_rows.note_attempt(conn, claim.channel.id, now, _code(response), ok=True)
    return True


def _code(response: dict[str, Any] | None) -> int | None:
    """The HTTP status a response record holds, if any."""
    code = (response or {}).get("status_code")
    return code if isinstance(code, int) else None


def record_failed(
    conn: sa.Connection,
    now: datetime,
    claim: Claim,
    *,
    error: str,
    category: str,
    retryable: bool,
    response: dict[str, Any] | None,
    policy: DeliveryPolicy,
    backoff: Callable[[int], float],
    gone: bool = False,
    listeners: Publisher | None = None,
) -> str | None:
    """Mark the claimed attempt FAILED and schedule the next one or dead-letter it.

    ``gone``: the endpoint answered 410 Gone; the channel is disabled and a WARNING
    alert (source ``spine.alerting``) is recorded for the other channels, with the
    failure, in the caller's transaction (``listeners`` get its ``alert.recorded``).

    Returns:
        ``"retry"``, ``"dead_letter"``, or ``None`` if the claim was lost.
    """
    row = conn.execute(sa.select(d).where(_owned(claim)).with_for_update()).first()
    if row is None:
        return None
    conn.execute(
        sa.update(ch)
        .where(ch.c.id == claim.channel.id)
        .values(consecutive_failures=ch.c.consecutive_failures + 1, last_failure_at=now)
    )
    breakers.record_failure(conn, now, claim.channel.id, policy)
    if claim.channel.events is not None:
        webhook_rows.note_attempt(conn, claim.channel.id, now, _code(response), ok=False)
    due = now + timedelta(seconds=backoff(claim.attempt))
    next_attempt = _fail_attempt(
        conn, now, row, error, category, policy, due, retryable=retryable, response=response
    )
    if gone:
        _disable_gone_channel(conn, now, claim, listeners)
    if next_attempt is None:
        return "dead_letter"
    _insert_attempt(conn, row, next_attempt, due)
    return "retry"


def _disable_gone_channel(
    conn: sa.Connection, now: datetime, claim: Claim, listeners: Publisher | None
) -> None:
    """Disable a channel whose endpoint answered 410 Gone and say so in a WARNING alert."""
    conn.execute(
        sa.update(ch).where(ch.c.id == claim.channel.id).values(enabled=False, updated_at=now)
    )
    name = claim.channel.name
    enable = f"spine alerts channels enable {name}"
    if claim.channel.events is not None:
        # A webhook's channel: the webhook is disabled with it, and enabled through it.
        webhook_rows.disable_for_channel(conn, claim.channel.id, now)
        enable = f"spine webhooks enable {name.removeprefix(WEBHOOK_CHANNEL_PREFIX)}"
    record_alert(
        conn,
        now,
        workspace_id=claim.channel.workspace_id,
        severity="WARNING",
        title=f"alert channel {name} disabled: its endpoint answered 410 Gone",
        message=(
            f"The endpoint of alert channel {name} answered HTTP 410 Gone to delivery "
            f"{claim.delivery_id} (alert {claim.alert.id}): it no longer exists. The "
            f"channel is disabled; its deliveries wait. Fix its config and run "
            f"`{enable}`, or remove it."
        ),
        source=GONE_ALERT_SOURCE,
        metadata={
            "channel": name,
            "channel_id": claim.channel.id,
            "alert_id": claim.alert.id,
            "delivery_id": claim.delivery_id,
        },
        listeners=listeners,
    )


def _fail_attempt(
    conn: sa.Connection,
    now: datetime,
    row: Any,
    error: str,
    category: str,
    policy: DeliveryPolicy,
    due: datetime,
    *,
    retryable: bool = True,
    response: dict[str, Any] | None = None,
) -> int | None:
    """Mark ``row`` FAILED; return the next attempt's number, or None once dead-lettered."""
    attempt = int(row.attempt)
    used = attempt - round_start(conn, row.alert_id, row.channel_id) + 1
    again = retryable and used < policy.max_attempts
    conn.execute(
        sa.update(d)
        .where(d.c.id == row.id)
        .values(
            status=DeliveryStatus.FAILED.value,
            error=error[:ERROR_STORED],
            response_json=response,
            next_retry_at=due if again else None,
        )
    )
    if again:
        return attempt + 1
    dead_letter_delivery(conn, now, row, error, category, policy)
    return None


def retry_dead_letter(
    conn: sa.Connection, now: datetime, workspace_id: uuid.UUID, dlq_id: str
) -> str:
    """Queue a dead-lettered delivery again, for a new round of attempts, due now.

    Returns:
        The id of the new PENDING delivery.

    Raises:
        NotFound: If the workspace has no such dead letter.
        Conflict: If it is resolved, already being retried, or its channel was removed.
    """
    entry = dead_letter(conn, workspace_id, dlq_id, for_update=True)
    if entry.status in (DlqStatus.RESOLVED.value, DlqStatus.RETRYING.value):
        raise Conflict(f"dead letter {dlq_id} is {entry.status}: nothing to retry")
    if entry.source_type != DLQ_SOURCE_TYPE:
        raise Conflict(f"dead letter {dlq_id} is a {entry.source_type}, not an alert delivery")
    payload = entry.payload or {}
    last = conn.execute(
        sa.select(d)
        .where(d.c.alert_id == payload.get("alert_id"), d.c.channel_id == payload.get("channel_id"))
        .order_by(d.c.attempt.desc())
        .limit(1)
    ).first()
    if last is None or last.channel_id is None:
        raise Conflict(f"dead letter {dlq_id}: its channel was removed")
    attempt = int(last.attempt) + 1
    delivery_id = _insert_attempt(conn, last, attempt, now)
    conn.execute(
        sa.update(dlq)
        .where(dlq.c.dlq_id == dlq_id)
        .values(
            status=DlqStatus.RETRYING.value,
            retry_count=sa.func.coalesce(dlq.c.retry_count, 0) + 1,
            next_retry_at=now,
            metadata={**(entry.metadata or {}), "resume_attempt": attempt},
        )
    )
    return delivery_id


def channel_of(conn: sa.Connection, delivery_id: str) -> tuple[str, str]:
    """The channel id and name of delivery ``delivery_id`` (which exists, with a channel)."""
    row = conn.execute(
        sa.select(d.c.channel_id, d.c.channel_name).where(d.c.id == delivery_id)
    ).one()
    return str(row.channel_id), str(row.channel_name)


def deliveries_of(conn: sa.Connection, alert_id: str) -> list[dict[str, Any]]:
    """Every delivery attempt of an alert, by channel then attempt."""
    rows = conn.execute(
        sa.select(d).where(d.c.alert_id == alert_id).order_by(d.c.channel_name, d.c.attempt)
    )
    return [dict(r._mapping) for r in rows]
