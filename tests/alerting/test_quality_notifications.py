"""Quality events to spec 004 webhooks and alert channels, through the outbox, over real HTTP.

The events are published here through a publisher in a transaction of spine's database,
as the quality part's store publishes them when it records a result or an incident.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from spine.alerting import (
    AlertService,
    AlertStore,
    DeliveryPolicy,
    DeliveryWorker,
    verify_signature,
)
from spine.alerting.notifications import QualityNotifications
from spine.alerting.webhooks import WebhookService
from spine.core.clock import FrozenClock
from spine.core.crypto import generate_key
from spine.core.errors import InvalidInput
from spine.core.events import Event, EventType, Publisher
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries, core_alerts
from spine.core.storage.schema.dq_platform import audit_log
from spine.tenancy import DEFAULT_WORKSPACE_ID, Actor
from tests.alerting.conftest import WHSEC
from tests.alerting.receiver import Receiver

INCIDENT = "0b0f8f1e-8a55-4c55-9a41-3f0f3c1b2a10"
CHECK = "6a1c0d7e-2b3f-4e4a-8f5d-1c2b3a4d5e6f"


@pytest.fixture
def keyed(policy: DeliveryPolicy) -> DeliveryPolicy:
    """The fixture's policy with a secret key (webhook secrets are sealed)."""
    return dataclasses.replace(policy, secret_key=generate_key())


@pytest.fixture
def alerting(db: Database, clock: FrozenClock, keyed: DeliveryPolicy) -> AlertService:
    return AlertService(AlertStore(db, clock, keyed), keyed)


@pytest.fixture
def hooks(alerting: AlertService) -> WebhookService:
    return alerting.webhooks


@pytest.fixture
def deliverer(alerting: AlertService, keyed: DeliveryPolicy) -> Any:
    made = DeliveryWorker(alerting.store, keyed, batch_size=50, rand=lambda: 0.5)
    yield made
    made.close()


def _incident(event: str, severity: str = "error", **extra: Any) -> dict[str, Any]:
    return {
        "event": event,
        "incident_id": INCIDENT,
        "check_id": CHECK,
        "check_name": "orders_not_null",
        "table": "sales.orders",
        "severity": severity,
        "status": {"incident.created": "open"}.get(event, event.rpartition(".")[2]),
        "failure_count": 1,
        "first_seen": "2025-01-10T12:00:00+00:00",
        "last_seen": "2025-01-10T12:00:00+00:00",
        "acknowledged_by": None,
        "resolution_notes": None,
        **extra,
    }


def _result(passed: bool) -> dict[str, Any]:
    return {
        "check_id": CHECK,
        "check_name": "orders_not_null",
        "check_type": "null_count",
        "connection": "dw",
        "table": "sales.orders",
        "column": "customer_id",
        "sensor_value": "5.0056",
        "rule_passed": passed,
        "severity": None if passed else "error",
        "error_message": None,
        "executed_at": "2025-01-10T12:00:00+00:00",
        "result_id": 7,
    }


def _publish(
    db: Database,
    clock: FrozenClock,
    kind: EventType,
    payload: Mapping[str, Any],
    workspace: uuid.UUID = DEFAULT_WORKSPACE_ID,
) -> None:
    subject = INCIDENT if kind is EventType.INCIDENT_CHANGED else CHECK
    event = Event(
        type=kind, subject_id=subject, payload=payload, at=clock.now(), workspace_id=str(workspace)
    )
    publisher = Publisher([QualityNotifications(clock)])
    db.run_write(lambda conn: publisher.publish(conn, event))


def _rows(db: Database, table: sa.Table) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


def _by_path(receiver: Receiver, path: str) -> list[Any]:
    return [r for r in receiver.requests if r.path == path]


def test_events_reach_the_webhooks_that_ask_and_incidents_raise_alerts(
    db: Database,
    clock: FrozenClock,
    alerting: AlertService,
    hooks: WebhookService,
    deliverer: DeliveryWorker,
    receiver: Receiver,
) -> None:
    alerting.add_channel("ops", "webhook", {"url": receiver.url("/ops"), "secret": WHSEC})
    created, generated = hooks.add(
        "pager", url=receiver.url("/pager"), events="incident.created,check.failed"
    )
    assert generated is not None and generated.startswith("whsec_")
    assert created.events == ("incident.created", "check.failed")
    hooks.add("closer", url=receiver.url("/closer"), events=["incident.resolved"], secret=WHSEC)
    hooks.add("off", url=receiver.url("/off"), events="check.failed", secret=WHSEC)
    hooks.set_enabled("off", False)

    _publish(db, clock, EventType.INCIDENT_CHANGED, _incident("incident.created"))
    _publish(db, clock, EventType.CHECK_RESULT, _result(passed=False))
    _publish(db, clock, EventType.CHECK_RESULT, _result(passed=True))  # nothing

    # One spine alert (the incident); the failed run is no alert, only a message.
    listed = alerting.store.list_alerts(severity=None, since=None, limit=10)
    assert [(a["severity"], a["source"], a["domain"]) for a in listed] == [
        ("ERROR", "quality", "sales.orders")
    ]
    assert len(_rows(db, core_alerts)) == 2
    channels = sorted(d["channel_name"] for d in _rows(db, core_alert_deliveries))
    assert channels == ["ops", "webhook:pager", "webhook:pager"]

    assert deliverer.drain() == 3
    [ops] = _by_path(receiver, "/ops")
    assert ops.json()["type"] == "alert.error"
    pager = _by_path(receiver, "/pager")
    assert [r.json()["type"] for r in pager] == ["incident.created", "check.failed"]
    for request in pager:
        assert verify_signature(generated, request.headers, request.body)
    incident, failed = (r.json() for r in pager)
    assert incident["timestamp"] == clock.now().isoformat()
    assert incident["data"]["incident_id"] == INCIDENT
    assert incident["data"]["check_name"] == "orders_not_null"
    assert failed["data"]["sensor_value"] == "5.0056"
    assert failed["data"]["workspace_id"] == str(DEFAULT_WORKSPACE_ID)
    assert _by_path(receiver, "/closer") == [] and _by_path(receiver, "/off") == []
    tracked = hooks.get("pager")
    assert (tracked.last_triggered_at, tracked.last_response_code, tracked.failure_count) == (
        clock.now(),
        200,
        0,
    )
    assert hooks.get("closer").last_triggered_at is None

    # Resolved: an INFO alert to channels, and the webhook that asks for it.
    clock.advance(timedelta(minutes=5))
    _publish(db, clock, EventType.INCIDENT_CHANGED, _incident("incident.resolved"))
    assert deliverer.drain() == 2
    [closed] = _by_path(receiver, "/closer")
    assert verify_signature(WHSEC, closed.headers, closed.body)
    assert closed.json()["type"] == "incident.resolved"
    assert _by_path(receiver, "/ops")[-1].json()["type"] == "alert.info"


@pytest.mark.parametrize(
    ("severity", "level"), [("warning", "WARNING"), ("error", "ERROR"), ("fatal", "CRITICAL")]
)
def test_incident_severity_maps_to_the_alert_severity(
    db: Database, clock: FrozenClock, alerting: AlertService, severity: str, level: str
) -> None:
    _publish(db, clock, EventType.INCIDENT_CHANGED, _incident("incident.created", severity))
    _publish(db, clock, EventType.INCIDENT_CHANGED, _incident("incident.acknowledged", severity))
    [alert] = alerting.store.list_alerts(severity=None, since=None, limit=10)
    assert (alert["severity"], alert["title"]) == (
        level,
        "Check orders_not_null failed on sales.orders: incident opened",
    )
    # No webhook asked for the acknowledgement: nothing else was written.
    assert len(_rows(db, core_alerts)) == 1


def test_a_500_is_retried_and_tracked(
    db: Database,
    clock: FrozenClock,
    hooks: WebhookService,
    deliverer: DeliveryWorker,
    receiver: Receiver,
) -> None:
    hooks.add("acks", url=receiver.url("/acks"), events="incident.acknowledged", secret=WHSEC)
    receiver.status = 500
    _publish(
        db,
        clock,
        EventType.INCIDENT_CHANGED,
        _incident("incident.acknowledged", acknowledged_by="ana"),
    )
    assert deliverer.drain() == 1
    failed = hooks.get("acks")
    assert (failed.last_response_code, failed.failure_count) == (500, 1)
    assert failed.last_triggered_at == clock.now()
    receiver.status = 200
    clock.advance(timedelta(minutes=2))
    assert deliverer.drain() == 1
    first, second = _by_path(receiver, "/acks")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.json()["data"]["acknowledged_by"] == "ana"
    assert verify_signature(WHSEC, second.headers, second.body)
    ok = hooks.get("acks")
    assert (ok.last_response_code, ok.failure_count, ok.last_triggered_at) == (200, 0, clock.now())


def test_the_last_attempt_dead_letters(
    db: Database,
    clock: FrozenClock,
    alerting: AlertService,
    hooks: WebhookService,
    deliverer: DeliveryWorker,
    receiver: Receiver,
) -> None:
    hooks.add("down", url=receiver.url("/down"), events="check.failed", secret=WHSEC)
    receiver.status = 500
    _publish(db, clock, EventType.CHECK_RESULT, _result(passed=False))
    for _ in range(3):  # the fixture's policy: three attempts
        assert deliverer.drain() == 1
        clock.advance(timedelta(minutes=2))
    assert deliverer.drain() == 0
    assert len(_by_path(receiver, "/down")) == 3
    [letter] = alerting.store.list_dead_letters()
    assert letter["status"] == "pending"
    down = hooks.get("down")
    assert (down.last_response_code, down.failure_count) == (500, 3)


def test_webhook_channels_are_not_routed_listed_or_changed_as_channels(
    db: Database, clock: FrozenClock, alerting: AlertService, hooks: WebhookService
) -> None:
    hooks.add("q", url="http://127.0.0.1:9/q", events="check.failed", secret=WHSEC)
    assert alerting.store.list_channels() == []
    [channel] = alerting.store.list_channels(webhooks=True)
    assert (channel.name, channel.events) == ("webhook:q", ("check.failed",))
    alerting.send("CRITICAL", "disk full", "m", source="ops")
    assert _rows(db, core_alert_deliveries) == []
    for change in (
        lambda: alerting.store.remove_channel("webhook:q"),
        lambda: alerting.store.set_enabled("webhook:q", False),
        lambda: alerting.update_channel("webhook:q", min_severity="ERROR"),
    ):
        with pytest.raises(InvalidInput, match="spine webhooks"):
            change()
    assert alerting.store.get_channel("webhook:q").enabled


def test_webhooks_are_checked_audited_and_confined_to_their_workspace(
    db: Database, clock: FrozenClock, alerting: AlertService, hooks: WebhookService
) -> None:
    for bad, match in (
        ({"events": "check.passed"}, "unknown webhook event"),
        ({"events": ""}, "at least one event"),
        ({"url": "ftp://x/y"}, "http"),
        ({"secret": "whsec_!!"}, "base64"),
    ):
        args = {"url": "http://127.0.0.1:9/h", "events": "check.failed", "secret": WHSEC, **bad}
        with pytest.raises(InvalidInput, match=match):
            hooks.add("bad", **args)
    assert hooks.list_webhooks() == []

    made, _ = hooks.add("h", url="http://127.0.0.1:9/h", events="check.failed", secret=WHSEC)
    hooks.update("h", events="incident.created,incident.resolved", secret=WHSEC.replace("M", "N"))
    hooks.remove("h")
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.changes)
            .where(audit_log.c.entity_type == "webhook")
            .order_by(audit_log.c.id)
        ).all()
    assert [r.action for r in rows] == ["create", "update", "delete"]
    assert rows[1].changes["events"]["new"] == ["incident.created", "incident.resolved"]
    assert rows[1].changes["secret"] == {"old": "[secret]", "new": "[secret]"}
    assert "whsec" not in str([r.changes for r in rows])
    assert made.to_dict()["secret"] == "********"

    # Another workspace's failed checks do not reach this workspace's webhooks.
    hooks.add("mine", url="http://127.0.0.1:9/m", events="check.failed", secret=WHSEC)
    other = uuid.UUID("5d3a2c1b-0000-4000-8000-000000000001")
    with db.engine.begin() as conn:
        from spine.core.storage.schema.dq_platform import organizations, workspaces

        now = clock.now()
        org = uuid.uuid4()
        conn.execute(
            sa.insert(organizations).values(id=org, name="o2", created_at=now, updated_at=now)
        )
        conn.execute(
            sa.insert(workspaces).values(
                id=other, organization_id=org, name="w2", created_at=now, updated_at=now
            )
        )
    _publish(db, clock, EventType.CHECK_RESULT, _result(passed=False), workspace=other)
    assert _rows(db, core_alert_deliveries) == []
    assert hooks.acting_as(Actor(workspace_id=other)).list_webhooks() == []


def test_nothing_is_queued_when_the_change_rolls_back(
    db: Database, clock: FrozenClock, hooks: WebhookService
) -> None:
    hooks.add("q", url="http://127.0.0.1:9/q", events="check.failed", secret=WHSEC)
    event = Event(
        type=EventType.CHECK_RESULT,
        subject_id=CHECK,
        payload=_result(passed=False),
        at=clock.now(),
        workspace_id=str(DEFAULT_WORKSPACE_ID),
    )
    publisher = Publisher([QualityNotifications(clock)])

    def work(conn: sa.Connection) -> None:
        publisher.publish(conn, event)
        raise RuntimeError("the result's transaction fails")

    with pytest.raises(RuntimeError):
        db.run_write(work)
    assert _rows(db, core_alerts) == [] and _rows(db, core_alert_deliveries) == []


def test_a_gone_endpoint_disables_the_webhook_and_says_how_to_enable_it(
    db: Database,
    clock: FrozenClock,
    alerting: AlertService,
    hooks: WebhookService,
    deliverer: DeliveryWorker,
    receiver: Receiver,
) -> None:
    hooks.add("old", url=receiver.url("/old"), events="check.failed", secret=WHSEC)
    receiver.status = 410
    _publish(db, clock, EventType.CHECK_RESULT, _result(passed=False))
    assert deliverer.drain() == 1
    assert not hooks.get("old").enabled
    assert not alerting.store.get_channel("webhook:old").enabled
    [gone] = alerting.store.list_alerts(severity=None, since=None, limit=10)
    assert "`spine webhooks enable old`" in gone["message"]
    _publish(db, clock, EventType.CHECK_RESULT, _result(passed=False))
    assert len(_rows(db, core_alerts)) == 2  # the failed run and the gone alert: no new message
    hooks.set_enabled("old", True)
    assert hooks.get("old").enabled and alerting.store.get_channel("webhook:old").enabled
