"""The alerting routes: channels, alerts, dead letters and breakers of a workspace.

Two tenants (``tenants.a``, ``tenants.b``) on a live API over SQLite and PostgreSQL:
each route works for its scope, refuses a weaker one, and never reaches, lists or
audits the other tenant's objects. Webhooks go to real receivers on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from spine.tenancy import Actor, AuditEntry
from tests.alerting.conftest import WHSEC
from tests.alerting.receiver import Receiver
from tests.api.tenants import Tenant, Tenants

#: Secrets that must never appear in a response or an audit row.
SENTINELS = (WHSEC, WHSEC.removeprefix("whsec_"), "hunter2-sentinel")


@pytest.fixture(autouse=True)
def _alerting_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback receivers allowed (not in the guard's test), secrets sealed, one attempt,
    breakers open at once."""
    allow = "outbound_guard" not in request.node.name
    monkeypatch.setenv("SPINE_ALERTING_ALLOW_PRIVATE_URLS", "true" if allow else "false")
    monkeypatch.setenv("SPINE_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("SPINE_ALERTING_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("SPINE_ALERTING_BREAKER_THRESHOLD", "1")


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    a, b = Receiver(), Receiver()
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


def _channel(receiver: Receiver, name: str = "ops", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "channel_type": "webhook",
        "config_json": {"url": receiver.url(), "secret": WHSEC},
        **extra,
    }


def _add(tenant: Tenant, receiver: Receiver, name: str = "ops") -> dict[str, Any]:
    response = tenant.post("/alert-channels", "admin", json=_channel(receiver, name))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _audit(tenant: Tenant, entity_type: str) -> list[AuditEntry]:
    operator = Actor(workspace_id=tenant.workspace.id)
    return tenant.services.tenancy.audit_entries(operator, entity_type=entity_type)


def _no_secret(*texts: str) -> None:
    for text in texts:
        for sentinel in SENTINELS:
            assert sentinel not in text


def _deliver(tenants: Tenants) -> None:
    worker = tenants.live.services.alerting().worker()
    try:
        worker.drain()
    finally:
        worker.close()


def test_channel_create_read_update_delete_audited_without_secrets(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    a = tenants.a
    created = a.post(
        "/alert-channels",
        "admin",
        json={
            **_channel(receivers[0]),
            "workspace_id": tenants.b.id,
            "id": "01J00000000000000000000000",
            "created_by": "mallory",
            "organization_id": "x",
        },
    )
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["name"] == "ops" and channel["id"] != "01J00000000000000000000000"
    assert channel["created_by"] is None
    assert channel["breaker"] == f"alert-channel:{channel['id']}"
    listed = a.get("/alert-channels", "read")
    shown = a.get(f"/alert-channels/{channel['id']}", "read")
    patched = a.request(
        "PATCH",
        f"/alert-channels/{channel['id']}",
        "admin",
        json={"throttle_minutes": 5, "config_json": {"secret": WHSEC[:-4] + "AAA="}},
    )
    assert listed.status_code == shown.status_code == patched.status_code == 200, patched.text
    assert [c["id"] for c in listed.json()["items"]] == [channel["id"]]
    assert patched.json()["throttle_minutes"] == 5
    deleted = a.request("DELETE", f"/alert-channels/{channel['id']}", "admin")
    assert deleted.status_code == 204
    assert a.get(f"/alert-channels/{channel['id']}", "read").status_code == 404
    _no_secret(created.text, listed.text, shown.text, patched.text)

    entries = _audit(a, "alert_channel")
    assert [e.action.value for e in entries] == ["delete", "update", "create"]
    assert {str(e.api_key_id) for e in entries} == {a.key_ids["admin"]}
    update = entries[1].changes
    assert update["throttle_minutes"] == {"old": 0, "new": 5}
    assert update["config.secret"] == {"old": "[secret]", "new": "[secret]"}
    _no_secret(json.dumps([e.changes for e in entries], default=str))
    # Nothing of a's reached b's audit log.
    assert _audit(tenants.b, "alert_channel") == []


def test_a_taken_name_is_409_and_two_workspaces_each_have_ops(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    first_a = _add(tenants.a, receivers[0])
    first_b = _add(tenants.b, receivers[1])
    again = tenants.a.post("/alert-channels", "admin", json=_channel(receivers[0]))
    assert again.status_code == 409
    assert len(_audit(tenants.a, "alert_channel")) == 1  # the refused one wrote nothing
    for tenant, mine in ((tenants.a, first_a), (tenants.b, first_b)):
        listed = tenant.get("/alert-channels", "read").json()["items"]
        assert [c["id"] for c in listed] == [mine["id"]]


def test_private_targets_go_through_the_outbound_guard(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    channel = _add_direct(tenants, receivers[0])
    bodies = [
        _channel(receivers[0]),
        {
            "name": "meta",
            "channel_type": "webhook",
            "config_json": {"url": "http://user:pw@[::ffff:a9fe:a9fe]/x", "secret": WHSEC},
        },
    ]
    for body in bodies:
        refused = tenants.a.post("/alert-channels", "admin", json=body)
        assert refused.status_code == 403, refused.text  # UrlNotAllowed
        _no_secret(refused.text)
    patched = tenants.a.request(
        "PATCH",
        f"/alert-channels/{channel}",
        "admin",
        json={"config_json": {"url": "http://169.254.169.254/latest"}},
    )
    assert patched.status_code == 403, patched.text
    assert _audit(tenants.a, "alert_channel") == []


def _add_direct(tenants: Tenants, receiver: Receiver) -> str:
    """A channel of tenant a to a loopback receiver, added past the guard (no audit)."""
    from dataclasses import replace

    services = tenants.live.services
    relaxed = replace(
        services,
        settings=services.settings.model_copy(update={"alerting_allow_private_urls": True}),
    )
    system = Actor.system_in(tenants.a.workspace.id)
    channel = (
        relaxed.for_actor(system)
        .alerting()
        .add_channel("loop", "webhook", {"url": receiver.url(), "secret": WHSEC})
    )
    return channel.id


def test_scopes_read_cannot_change_and_write_cannot_touch_channels(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    a = tenants.a
    channel = _add(a, receivers[0])
    path = f"/alert-channels/{channel['id']}"
    refused = [
        a.post("/alert-channels", "read", json=_channel(receivers[0], "x")),
        a.post("/alert-channels", "write", json=_channel(receivers[0], "y")),
        a.request("PATCH", path, "read", json={"enabled": False}),
        a.request("PATCH", path, "write", json={"enabled": False}),
        a.request("DELETE", path, "write"),
        a.post(f"{path}/test", "write"),
        a.post("/alerts", "read", json={"severity": "ERROR", "title": "t", "message": "m"}),
        a.post("/dlq/01J00000000000000000000000/retry", "read"),
        a.post("/dlq/01J00000000000000000000000/resolve", "read"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert len(_audit(a, "alert_channel")) == 1
    assert _audit(a, "alert") == []
    # GETs need read only.
    for suffix in ("/alert-channels", path, "/alerts", "/dlq", "/breakers"):
        assert a.get(suffix, "read").status_code == 200, suffix


def test_tenant_b_gets_404_for_everything_of_a(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    a, b = tenants.a, tenants.b
    channel = _add(a, receivers[0])
    receivers[0].status = 500
    a.post("/alerts", "write", json={"severity": "ERROR", "title": "t", "message": "m"})
    _deliver(tenants)
    [letter] = a.get("/dlq", "read").json()["items"]
    a_paths = [
        ("GET", "/alert-channels"),
        ("GET", f"/alert-channels/{channel['id']}"),
        ("PATCH", f"/alert-channels/{channel['id']}"),
        ("DELETE", f"/alert-channels/{channel['id']}"),
        ("POST", f"/alert-channels/{channel['id']}/test"),
        ("GET", "/alerts"),
        ("POST", "/alerts"),
        ("GET", "/dlq"),
        ("POST", f"/dlq/{letter['dlq_id']}/retry"),
        ("POST", f"/dlq/{letter['dlq_id']}/resolve"),
        ("GET", "/breakers"),
    ]
    body = {"severity": "ERROR", "title": "t", "message": "m", "enabled": False}
    for method, suffix in a_paths:
        # b's key on a's path ...
        on_a = b.client.request(method, a.url(suffix), headers=b.headers("all"), json=body)
        assert on_a.status_code == 404, (method, suffix, on_a.text)
    for method, suffix in a_paths[1:5] + a_paths[8:10]:
        # ... and a's ids in b's own path.
        in_b = b.request(method, suffix, "all", json=body)
        assert in_b.status_code == 404, (method, suffix, in_b.text)
    assert a.get(f"/alert-channels/{channel['id']}", "read").json()["enabled"] is True
    assert b.get("/dlq", "read").json()["items"] == []
    assert b.get("/alerts", "read").json()["items"] == []
    assert _audit(b, "alert_channel") == _audit(b, "dead_letter") == []


def test_malformed_ids_are_404_problems(tenants: Tenants) -> None:
    for suffix in ("/alert-channels/nope", "/alert-channels/%00", "/alert-channels/" + "Z" * 300):
        response = tenants.a.get(suffix, "read")
        assert response.status_code == 404, (suffix, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for verb in ("retry", "resolve"):
        assert tenants.a.post(f"/dlq/not-an-id/{verb}", "write").status_code == 404


def test_an_alert_reaches_only_its_workspaces_ops(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    _add(tenants.a, receivers[0])
    _add(tenants.b, receivers[1])
    sent = tenants.a.post(
        "/alerts",
        "write",
        json={
            "severity": "ERROR",
            "title": "disk full",
            "message": "the disk is full",
            "source": "ops-check",
            "workspace_id": tenants.b.id,
            "id": "01J00000000000000000000000",
        },
    )
    assert sent.status_code == 201, sent.text
    alert = sent.json()
    assert alert["id"] != "01J00000000000000000000000"
    assert [(d["channel_name"], d["status"]) for d in alert["deliveries"]] == [("ops", "PENDING")]
    _deliver(tenants)
    assert [r.json()["data"]["alert_id"] for r in receivers[0].requests] == [alert["id"]]
    assert receivers[1].requests == []
    assert [x["id"] for x in tenants.a.get("/alerts", "read").json()["items"]] == [alert["id"]]
    assert tenants.b.get("/alerts", "read").json()["items"] == []
    [entry] = _audit(tenants.a, "alert")
    assert entry.action.value == "create" and str(entry.api_key_id) == tenants.a.key_ids["write"]
    assert entry.changes["title"] == {"old": None, "new": "disk full"}


def test_equal_alerts_of_two_workspaces_do_not_throttle_each_other(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    for tenant, receiver in zip((tenants.a, tenants.b), receivers, strict=True):
        body = {**_channel(receiver), "throttle_minutes": 60}
        assert tenant.post("/alert-channels", "admin", json=body).status_code == 201
    alert = {"severity": "ERROR", "title": "same", "message": "m", "source": "s"}
    statuses = []
    for tenant in (tenants.a, tenants.b, tenants.a):
        sent = tenant.post("/alerts", "write", json=alert).json()
        statuses.append([d["status"] for d in sent["deliveries"]])
    assert statuses == [["PENDING"], ["PENDING"], ["THROTTLED"]]
    # A key of the caller's own throttles per workspace too.
    own = {**alert, "title": "other", "dedup_key": "disk-full"}
    statuses = []
    for tenant in (tenants.a, tenants.b, tenants.b):
        sent = tenant.post("/alerts", "write", json=own).json()
        assert sent["dedup_key"] == "disk-full"
        statuses.append([d["status"] for d in sent["deliveries"]])
    assert statuses == [["PENDING"], ["PENDING"], ["THROTTLED"]]


def test_a_failing_channel_opens_its_own_breaker_only_and_dead_letters_stay_home(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    a, b = tenants.a, tenants.b
    ops_a = _add(a, receivers[0])
    ops_b = _add(b, receivers[1])
    receivers[0].status = 500
    for tenant in (a, b):
        sent = tenant.post(
            "/alerts", "write", json={"severity": "ERROR", "title": "t", "message": "m"}
        )
        assert sent.status_code == 201
    _deliver(tenants)
    [breaker_a] = a.get("/breakers", "read").json()["items"]
    [breaker_b] = b.get("/breakers", "read").json()["items"]
    assert (breaker_a["channel_id"], breaker_a["state"]) == (ops_a["id"], "open")
    assert (breaker_b["channel_id"], breaker_b["state"]) == (ops_b["id"], "closed")
    assert len(receivers[1].requests) == 1
    [letter] = a.get("/dlq", "read").json()["items"]
    assert b.get("/dlq", "read").json()["items"] == []
    assert letter["status"] == "pending"

    retried = a.post(f"/dlq/{letter['dlq_id']}/retry", "write")
    assert retried.status_code == 200, retried.text
    assert retried.json()["breaker"] == "open"
    again = a.post(f"/dlq/{letter['dlq_id']}/retry", "write")
    assert again.status_code == 409  # already retrying: refused, not audited
    resolved = a.post(f"/dlq/{letter['dlq_id']}/resolve", "write")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    entries = _audit(a, "dead_letter")
    assert [e.changes["status"]["new"] for e in entries] == ["resolved", "retrying"]
    assert {str(e.api_key_id) for e in entries} == {a.key_ids["write"]}


def test_channel_test_sends_through_the_channel_and_records_nothing(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    channel = _add(tenants.a, receivers[0])
    tested = tenants.a.post(f"/alert-channels/{channel['id']}/test", "admin")
    assert tested.status_code == 200, tested.text
    _no_secret(tested.text)
    assert len(receivers[0].requests) == 1
    assert tenants.a.get("/alerts", "read").json()["items"] == []
    assert len(_audit(tenants.a, "alert_channel")) == 1  # the create only
    receivers[0].status = 500
    failed = tenants.a.post(f"/alert-channels/{channel['id']}/test", "admin")
    assert failed.status_code == 502, failed.text
    assert failed.headers["content-type"].startswith("application/problem+json")
    assert "not delivered" in failed.json()["detail"]
    _no_secret(failed.text)


def test_listings_page_with_cursors_bound_to_the_workspace(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    a = tenants.a
    for name in ("c1", "c2", "c3"):
        _add(a, receivers[0], name)
    for i in range(3):
        a.post("/alerts", "write", json={"severity": "INFO", "title": f"t{i}", "message": "m"})
    for suffix, key in (
        ("/alert-channels", "name"),
        ("/alerts", "title"),
        ("/breakers", "channel_name"),
    ):
        first = a.get(suffix, "read", params={"limit": 2}).json()
        cursor = first["next_cursor"]
        assert cursor is not None, suffix
        second = a.get(suffix, "read", params={"limit": 2, "cursor": cursor}).json()
        seen = [item[key] for item in first["items"] + second["items"]]
        assert len(seen) == len(set(seen)) == 3 and second["next_cursor"] is None, suffix
        foreign = tenants.b.get(suffix, "read", params={"cursor": cursor})
        assert foreign.status_code == 400, suffix
    assert a.get("/alerts", "read", params={"severity": "bogus"}).status_code == 422
    assert a.get("/alerts", "read", params={"limit": 201}).status_code == 422


def test_the_cli_acts_in_its_workspace(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    # The services the CLI gets for --workspace are Services.in_workspace: the same
    # store, bound to that workspace's operator (no API key in the audit row).
    a_cli = tenants.live.services.for_actor(Actor(workspace_id=tenants.a.workspace.id))
    channel = a_cli.alerting().add_channel(
        "ops", "webhook", {"url": receivers[0].url(), "secret": WHSEC}
    )
    assert tenants.b.get(f"/alert-channels/{channel.id}", "read").status_code == 404
    [entry] = _audit(tenants.a, "alert_channel")
    assert entry.api_key_id is None
    assert [c.name for c in tenants.live.services.alerting().store.list_channels()] == []


def test_request_without_key_is_401(tenants: Tenants) -> None:
    response = httpx.get(
        str(tenants.a.client.base_url) + tenants.a.url("/alert-channels"), timeout=10
    )
    assert response.status_code == 401


def test_engine_alerts_land_in_the_events_workspace_unaudited(
    tenants: Tenants, receivers: tuple[Receiver, Receiver]
) -> None:
    from spine.alerting import ScheduleFireAlerts
    from spine.core.events import Event, EventType
    from spine.orchestration.registry import WorkflowRegistry

    _add(tenants.a, receivers[0])
    _add(tenants.b, receivers[1])
    recorded: list[Event] = []

    class Recorder:
        event_types = frozenset({EventType.ALERT_RECORDED})

        def wants(self, event: Event) -> bool:
            return True

        def handle(self, conn: Any, event: Event) -> None:
            recorded.append(event)

    services = tenants.live.services
    listener = ScheduleFireAlerts(services.clock, WorkflowRegistry(), [Recorder()])
    fire = Event(
        type=EventType.SCHEDULE_FIRE,
        subject_id="01JCCCCCCCCCCCCCCCCCCCCCCC",
        at=services.clock.now(),
        payload={
            "status": "MISSED",
            "target_name": "nightly.job",
            "schedule_name": "nightly",
            "scheduled_at": "2025-01-10T02:00:00+00:00",
        },
        workspace_id=tenants.b.id,
    )
    with services.database.write() as conn:
        listener.handle(conn, fire)
    [alert] = tenants.b.get("/alerts", "read").json()["items"]
    assert alert["title"] == "Schedule nightly missed"
    assert tenants.a.get("/alerts", "read").json()["items"] == []
    assert [e.workspace_id for e in recorded] == [tenants.b.id]
    _deliver(tenants)
    assert len(receivers[1].requests) == 1 and receivers[0].requests == []
    assert _audit(tenants.b, "alert") == []
