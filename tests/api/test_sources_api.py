"""``/api/v1/workspaces/{id}/sources`` and ``/connections``: two tenants, every scope.

Sources and connections of one workspace are invisible to the other (404 by path, by
id, and through a source's ``connection`` name); changes need ``write`` (sources) or
``admin`` (connections), write one audit row each, and a connection's password never
appears in a response, an audit row or a log line.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from spine.tenancy import Actor
from tests.api.tenants import Tenant, Tenants

SENTINEL = "s3ntinel-PASSWORD-9f2c"
MISSING_ID = "01JAAAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Database fetches spill to the cache directory, relative to the working directory.
    monkeypatch.chdir(tmp_path)


def _warehouse(path: Path, rows: int) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE trades (n INTEGER)")
        conn.executemany("INSERT INTO trades VALUES (?)", [(i,) for i in range(rows)])
    return path


def _file_source(tmp_path: Path, name: str = "otc") -> dict[str, Any]:
    data = tmp_path / f"{name}.psv"
    data.write_text("a|b\n1|2\n3|4\n")
    return {"name": name, "source_type": "file", "config_json": {"path": str(data)}}


def _create(tenant: Tenant, body: dict[str, Any], kind: str = "write") -> dict[str, Any]:
    response = tenant.post("/sources", kind, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _connection(tenant: Tenant, name: str, database: Path, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "dialect": "sqlite", "database": str(database), **extra}
    response = tenant.post("/connections", "admin", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _audit(tenant: Tenant, entity_type: str) -> list[Any]:
    actor = Actor(workspace_id=tenant.workspace.id)
    return tenant.services.tenancy.audit_entries(actor, entity_type=entity_type, limit=200)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


# -- sources --------------------------------------------------------------------------


def test_source_crud_and_fetch_with_one_audit_row_per_change(
    tenants: Tenants, tmp_path: Path
) -> None:
    a = tenants.a
    created = _create(a, {**_file_source(tmp_path), "domain": "otc"})
    assert (created["name"], created["workspace_id"], created["enabled"]) == ("otc", a.id, True)
    source_id = created["id"]
    assert a.get(f"/sources/{source_id}", "read").json() == created

    patched = a.request("PATCH", f"/sources/{source_id}", "write", json={"domain": "finra"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["domain"] == "finra"

    fetched = a.post(f"/sources/{source_id}/fetch", "write")
    assert fetched.status_code == 200, fetched.text
    row = fetched.json()
    assert (row["status"], row["record_count"], row["source_id"]) == ("SUCCESS", 2, source_id)
    _problem(a.post(f"/sources/{source_id}/fetch", json={"params": {"x": "a\u0000"}}), 422)
    a.request("PATCH", f"/sources/{source_id}", "write", json={"enabled": False})
    _problem(a.post(f"/sources/{source_id}/fetch", "write"), 409)
    a.request("PATCH", f"/sources/{source_id}", "write", json={"enabled": True})
    fetches = a.get(f"/sources/{source_id}/fetches", "read").json()
    assert [f["id"] for f in fetches["items"]] == [row["id"]]

    assert a.request("DELETE", f"/sources/{source_id}", "write").status_code == 204
    _problem(a.get(f"/sources/{source_id}", "read"), 404)

    entries = _audit(a, "source")
    actions = ["create", "update", "update", "update", "delete"]
    assert [e.action.value for e in reversed(entries)] == actions
    assert {str(e.api_key_id) for e in entries} == {a.key_ids["write"]}
    assert entries[-2].changes == {"domain": {"old": "otc", "new": "finra"}}
    assert entries[-3].changes == {"enabled": {"old": True, "new": False}}


def test_the_cli_writes_audit_rows_without_a_key(tenants: Tenants, tmp_path: Path) -> None:
    a = tenants.a
    body = _file_source(tmp_path)
    a.services.sources.add(body["name"], "file", body["config_json"])
    a.services.sources.set_enabled("otc", False)
    a.services.sources.remove("otc")
    entries = _audit(a, "source")
    assert [e.action.value for e in reversed(entries)] == ["create", "update", "delete"]
    assert {e.api_key_id for e in entries} == {None}


def test_read_key_is_refused_every_change_and_nothing_is_audited(
    tenants: Tenants, tmp_path: Path
) -> None:
    a = tenants.a
    source_id = _create(a, _file_source(tmp_path))["id"]
    before = len(_audit(a, "source"))
    refused = [
        a.post("/sources", "read", json=_file_source(tmp_path, "other")),
        a.request("PATCH", f"/sources/{source_id}", "read", json={"enabled": False}),
        a.request("DELETE", f"/sources/{source_id}", "read"),
        a.post(f"/sources/{source_id}/fetch", "read"),
        a.post("/connections", "write", json={"name": "w", "dialect": "sqlite", "database": "x"}),
    ]
    for response in refused:
        _problem(response, 403)
    assert len(_audit(a, "source")) == before
    assert a.get(f"/sources/{source_id}/fetches", "read").json()["items"] == []
    assert [s["name"] for s in a.get("/sources", "read").json()["items"]] == ["otc"]


def test_a_refused_change_writes_no_audit_row(tenants: Tenants, tmp_path: Path) -> None:
    a = tenants.a
    source_id = _create(a, _file_source(tmp_path))["id"]
    before = len(_audit(a, "source"))
    _problem(a.post("/sources", "write", json=_file_source(tmp_path)), 409)
    bad = {"config_json": {"nopath": True}}
    _problem(a.request("PATCH", f"/sources/{source_id}", "write", json=bad), 422)
    secret = {"config_json": {"path": "x", "password": "hunter2"}}
    _problem(a.request("PATCH", f"/sources/{source_id}", "write", json=secret), 422)
    private = {
        "name": "internal",
        "source_type": "http",
        "config_json": {"url": "http://10.0.0.1/"},
    }
    _problem(a.post("/sources", "write", json=private), 403)
    sftp = {"host": "x" * 300, "path": "y"}
    long_host = {"name": "far", "source_type": "sftp", "config_json": sftp}
    _problem(a.post("/sources", "write", json=long_host), 422)
    nul = {"name": "nul", "source_type": "file", "config_json": {"path": "a\u0000"}}
    _problem(a.post("/sources", "write", json=nul), 422)
    assert len(_audit(a, "source")) == before


def test_the_other_tenant_gets_404_for_every_route_and_verb(
    tenants: Tenants, tmp_path: Path
) -> None:
    a, b = tenants.a, tenants.b
    source_id = _create(a, _file_source(tmp_path))["id"]
    connection_id = _connection(a, "warehouse", _warehouse(tmp_path / "a.db", 1))["id"]
    calls = [
        ("GET", "/sources", None),
        ("POST", "/sources", _file_source(tmp_path, "x")),
        ("GET", f"/sources/{source_id}", None),
        ("PATCH", f"/sources/{source_id}", {"enabled": False}),
        ("DELETE", f"/sources/{source_id}", None),
        ("POST", f"/sources/{source_id}/fetch", None),
        ("GET", f"/sources/{source_id}/fetches", None),
        ("GET", "/connections", None),
        ("POST", "/connections", {"name": "x", "dialect": "sqlite", "database": "x"}),
        ("GET", f"/connections/{connection_id}", None),
        ("PATCH", f"/connections/{connection_id}", {"pool_size": 2}),
        ("DELETE", f"/connections/{connection_id}", None),
        ("POST", f"/connections/{connection_id}/test", None),
    ]
    for method, suffix, body in calls:
        # b's key on a's path: a's workspace does not exist for it.
        response = b.client.request(method, a.url(suffix), headers=b.headers(), json=body)
        _problem(response, 404)
    for method, suffix, body in calls:
        if "/" not in suffix[1:]:
            continue  # listings and creates: b's own workspace, nothing of a's there
        # a's ids in b's path: no such object in b's workspace.
        _problem(b.request(method, suffix, "all", json=body), 404)
    assert a.get(f"/sources/{source_id}").json()["enabled"] is True
    assert a.get(f"/connections/{connection_id}").json()["pool_size"] == 5
    assert b.get("/sources").json()["items"] == []
    assert b.get("/connections").json()["items"] == []


def test_malformed_ids_are_404(tenants: Tenants) -> None:
    a = tenants.a
    for suffix in ("/sources/nope", "/sources/%00", f"/sources/{MISSING_ID}", "/connections/x"):
        _problem(a.get(suffix), 404)
    _problem(a.get("/sources/%00/fetches"), 404)
    _problem(a.request("DELETE", "/connections/01%00"), 404)


def test_body_fields_naming_workspace_id_or_creator_are_ignored(
    tenants: Tenants, tmp_path: Path
) -> None:
    a, b = tenants.a, tenants.b
    forged = {
        **_file_source(tmp_path),
        "id": MISSING_ID,
        "workspace_id": b.id,
        "organization_id": str(uuid.uuid4()),
        "created_by": "mallory",
    }
    created = _create(a, forged)
    assert created["id"] != MISSING_ID
    assert (created["workspace_id"], created["created_by"]) == (a.id, None)
    connection = _connection(
        a, "warehouse", tmp_path / "w.db", workspace_id=b.id, id=MISSING_ID, created_by="m"
    )
    assert (connection["workspace_id"], connection["created_by"]) == (a.id, None)
    assert connection["id"] != MISSING_ID
    assert b.get("/sources").json()["items"] == []


def test_listings_page_by_name_and_refuse_a_foreign_cursor(
    tenants: Tenants, tmp_path: Path
) -> None:
    a, b = tenants.a, tenants.b
    for name in ("c", "a", "b"):
        _create(a, _file_source(tmp_path, name))
    _create(b, _file_source(tmp_path, "z"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = a.get("/sources", "read", params=params).json()
        seen += [s["name"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        _problem(b.get("/sources", "read", params={"cursor": cursor}), 400)
        _problem(a.get("/connections", "read", params={"cursor": cursor}), 400)
    assert seen == ["a", "b", "c"]
    _problem(a.get("/sources", params={"limit": 201}), 422)


def test_fetches_page_newest_first(tenants: Tenants, tmp_path: Path) -> None:
    a = tenants.a
    source_id = _create(a, _file_source(tmp_path))["id"]
    made = [a.post(f"/sources/{source_id}/fetch", json={"force": True}).json()["id"] for _ in "123"]
    first = a.get(f"/sources/{source_id}/fetches", params={"limit": 2}).json()
    rest = a.get(
        f"/sources/{source_id}/fetches", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    listed = [f["id"] for f in first["items"] + rest["items"]]
    assert sorted(listed) == sorted(made) and len(set(listed)) == 3
    assert rest["next_cursor"] is None


# -- two workspaces, one name -----------------------------------------------------------


def test_two_workspaces_each_read_their_own_warehouse(tenants: Tenants, tmp_path: Path) -> None:
    a, b = tenants.a, tenants.b
    query = {"connection": "warehouse", "query": "SELECT n FROM trades", "cache_ttl_seconds": 600}
    ids = {}
    for tenant, rows in ((a, 3), (b, 5)):
        _connection(tenant, "warehouse", _warehouse(tmp_path / f"{tenant.id}.db", rows))
        body = {"name": "otc", "source_type": "database", "config_json": query}
        ids[tenant.id] = _create(tenant, body)["id"]
    for tenant, rows in ((a, 3), (b, 5)):
        row = tenant.post(f"/sources/{ids[tenant.id]}/fetch", "write").json()
        assert (row["status"], row["record_count"]) == ("SUCCESS", rows), row
    # The content cache is keyed by source: a second fetch of each is its own cache hit.
    for tenant, rows in ((a, 3), (b, 5)):
        row = tenant.post(f"/sources/{ids[tenant.id]}/fetch", "write").json()
        assert (row["status"], row["record_count"]) == ("UNCHANGED", rows), row


def test_a_source_cannot_use_another_workspaces_connection(
    tenants: Tenants, tmp_path: Path
) -> None:
    a, b = tenants.a, tenants.b
    _connection(a, "warehouse", _warehouse(tmp_path / "a.db", 3))
    body = {
        "name": "stolen",
        "source_type": "database",
        "config_json": {"connection": "warehouse", "query": "SELECT n FROM trades"},
    }
    source_id = _create(b, body)["id"]
    row = b.post(f"/sources/{source_id}/fetch", "write").json()
    assert (row["status"], row["error_category"]) == ("FAILED", "CONFIGURATION")
    assert "no database connection named 'warehouse'" in row["error"]


# -- connections ----------------------------------------------------------------------


def test_connection_crud_needs_admin_and_is_audited(tenants: Tenants, tmp_path: Path) -> None:
    a = tenants.a
    database = _warehouse(tmp_path / "w.db", 2)
    body = {"name": "w", "dialect": "sqlite", "database": str(database)}
    for kind in ("read", "write"):
        _problem(a.post("/connections", kind, json=body), 403)
    made = _connection(a, "w", database)
    assert made["password_ref"] is None
    connection_id = made["id"]
    assert a.get(f"/connections/{connection_id}", "read").json() == made
    assert [c["id"] for c in a.get("/connections", "read").json()["items"]] == [connection_id]
    for kind in ("read", "write"):
        suffix = f"/connections/{connection_id}"
        _problem(a.request("PATCH", suffix, kind, json={"pool_size": 2}), 403)
        _problem(a.request("DELETE", suffix, kind), 403)
        _problem(a.post(f"{suffix}/test", kind), 403)
    tested = a.post(f"/connections/{connection_id}/test", "admin")
    assert tested.status_code == 200, tested.text
    assert tested.json()["ok"] is True, tested.text
    assert tested.json()["connection"]["last_connected_at"] is not None
    changed = a.request(
        "PATCH",
        f"/connections/{connection_id}",
        "admin",
        json={"pool_size": 2, "password_ref": "env:SPINE_TEST_OTHER"},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["pool_size"], changed.json()["password_ref"]) == (2, "********")
    assert a.request("DELETE", f"/connections/{connection_id}", "admin").status_code == 204
    _problem(a.get(f"/connections/{connection_id}"), 404)
    entries = list(reversed(_audit(a, "connection")))
    assert [e.action.value for e in entries] == ["create", "update", "delete"]
    assert {str(e.api_key_id) for e in entries} == {a.key_ids["admin"]}
    assert entries[1].changes == {
        "password_ref": {"old": None, "new": "[secret]"},
        "pool_size": {"old": 5, "new": 2},
    }
    assert "SPINE_TEST" not in json.dumps([e.changes for e in entries])


def test_a_literal_password_is_refused(tenants: Tenants, tmp_path: Path) -> None:
    a = tenants.a
    body = {"name": "w", "dialect": "sqlite", "database": "x.db", "password": SENTINEL}
    problem = _problem(a.post("/connections", "admin", json=body), 422)
    assert SENTINEL not in json.dumps(problem) and "password_ref" in problem["detail"]
    bad_ref = {"name": "w", "dialect": "sqlite", "database": "x.db", "password_ref": SENTINEL}
    assert SENTINEL not in a.post("/connections", "admin", json=bad_ref).text
    assert a.get("/connections").json()["items"] == []
    assert _audit(a, "connection") == []


def test_a_sentinel_password_never_leaves(
    tenants: Tenants,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = tenants.a
    monkeypatch.setenv("SPINE_TEST_SENTINEL", SENTINEL)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    server = _connection(
        a,
        "server",
        Path("nothing"),
        dialect="postgresql",
        host="127.0.0.1",
        port=1,
        username="spine",
        password_ref="env:SPINE_TEST_SENTINEL",
    )
    local = _connection(
        a, "local", _warehouse(tmp_path / "w.db", 2), password_ref="env:SPINE_TEST_SENTINEL"
    )
    texts.append(json.dumps([server, local]))
    for connection in (server, local):
        suffix = f"/connections/{connection['id']}"
        tested = a.post(f"{suffix}/test", "admin")
        assert tested.status_code == 200, tested.text
        texts.append(tested.text)
        texts.append(a.get(suffix, "read").text)
        texts.append(a.request("PATCH", suffix, "admin", json={"password_ref": "env:SPINE_X"}).text)
    assert json.loads(texts[1])["ok"] is False
    texts.append(a.get("/connections", "read").text)
    for name in ("server", "local"):
        body = {
            "name": f"q_{name}",
            "source_type": "database",
            "config_json": {"connection": name, "query": "SELECT n FROM trades"},
        }
        source = _create(a, body)
        texts.append(a.post(f"/sources/{source['id']}/fetch", "write").text)
        texts.append(a.get(f"/sources/{source['id']}/fetches").text)
    for connection in (server, local):
        texts.append(a.request("DELETE", f"/connections/{connection['id']}", "admin").text)
    texts.append(json.dumps([e.changes for e in _audit(a, "connection")], default=str))
    texts.append(caplog.text)
    for text in texts:
        assert SENTINEL not in text


def test_connection_updates_are_checked(tenants: Tenants, tmp_path: Path) -> None:
    a = tenants.a
    connection_id = _connection(a, "w", tmp_path / "w.db")["id"]
    before = len(_audit(a, "connection"))
    suffix = f"/connections/{connection_id}"
    _problem(a.request("PATCH", suffix, "admin", json={"dialect": "oracle"}), 422)
    _problem(a.request("PATCH", suffix, "admin", json={"password_ref": "hunter2"}), 422)
    _problem(a.request("PATCH", suffix, "admin", json={"pool_size": 0}), 422)
    _problem(a.request("PATCH", suffix, "admin", json={"database": "a\u0000b"}), 422)
    unchanged = a.request("PATCH", suffix, "admin", json={"name": "renamed"})
    assert unchanged.status_code == 200 and unchanged.json()["name"] == "w"
    assert len(_audit(a, "connection")) == before


def test_two_workspaces_can_each_have_a_connection_and_source_of_one_name(
    tenants: Tenants, tmp_path: Path
) -> None:
    for tenant in (tenants.a, tenants.b):
        _connection(tenant, "warehouse", tmp_path / "w.db")
        _create(tenant, _file_source(tmp_path))
    for tenant in (tenants.a, tenants.b):
        assert [s["workspace_id"] for s in tenant.get("/sources").json()["items"]] == [tenant.id]
