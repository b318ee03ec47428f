"""Alerting's audit rows: one per change, in the change's workspace, secrets masked."""

from __future__ import annotations

import dataclasses
import json

import sqlalchemy as sa
from cryptography.fernet import Fernet

from spine.alerting import AlertService, AlertStore, DeliveryPolicy
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.core.storage.schema.dq_platform import audit_log
from spine.core.workspaces import DEFAULT_WORKSPACE_ID
from spine.tenancy import Actor

SECRETS = ("hunter2-mail", "hunter3-mail", "sekrit-pw")


def _entries(db: Database) -> list[dict[str, object]]:
    with db.read() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
    return [dict(r._mapping) for r in rows]


def test_channel_secrets_are_audited_only_as_changed(
    db: Database, clock: FrozenClock, policy: DeliveryPolicy
) -> None:
    sealing = dataclasses.replace(policy, secret_key=Fernet.generate_key().decode())
    service = AlertService(AlertStore(db, clock, sealing), sealing)
    mail = {
        "smtp_host": "127.0.0.1",
        "from": "spine@example.com",
        "recipients": ["ops@example.com"],
        "username": "u",
        "password": "hunter2-mail",
    }
    service.add_channel("mail", "email", mail)
    service.add_channel("chat", "apprise", {"url": "json://user:sekrit-pw@127.0.0.1/x"})
    service.update_channel("mail", config={"password": "hunter3-mail"}, throttle_minutes=3)
    service.store.set_enabled("chat", False)
    service.store.remove_channel("chat")

    entries = _entries(db)
    assert [(e["entity_type"], e["action"]) for e in entries] == [
        ("alert_channel", "create"),
        ("alert_channel", "create"),
        ("alert_channel", "update"),
        ("alert_channel", "update"),
        ("alert_channel", "delete"),
    ]
    assert {e["api_key_id"] for e in entries} == {None}
    assert {str(e["workspace_id"]) for e in entries} == {str(DEFAULT_WORKSPACE_ID)}
    text = json.dumps([e["changes"] for e in entries])
    for secret in SECRETS:
        assert secret not in text
    created_mail, created_chat, updated, disabled, removed = (e["changes"] for e in entries)
    assert created_mail["config.password"] == {"old": None, "new": "[secret]"}
    assert created_mail["config.smtp_host"] == {"old": None, "new": "127.0.0.1"}
    assert created_chat["config.url"] == {"old": None, "new": "[secret]"}
    assert updated == {
        "config.password": {"old": "[secret]", "new": "[secret]"},
        "throttle_minutes": {"old": 0, "new": 3},
    }
    assert disabled == {"enabled": {"old": True, "new": False}}
    assert removed["config.url"] == {"old": "[secret]", "new": None}


def test_refused_changes_and_other_workspaces_write_nothing(
    db: Database, clock: FrozenClock, policy: DeliveryPolicy, webhook: str
) -> None:
    service = AlertService(AlertStore(db, clock, policy), policy)
    before = len(_entries(db))
    # A name taken, a missing channel, a bad severity: refused, nothing audited.
    for attempt in (
        lambda: service.add_channel("hook", "webhook", {"url": "http://127.0.0.1:9/"}),
        lambda: service.store.remove_channel("nope"),
        lambda: service.send("LOUD", "t", "m", source="s"),
    ):
        try:
            attempt()
        except Exception:
            pass
        else:
            raise AssertionError("should have been refused")
    assert len(_entries(db)) == before
    # Spine itself, and the default workspace's channel seen from elsewhere.
    system = service.acting_as(Actor.system_in(DEFAULT_WORKSPACE_ID))
    system.send("ERROR", "t", "m", source="s")
    assert len(_entries(db)) == before
