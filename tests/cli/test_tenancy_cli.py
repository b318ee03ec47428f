"""``spine orgs``, ``workspaces``, ``users``, ``keys`` and ``audit``, through the console script."""

from __future__ import annotations

import json
from typing import Any

from tests.cli.spine_process import Completed, Spine


def _json(done: Completed) -> Any:
    assert (done.code, done.stderr) == (0, ""), done.stderr
    return json.loads(done.stdout)


def _one_line_error(done: Completed, text: str) -> None:
    assert done.code == 2, done
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert text in done.stderr


def test_orgs_and_workspaces_are_created_and_listed(spine: Spine) -> None:
    org = _json(spine("orgs", "create", "acme", "--json"))
    made = _json(spine("workspaces", "create", "data", "--org", "acme", "--json"))

    orgs = _json(spine("orgs", "list", "--json"))
    workspaces = _json(spine("workspaces", "list", "--json"))

    assert set(org) == {"id", "name", "created_at", "updated_at"}
    assert [o["name"] for o in orgs] == ["acme", "default"]
    assert made["organization_id"] == org["id"]
    assert {"id", "organization_id", "name", "created_at", "updated_at"} <= set(made)
    assert [(w["organization_name"], w["name"]) for w in workspaces] == [
        ("acme", "data"),
        ("default", "default"),
    ]
    _one_line_error(spine("orgs", "create", "acme"), "already exists")
    _one_line_error(spine("workspaces", "create", "data", "--org", "acme"), "has a workspace")
    _one_line_error(spine("workspaces", "create", "x", "--org", "initech"), "unknown organization")
    assert "acme" in spine("orgs", "list").stdout


def test_users_are_added_and_listed(spine: Spine) -> None:
    added = _json(spine("users", "add", "ada@example.com", "--name", "Ada", "--json"))

    users = _json(spine("users", "list", "--json"))

    assert users == [added]
    assert set(added) == {
        "id",
        "email",
        "display_name",
        "is_active",
        "created_date",
        "updated_date",
    }
    assert added["display_name"] == "Ada"
    _one_line_error(spine("users", "add", "ADA@example.com"), "already exists")
    _one_line_error(spine("users", "add", "not-an-email"), "not an email address")


def test_a_key_is_shown_once_and_its_creation_audited_without_a_key_id(spine: Spine) -> None:
    made = _json(
        spine(
            "keys",
            "create",
            "--name",
            "ci",
            "--scopes",
            "read,write",
            "--expires-in-days",
            "30",
            "--json",
        )
    )
    plain = spine("keys", "create", "--name", "default-scopes")

    listed = spine("keys", "list", "--json")
    table = spine("keys", "list")
    audit = _json(spine("audit", "list", "--entity-id", made["id"], "--json"))

    assert set(made) == {
        "id",
        "name",
        "key",
        "key_prefix",
        "scopes",
        "expires_at",
        "workspace_id",
        "created_at",
    }
    assert made["key"].startswith(made["key_prefix"]) and made["scopes"] == ["read", "write"]
    assert plain.code == 0 and plain.stdout.startswith("spk_")
    assert "shown only now" in plain.stderr
    keys = _json(listed)
    assert [k["name"] for k in keys] == ["default-scopes", "ci"]
    assert keys[0]["scopes"] == ["read"]
    for output in (listed.stdout, table.stdout, json.dumps(audit)):
        assert made["key"] not in output
        assert plain.stdout.strip() not in output
    assert "key_hash" not in keys[0]
    assert [(e["action"], e["api_key_id"], e["entity_type"]) for e in audit] == [
        ("create", None, "api_key")
    ]
    assert audit[0]["changes"]["key_hash"] == {"old": None, "new": "[secret]"}


def test_keys_are_revoked_and_bad_ids_are_one_line(spine: Spine) -> None:
    made = _json(spine("keys", "create", "--name", "ci", "--json"))

    revoked = spine("keys", "revoke", made["id"])

    assert revoked.code == 0 and "revoked" in revoked.stdout
    assert _json(spine("keys", "list", "--json"))[0]["revoked_at"] is not None
    audit = _json(spine("audit", "list", "--entity-type", "api_key", "--json"))
    assert [e["action"] for e in audit] == ["update", "create"]
    assert audit[0]["changes"]["revoked_at"]["old"] is None
    _one_line_error(spine("keys", "revoke", "nope"), "unknown API key")
    _one_line_error(spine("keys", "create", "--name", "x", "--scopes", "root"), "unknown scope")
    _one_line_error(
        spine("keys", "create", "--name", "x", "--expires-in-days", "0"), "expires-in-days"
    )
    assert len(_json(spine("audit", "list", "--json"))) == 2


def test_workspace_confines_keys_and_audit(spine: Spine) -> None:
    spine("orgs", "create", "acme")
    spine("workspaces", "create", "data", "--org", "acme")
    theirs = _json(spine("--workspace", "acme/data", "keys", "create", "--name", "a", "--json"))
    ours = _json(spine("keys", "create", "--name", "d", "--json"))
    env = {"SPINE_WORKSPACE": "acme/data"}

    in_acme = _json(spine("keys", "list", "--json", env=env))
    in_default = _json(spine("keys", "list", "--json"))
    cross = spine("keys", "revoke", theirs["id"])
    acme_audit = _json(spine("--workspace", "data", "audit", "list", "--json"))
    default_audit = _json(spine("audit", "list", "--json"))

    assert [k["id"] for k in in_acme] == [theirs["id"]]
    assert [k["id"] for k in in_default] == [ours["id"]]
    assert theirs["workspace_id"] != ours["workspace_id"]
    _one_line_error(cross, "unknown API key")
    assert {e["entity_id"] for e in acme_audit} == {theirs["id"], theirs["workspace_id"]}
    assert {e["entity_id"] for e in default_audit} == {ours["id"]}


def test_a_missing_workspace_is_one_line(spine: Spine) -> None:
    for args, env in (
        (("--workspace", "nowhere", "keys", "list"), None),
        (("audit", "list"), {"SPINE_WORKSPACE": "nowhere"}),
    ):
        _one_line_error(spine(*args, env=env), "unknown workspace 'nowhere'")


def test_audit_list_filters_by_time_and_limits(spine: Spine) -> None:
    for name in ("a", "b", "c"):
        spine("keys", "create", "--name", name)

    newest = _json(spine("audit", "list", "--limit", "2", "--json"))
    future = _json(spine("audit", "list", "--since", "2999-01-01", "--json"))
    table = spine("audit", "list")

    assert [e["changes"]["name"]["new"] for e in newest] == ["c", "b"]
    assert future == []
    assert table.code == 0 and "api_key" in table.stdout and "cli" in table.stdout
    _one_line_error(spine("audit", "list", "--since", "yesterday"), "not an ISO-8601 time")
    _one_line_error(spine("audit", "list", "--entity-id", "nope"), "not a UUID or ULID")
