"""Delivery as receivers expect it: ``Retry-After`` is honoured, 410 Gone disables a channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from spine.alerting import AlertService, DeliveryWorker
from spine.alerting.backoff import retry_after_seconds, wait_seconds
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries
from tests.alerting.conftest import START
from tests.alerting.receiver import Receiver


def _deliveries(db: Database) -> list[sa.Row[Any]]:
    d = core_alert_deliveries
    with db.read() as conn:
        return list(conn.execute(sa.select(d).order_by(d.c.attempt)))


# The fixtures' policy: back-off base 10 s, cap 60 s, jitter fixed: 7.5 s after attempt 1.
@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [
        (503, "45", 45.0),
        (429, "45", 45.0),
        (503, format_datetime(START + timedelta(seconds=50), usegmt=True), 50.0),
        (503, "86400", 60.0),  # within the back-off cap
        (503, "2", 7.5),  # never shorter than the back-off
        (503, "soon", 7.5),  # not a number nor a date: ignored
    ],
)
def test_retry_after_sets_when_the_next_attempt_is_due(
    service: AlertService,
    worker: DeliveryWorker,
    webhook: str,
    receiver: Receiver,
    db: Database,
    clock: FrozenClock,
    status: int,
    retry_after: str,
    wait: float,
) -> None:
    receiver.status = status
    receiver.headers = {"Retry-After": retry_after}
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    failed, pending = _deliveries(db)
    assert (failed.status, pending.status, pending.attempt) == ("FAILED", "PENDING", 2)
    assert pending.next_retry_at == clock.now() + timedelta(seconds=wait)
    clock.advance(wait - 0.5)
    assert worker.drain() == 0
    receiver.status = 200
    clock.advance(0.5)
    assert worker.drain() == 1
    assert _deliveries(db)[-1].status == "SENT"


NOW = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("120", NOW) == 120.0
    assert retry_after_seconds(" 0 ", NOW) == 0.0
    assert retry_after_seconds("Fri, 10 Jan 2025 12:01:30 GMT", NOW) == 90.0
    assert retry_after_seconds("Fri, 10 Jan 2025 11:00:00 GMT", NOW) == 0.0  # past
    for unusable in (None, "", "-5", "1.5", "soon", "9" * 100):
        assert retry_after_seconds(unusable, NOW) is None


@given(
    st.integers(min_value=1, max_value=20),
    st.one_of(st.none(), st.floats(min_value=0, max_value=1e9)),
    st.floats(min_value=0, max_value=1),
)
def test_wait_honours_retry_after_within_the_cap_and_never_shortens_the_backoff(
    attempt: int, retry_after: float | None, jitter: float
) -> None:
    wait = wait_seconds(attempt, retry_after, base=10, cap=60, rand=lambda: jitter)
    backoff = wait_seconds(attempt, None, base=10, cap=60, rand=lambda: jitter)
    assert backoff <= wait <= 60
    if retry_after is not None:
        assert wait >= min(60, retry_after)


def test_410_gone_disables_the_channel_and_raises_a_warning_alert(
    service: AlertService, worker: DeliveryWorker, receiver: Receiver, db: Database
) -> None:
    gone = Receiver(status=410)
    gone.start()
    try:
        service.add_channel("old", "webhook", {"url": gone.url(), "secret": "env:HOOK_SECRET"})
        service.add_channel("ops", "webhook", {"url": receiver.url(), "secret": "env:HOOK_SECRET"})
        alert_id = service.send("ERROR", "load failed", "boom", source="s")
        worker.drain()
    finally:
        gone.stop()
    assert {c.name: c.enabled for c in service.store.list_channels()} == {
        "old": False,
        "ops": True,
    }
    [to_old] = [r for r in _deliveries(db) if r.channel_name == "old"]
    assert (to_old.alert_id, to_old.status, to_old.attempt) == (alert_id, "FAILED", 1)
    [letter] = service.store.list_dead_letters()
    assert letter["error_category"] == "VALIDATION"
    warning = service.store.list_alerts(severity=None, since=None, limit=10)[0]
    assert (warning["severity"], warning["source"]) == ("WARNING", "spine.alerting")
    assert "old" in warning["title"] and "410" in warning["title"]
    _, deliveries = service.store.show_alert(warning["id"])
    assert [(d["channel_name"], d["status"]) for d in deliveries] == [("ops", "SENT")]
    assert [r.json()["data"]["severity"] for r in receiver.requests] == ["ERROR", "WARNING"]
