"""Push through Apprise and a webhook call, each to a real HTTP receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spine.alerting import DeliveryWorker, verify_signature
from spine.automation.actions.registry import build_handlers
from spine.automation.models import ActionType, DeliveryChannel, DeliveryStatus
from spine.automation.notifications import NotificationSender
from spine.automation.store.deliveries import DeliveryStore
from spine.config import Settings
from spine.core.storage import Database
from tests.alerting.receiver import Receiver
from tests.automation.action_fixtures import POLICY, Stage, make_stage

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def stage(db: Database) -> Stage:
    return make_stage(db)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url, alerting_allow_private_urls=True, alerting_send_timeout_seconds=5
    )


def test_push_goes_through_the_named_apprise_channel(
    stage: Stage, receiver: Receiver, db_url: str
) -> None:
    stage.alerting.add_channel(
        "pager", "apprise", {"url": f"json://127.0.0.1:{receiver.port}/apprise"}
    )
    handler = build_handlers(stage.db, stage.people.clock, _settings(db_url))[
        ActionType.SEND_NOTIFICATION
    ]
    config = {
        "recipients": [{"type": "role", "name": "oncall"}],
        "channels": ["push"],
        "title": "Order 1 rejected",
        "message": "have a look",
        "apprise_channel": "pager",
        "severity": "critical",
    }
    ctx = stage.context(ActionType.SEND_NOTIFICATION, config)
    with stage.db.write() as conn:
        handler.perform(conn, ctx)

    sender = NotificationSender(stage.db, stage.people.clock, _settings(db_url))
    assert sender.run_once() == 1

    [row] = DeliveryStore(stage.db).deliveries()
    assert (row.channel, row.status, row.attempts) == (DeliveryChannel.PUSH, DeliveryStatus.SENT, 1)
    [request] = receiver.requests
    body = request.json()
    assert body["title"] == "[CRITICAL] Order 1 rejected" and "have a look" in body["message"]


def test_a_webhook_call_is_delivered_signed(
    stage: Stage, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    stage.alerting.webhooks.add(
        "orders-hook", url=receiver.url(), events="incident.created", secret="env:HOOK_SECRET"
    )
    handler = build_handlers(stage.db, stage.people.clock, _settings("sqlite://"))[
        ActionType.CALL_WEBHOOK
    ]
    config = {"webhook": "orders-hook", "event": "order.rejected"}
    ctx = stage.context(ActionType.CALL_WEBHOOK, config)
    with stage.db.write() as conn:
        handler.perform(conn, ctx)

    worker = DeliveryWorker(stage.alerting.store, POLICY, batch_size=10)
    try:
        assert worker.drain() == 1
    finally:
        worker.close()

    [request] = receiver.requests
    assert verify_signature(SECRET, request.headers, request.body)
    body = request.json()
    assert body["type"] == "order.rejected"
    assert body["data"]["status"] == "rejected" and body["data"]["rule"] == "watch-orders"
    assert body["data"]["execution_id"] == str(ctx.execution_id)
