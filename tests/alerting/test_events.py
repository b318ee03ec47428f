"""``alert.recorded``: published once, in the transaction that records the alert."""

from __future__ import annotations

import pytest

from spine.alerting import AlertService, AlertStore, DeliveryPolicy
from spine.core.clock import FrozenClock
from spine.core.events import EventType
from spine.core.storage import Database
from tests.event_recorder import Abort, Aborter, Recorder, create_seen_table, seen

RECORDED = EventType.ALERT_RECORDED


def _service(
    db: Database, clock: FrozenClock, policy: DeliveryPolicy, *listeners: Recorder
) -> AlertService:
    return AlertService(AlertStore(db, clock, policy, listeners=listeners), policy)


def test_an_alert_is_published_iff_it_is_recorded(
    db: Database, clock: FrozenClock, policy: DeliveryPolicy, service: AlertService
) -> None:
    create_seen_table(db)
    fields = {"severity": "ERROR", "title": "t", "message": "m", "source": "s"}
    aborting = _service(db, clock, policy, Recorder(RECORDED), Aborter(RECORDED))
    with pytest.raises(Abort):
        aborting.store.record_alert(**fields)
    assert service.store.list_alerts(severity=None, since=None, limit=5) == []
    assert seen(db) == []

    alert_id = _service(db, clock, policy, Recorder(RECORDED)).store.record_alert(**fields)
    assert seen(db) == [("alert.recorded", alert_id, None)]
