"""Channels changed in place (``update``) and a webhook secret rotated with an overlap."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from spine.alerting import (
    AlertService,
    DeliveryPolicy,
    DeliveryWorker,
    Severity,
    WebhookVerificationError,
    verify_signature,
)
from spine.alerting.store import ChannelNotFound
from spine.core.clock import FrozenClock
from spine.core.crypto import generate_key
from spine.core.errors import Conflict, InvalidInput
from spine.core.net import UrlNotAllowed
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_channels, core_alert_deliveries
from tests.alerting.conftest import START, WHSEC
from tests.alerting.receiver import Received, Receiver

OTHER = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="


@pytest.fixture
def policy(policy: DeliveryPolicy) -> DeliveryPolicy:
    """The alerting fixtures' policy with a secret key: literal secrets are sealed."""
    return replace(policy, secret_key=generate_key())


def _stored_config(db: Database, name: str) -> dict[str, Any]:
    c = core_alert_channels
    with db.read() as conn:
        return dict(conn.execute(sa.select(c.c.config_json).where(c.c.name == name)).scalar_one())


def _statuses(db: Database) -> list[tuple[str, str]]:
    d = core_alert_deliveries
    with db.read() as conn:
        rows = conn.execute(sa.select(d.c.channel_name, d.c.status).order_by(d.c.attempt))
        return [(r.channel_name, r.status) for r in rows]


def _verifies(secret: str, request: Received) -> bool:
    try:
        return verify_signature(secret, request.headers, request.body)
    except WebhookVerificationError:
        return False


def test_update_changes_what_is_given_and_keeps_the_rest(
    service: AlertService, webhook: str, receiver: Receiver, db: Database
) -> None:
    before = service.store.get_channel(webhook)

    channel, generated = service.update_channel(
        webhook,
        config={"headers": {"x-team": "ops"}},
        min_severity="ERROR",
        domains="finra.*",
        throttle_minutes=15,
        enabled=False,
    )

    assert generated is None
    assert channel.id == before.id
    assert (channel.min_severity, channel.domains, channel.throttle_minutes, channel.enabled) == (
        Severity.ERROR,
        ("finra.*",),
        15,
        False,
    )
    assert channel.config == {
        "url": receiver.url(),
        "secret": "env:HOOK_SECRET",
        "headers": {"x-team": "ops"},
    }
    service.update_channel(webhook, enabled=True, domains="")
    service.send("WARNING", "below", "m", source="s", domain="finra.x")
    service.send("ERROR", "routed", "m", source="s", domain="cme.x")
    assert _statuses(db) == [("hook", "PENDING")]


def test_update_seals_a_literal_secret_and_keeps_it_over_later_updates(
    service: AlertService, worker: DeliveryWorker, webhook: str, receiver: Receiver, db: Database
) -> None:
    channel, _ = service.update_channel(webhook, config={"secret": OTHER})
    stored = _stored_config(db, webhook)
    assert OTHER not in str(stored) and str(stored["secret"]).startswith("fernet:")
    assert service.channel_view(channel)["config_json"]["secret"] == "********"

    # A later change of another key validates the opened secret and keeps it signing.
    service.update_channel(webhook, config={"url": receiver.url("/moved")})
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    [request] = receiver.requests
    assert request.path == "/moved" and _verifies(OTHER, request)

    # A reference replaces the literal (a channel never holds both); null removes a key.
    channel, _ = service.update_channel(
        webhook, config={"secret_ref": "env:HOOK_SECRET", "headers": None}
    )
    assert channel.config == {"url": receiver.url("/moved"), "secret_ref": "env:HOOK_SECRET"}


def test_bad_updates_change_nothing(service: AlertService, webhook: str) -> None:
    service.add_channel("chat", "slack", {"webhook_url": "https://hooks.slack.com/services/T/B/x"})
    before = service.store.list_channels()
    strict = AlertService(service.store, replace(service.policy, allow_private_urls=False))
    with pytest.raises(UrlNotAllowed):
        strict.update_channel(
            webhook, config={"url": "http://169.254.169.254/latest"}, min_severity="ERROR"
        )
    bad: list[dict[str, Any]] = [
        {},
        {"min_severity": "LOUD"},
        {"throttle_minutes": -1, "enabled": False},
        {"domains": "finra. *"},
        {"config": {"secret": "not-a-secret"}},
        {"config": {"url": None}},
        {"config": {"previous_secret": WHSEC}},
        {"rotate_secret": True, "config": {"secret": OTHER}},
        {"rotate_secret": True, "overlap_hours": -1},
    ]
    for fields in bad:
        with pytest.raises(InvalidInput):
            service.update_channel(webhook, **fields)
    with pytest.raises(InvalidInput, match="webhook"):
        service.update_channel("chat", rotate_secret=True)
    with pytest.raises(ChannelNotFound):
        service.update_channel("nope", enabled=False)
    assert service.store.list_channels() == before


def test_a_stale_read_is_refused(service: AlertService, webhook: str) -> None:
    read = service.store.get_channel(webhook)
    service.update_channel(webhook, min_severity="ERROR")
    with pytest.raises(Conflict):
        service.store.update_channel(
            expected=read,
            config=read.config,
            min_severity=Severity.INFO,
            domains=(),
            enabled=False,
            throttle_minutes=0,
        )
    assert service.store.get_channel(webhook).min_severity is Severity.ERROR


def test_a_waiting_delivery_goes_out_with_the_updated_config(
    service: AlertService, worker: DeliveryWorker, webhook: str, receiver: Receiver, db: Database
) -> None:
    moved = Receiver()
    moved.start()
    try:
        service.send("ERROR", "t", "m", source="s")
        service.update_channel(webhook, config={"url": moved.url()}, throttle_minutes=5)
        worker.drain()
    finally:
        moved.stop()
    assert receiver.requests == []
    assert len(moved.requests) == 1
    assert _statuses(db) == [("hook", "SENT")]


def test_a_rotated_secret_and_the_previous_one_both_sign_until_the_overlap_ends(
    service: AlertService,
    worker: DeliveryWorker,
    receiver: Receiver,
    clock: FrozenClock,
    db: Database,
) -> None:
    service.add_channel("hook", "webhook", {"url": receiver.url(), "secret": WHSEC})

    channel, new = service.update_channel("hook", rotate_secret=True, overlap_hours=2)

    assert new is not None and new.startswith("whsec_") and new != WHSEC
    stored = _stored_config(db, "hook")
    assert WHSEC not in str(stored) and new not in str(stored)
    shown = service.channel_view(channel)["config_json"]
    assert (shown["secret"], shown["previous_secret"]) == ("********", "********")
    assert shown["overlap_until"] == (START + timedelta(hours=2)).isoformat()

    service.send("ERROR", "during", "m", source="s")
    worker.drain()
    [during] = receiver.requests
    assert len(during.headers["webhook-signature"].split()) == 2
    assert _verifies(WHSEC, during)  # a receiver that still holds the old secret
    assert _verifies(new, during)  # one that already holds the new one

    clock.advance(timedelta(hours=2))
    service.send("ERROR", "after", "m", source="s")
    worker.drain()
    after = receiver.requests[-1]
    assert after.json()["data"]["title"] == "after"
    assert len(after.headers["webhook-signature"].split()) == 1
    assert _verifies(new, after)
    assert not _verifies(WHSEC, after)

    # The next change of the channel drops the expired previous secret from storage.
    channel, _ = service.update_channel("hook", throttle_minutes=1)
    assert "previous_secret" not in channel.config and "overlap_until" not in channel.config


def test_rotating_a_referenced_secret_keeps_the_reference_for_the_overlap(
    service: AlertService,
    worker: DeliveryWorker,
    webhook: str,
    receiver: Receiver,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channel, new = service.update_channel(webhook, rotate_secret=True)
    assert new is not None
    assert channel.config["previous_secret"] == "env:HOOK_SECRET"
    assert "secret_ref" not in channel.config
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    assert _verifies(WHSEC, receiver.requests[-1]) and _verifies(new, receiver.requests[-1])

    # After the overlap (24 hours by default) the old reference is never read again.
    clock.advance(timedelta(hours=24))
    monkeypatch.delenv("HOOK_SECRET")
    service.send("ERROR", "t2", "m", source="s")
    worker.drain()
    assert _verifies(new, receiver.requests[-1])
    assert not _verifies(WHSEC, receiver.requests[-1])


def test_a_rotation_without_overlap_switches_at_once(
    service: AlertService, worker: DeliveryWorker, webhook: str, receiver: Receiver
) -> None:
    channel, new = service.update_channel(webhook, rotate_secret=True, overlap_hours=0)
    assert new is not None and "previous_secret" not in channel.config
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    assert _verifies(new, receiver.requests[-1])
    assert not _verifies(WHSEC, receiver.requests[-1])
