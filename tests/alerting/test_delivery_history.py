"""The workspace's delivery attempts newest first, by channel, in keyset pages (the
dashboard's alerts page), on SQLite and PostgreSQL."""

from __future__ import annotations

from spine.alerting import AlertService
from spine.alerting.delivery import DeliveryWorker
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.tenancy import Actor, TenancyService
from spine.tenancy.store import TenancyStore
from tests.alerting.receiver import Receiver
from tests.counting import selects, statements


def test_attempts_newest_first_with_their_alert_by_channel_and_page(
    db: Database,
    service: AlertService,
    worker: DeliveryWorker,
    receiver: Receiver,
    webhook: str,
) -> None:
    other = Receiver()
    other.start()
    try:
        service.add_channel("other", "webhook", {"url": other.url(), "secret": "env:HOOK_SECRET"})
        receiver.status = 500
        for title in ("first", "second"):
            service.send("ERROR", title, "m", source="test")
        assert worker.drain() == 4
    finally:
        other.stop()
    store = service.store
    with statements(db) as sent:
        rows = store.list_deliveries(limit=50)
    assert len(selects(sent)) == 1
    # Two alerts to two channels; each failed attempt to hook has a PENDING next one.
    assert len(rows) == 6
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    hook = store.get_channel(webhook)
    mine = store.list_deliveries(channel_id=hook.id, limit=50)
    assert {r["channel_name"] for r in mine} == {"hook"}
    assert sorted((r["alert_title"], r["attempt"], r["status"]) for r in mine) == [
        ("first", 1, "FAILED"),
        ("first", 2, "PENDING"),
        ("second", 1, "FAILED"),
        ("second", 2, "PENDING"),
    ]
    assert all(r["error"] for r in mine if r["status"] == "FAILED")
    first = store.list_deliveries(limit=4)
    rest = store.list_deliveries(before=first[-1]["id"], limit=4)
    assert [r["id"] for r in first + rest] == [r["id"] for r in rows]


def test_another_workspace_sees_none_of_our_attempts(
    db: Database,
    clock: FrozenClock,
    service: AlertService,
    worker: DeliveryWorker,
    webhook: str,
) -> None:
    service.send("ERROR", "ours", "m", source="test")
    worker.drain()
    assert len(service.store.list_deliveries()) == 1
    tenancy = TenancyService(TenancyStore(db, clock), clock)
    tenancy.create_organization("globex")
    theirs = tenancy.create_workspace("data", "globex", Actor()).id
    assert service.acting_as(Actor(workspace_id=theirs)).store.list_deliveries() == []
