"""Recording alerts: routing, the outbox transaction, throttling (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from spine.alerting import AlertService, record_alert, send_alert
from spine.core.clock import FrozenClock
from spine.core.errors import ConfigurationError, Conflict, InvalidInput
from spine.core.storage import Database
from spine.core.storage.schema.alerting import (
    core_alert_channels,
    core_alert_deliveries,
    core_alert_throttle,
    core_alerts,
)
from spine.core.workspaces import DEFAULT_WORKSPACE_ID


def _deliveries(db: Database, alert_id: str) -> dict[str, str]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(core_alert_deliveries).where(core_alert_deliveries.c.alert_id == alert_id)
        ).all()
    return {r.channel_name: r.status for r in rows}


def _add(service: AlertService, name: str, **options: object) -> None:
    service.add_channel(
        name, "webhook", {"url": "http://127.0.0.1:9/x", "secret_ref": "env:HOOK_SECRET"}, **options
    )  # type: ignore[arg-type]


def test_alert_gets_one_pending_delivery_per_matching_channel(
    service: AlertService, db: Database
) -> None:
    _add(service, "all")
    _add(service, "errors", min_severity="ERROR")
    _add(service, "finra", domains="finra.*,sec.*")
    _add(service, "off")
    service.store.set_enabled("off", False)
    warning = service.send("WARNING", "late", "file late", source="s", domain="finra.otc")
    error = service.send("ERROR", "broke", "boom", source="s", domain="cme.x")
    nodomain = service.send("CRITICAL", "down", "db down", source="s")
    assert _deliveries(db, warning) == {"all": "PENDING", "finra": "PENDING"}
    assert _deliveries(db, error) == {"all": "PENDING", "errors": "PENDING"}
    assert _deliveries(db, nodomain) == {"all": "PENDING", "errors": "PENDING"}


def test_alert_and_deliveries_roll_back_with_the_callers_transaction(
    service: AlertService, db: Database, clock: FrozenClock
) -> None:
    _add(service, "all")
    with pytest.raises(RuntimeError), db.write() as conn:
        record_alert(
            conn,
            clock.now(),
            workspace_id=DEFAULT_WORKSPACE_ID,
            severity="ERROR",
            title="t",
            message="m",
            source="s",
        )
        raise RuntimeError("the caller fails after recording")
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(core_alerts)).scalar() == 0
        count = sa.select(sa.func.count()).select_from(core_alert_deliveries)
        assert conn.execute(count).scalar() == 0


def test_repeat_within_throttle_minutes_is_throttled_and_counted(
    service: AlertService, db: Database, clock: FrozenClock
) -> None:
    _add(service, "slow", throttle_minutes=10)
    _add(service, "fast")
    first = service.send("ERROR", "broke", "1", source="s")
    clock.advance(60)
    second = service.send("ERROR", "broke", "2", source="s")
    other = service.send("ERROR", "another title", "3", source="s")
    assert _deliveries(db, first) == {"slow": "PENDING", "fast": "PENDING"}
    assert _deliveries(db, second) == {"slow": "THROTTLED", "fast": "PENDING"}
    assert _deliveries(db, other) == {"slow": "PENDING", "fast": "PENDING"}
    with db.read() as conn:
        key = conn.execute(sa.select(core_alerts.c.dedup_key).where(core_alerts.c.id == first))
        throttle = conn.execute(
            sa.select(core_alert_throttle).where(core_alert_throttle.c.dedup_key == key.scalar())
        ).one()
    assert throttle.send_count == 2
    clock.advance(10 * 60)
    third = service.send("ERROR", "broke", "4", source="s")
    assert _deliveries(db, third) == {"slow": "PENDING", "fast": "PENDING"}
    with db.read() as conn:
        renewed = conn.execute(
            sa.select(core_alert_throttle).where(
                core_alert_throttle.c.dedup_key == throttle.dedup_key
            )
        ).one()
    assert (renewed.send_count, renewed.last_sent_at) == (1, clock.now())
    assert renewed.expires_at == clock.now() + timedelta(minutes=10)


def test_send_alert_uses_the_database_it_is_given(
    service: AlertService, db: Database, clock: FrozenClock
) -> None:
    _add(service, "all")
    alert_id = send_alert(
        "CRITICAL", "t", "m", source="src", domain="d", metadata={"k": 1}, database=db, clock=clock
    )
    with db.read() as conn:
        row = conn.execute(sa.select(core_alerts).where(core_alerts.c.id == alert_id)).one()
    assert (row.severity, row.source, row.domain, row.metadata_json) == (
        "CRITICAL",
        "src",
        "d",
        {"k": 1},
    )
    assert row.created_at == clock.now()
    assert _deliveries(db, alert_id) == {"all": "PENDING"}


def test_send_alert_without_a_database_names_its_replacements(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It used to read SPINE_DATABASE_URL below the wiring; now it says where to go.
    monkeypatch.setenv("SPINE_DATABASE_URL", db_url)
    with pytest.raises(ConfigurationError, match=r"ctx\.send_alert.*alerting\(\)\.send"):
        send_alert("INFO", "hello", "world", source="user-script")


def test_bad_alerts_are_refused(service: AlertService) -> None:
    with pytest.raises(InvalidInput, match="severity"):
        service.send("LOUD", "t", "m", source="s")
    with pytest.raises(InvalidInput, match="title"):
        service.send("INFO", " ", "m", source="s")
    with pytest.raises(InvalidInput, match="source"):
        service.send("INFO", "t", "m", source="")


def test_channel_names_are_unique_and_configs_checked(service: AlertService) -> None:
    _add(service, "one")
    with pytest.raises(Conflict):
        _add(service, "one")
    with pytest.raises(InvalidInput, match="secret"):
        service.add_channel("two", "webhook", {"url": "http://127.0.0.1/x"})
    with pytest.raises(InvalidInput, match="unknown channel type"):
        service.add_channel("three", "pager", {})


def test_literal_secret_is_refused_without_key_and_sealed_with_one(
    service: AlertService, db: Database
) -> None:
    from dataclasses import replace

    from spine.core.crypto import generate_key

    config = {"url": "http://127.0.0.1:9/x", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
    with pytest.raises(InvalidInput, match="SPINE_SECRET_KEY"):
        service.add_channel("plain", "webhook", config)
    policy = replace(service.policy, secret_key=generate_key())
    keyed = AlertService(service.store, policy)
    channel = keyed.add_channel("sealed", "webhook", config)
    with db.read() as conn:
        stored = conn.execute(
            sa.select(core_alert_channels.c.config_json).where(
                core_alert_channels.c.id == channel.id
            )
        ).scalar()
    assert "MfKQ9r8" not in str(stored)
    assert keyed.channel_view(channel)["config_json"]["secret"] == "********"


def test_private_urls_are_refused_unless_allowed(service: AlertService) -> None:
    from dataclasses import replace

    from spine.core.net import UrlNotAllowed

    strict = AlertService(service.store, replace(service.policy, allow_private_urls=False))
    for url in ("http://127.0.0.1/x", "http://169.254.169.254/latest", "http://10.0.0.1/"):
        with pytest.raises(UrlNotAllowed):
            strict.add_channel("h", "webhook", {"url": url, "secret_ref": "env:HOOK_SECRET"})
