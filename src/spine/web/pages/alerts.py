"""The alerts page: channels, their deliveries and attempts, dead letters, breakers.

Everything goes through the alerting part's service bound to the session's workspace
(``access.services.alerting()``, what the API and ``spine dlq`` / ``spine breakers``
call): retrying or resolving a dead letter and resetting a breaker are the store's
calls the CLI makes, audited as the session's key. Every list is bounded; deliveries
and dead letters page by keyset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from spine.alerting.models import BREAKER_PREFIX
from spine.core.clock import ensure_utc
from spine.core.errors import InvalidInput
from spine.web.access import PREFIX, Editor, Viewer
from spine.web.rendering import redirect, render

router = APIRouter()

#: How many of each a page shows.
CHANNELS = 50
ATTEMPTS = 50
DEAD_LETTERS = 25

_Cursor = Annotated[str | None, Query(max_length=80)]


@dataclass
class Delivery:
    """One alert's delivery to one channel: its attempts on this page, newest first."""

    alert_id: str
    alert_title: str
    alert_severity: str
    channel_name: str
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def latest(self) -> dict[str, Any]:
        """The newest attempt (its status is the delivery's)."""
        return self.attempts[0]

    @property
    def last_error(self) -> str | None:
        """The error of the newest attempt that failed, if any did."""
        return next((a["error"] for a in self.attempts if a["error"]), None)

    @property
    def first_attempted_at(self) -> datetime | None:
        """When the oldest attempt on this page was made."""
        times = [a["attempted_at"] for a in self.attempts if a["attempted_at"] is not None]
        return min(times) if times else None


def group_deliveries(attempts: list[dict[str, Any]]) -> list[Delivery]:
    """Attempt rows (newest first) grouped by alert and channel, in order of their newest.

    Args:
        attempts: ``core_alert_deliveries`` rows with ``alert_title`` and
            ``alert_severity``, newest first.
    """
    grouped: dict[tuple[str, str], Delivery] = {}
    for attempt in attempts:
        key = (str(attempt["alert_id"]), str(attempt["channel_id"] or attempt["channel_name"]))
        delivery = grouped.get(key)
        if delivery is None:
            delivery = grouped[key] = Delivery(
                alert_id=key[0],
                alert_title=attempt["alert_title"],
                alert_severity=attempt["alert_severity"],
                channel_name=attempt["channel_name"],
            )
        delivery.attempts.append(attempt)
    return list(grouped.values())


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    access: Viewer,
    channel: Annotated[str | None, Query(max_length=40)] = None,
    before: _Cursor = None,
    dlq: _Cursor = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """Channels with their breakers, deliveries with their attempts, and dead letters.

    Query: ``channel`` (a channel's id) keeps its deliveries only; ``before`` (an
    attempt's id), ``dlq`` (a dead letter's time and id) and ``after`` (a channel's
    name) are the cursors of the three lists.
    """
    store = access.services.alerting().store
    found = store.list_channels(after=after or None, limit=CHANNELS + 1)
    channels = found[:CHANNELS]
    chosen = store.get_channel_by_id(channel) if channel else None  # another's: not found
    # Breakers are listed by channel name too: the same cursor gives this page's.
    breakers = store.list_breakers(after=after or None, limit=CHANNELS)
    attempts = store.list_deliveries(
        channel_id=chosen.id if chosen else None, before=before or None, limit=ATTEMPTS + 1
    )
    letters = store.list_dead_letters(before=_timed(dlq), limit=DEAD_LETTERS + 1)
    shown_letters = letters[:DEAD_LETTERS]
    last = shown_letters[-1] if len(letters) > DEAD_LETTERS else None
    return render(
        request,
        "alerts.html",
        {
            "title": "Alerts",
            "channels": channels,
            "next_channels": channels[-1].name if len(found) > CHANNELS else None,
            "chosen": chosen,
            "breakers": breakers,
            "breaker_of": {b["channel_id"]: b for b in breakers},
            "deliveries": group_deliveries(attempts[:ATTEMPTS]),
            "next_attempts": attempts[ATTEMPTS - 1]["id"] if len(attempts) > ATTEMPTS else None,
            "dead_letters": shown_letters,
            "next_letters": (
                f"{last['last_failed_at'].isoformat()}|{last['dlq_id']}" if last else None
            ),
        },
    )


def _timed(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    at, _, row_id = cursor.partition("|")
    try:
        return ensure_utc(datetime.fromisoformat(at)), row_id
    except ValueError:
        raise InvalidInput("this page link is not valid; start again from the first page") from None


@router.post("/alerts/dlq/{dlq_id}/retry")
def retry_dead_letter(access: Editor, dlq_id: str) -> RedirectResponse:
    """Queue a dead letter again (as ``spine dlq retry``)."""
    requeued = access.services.alerting().store.retry_dead_letter(dlq_id)
    message = f"Dead letter {dlq_id} queued again as delivery {requeued.delivery_id}."
    if requeued.breaker.value != "closed":
        message += (
            f" The circuit breaker of {requeued.channel_name} is {requeued.breaker.value}: "
            "it waits until a probe gets through, or reset the breaker to send it now."
        )
    return redirect(f"{PREFIX}/alerts", flash=message)


@router.post("/alerts/dlq/{dlq_id}/resolve")
def resolve_dead_letter(access: Editor, dlq_id: str) -> RedirectResponse:
    """Mark a dead letter resolved: handled by hand, never retried (``spine dlq resolve``)."""
    access.services.alerting().store.resolve_dead_letter(dlq_id)
    return redirect(f"{PREFIX}/alerts", flash=f"Dead letter {dlq_id} resolved.")


@router.post("/alerts/breakers/{channel_id}/reset")
def reset_breaker(access: Editor, channel_id: str) -> RedirectResponse:
    """Close a channel's breaker by hand (``spine breakers reset``)."""
    store = access.services.alerting().store
    channel = store.get_channel_by_id(channel_id)
    store.reset_breaker(f"{BREAKER_PREFIX}{channel.id}")
    return redirect(
        f"{PREFIX}/alerts", flash=f"Breaker of {channel.name} closed: its deliveries go out again."
    )
