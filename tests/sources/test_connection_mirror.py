"""Spec 004's ``connections`` mirrors ``core_database_connections`` in the same transaction."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from ulid import ULID

from spine.core.clock import FrozenClock
from spine.core.crypto import SecretBox, generate_key
from spine.core.errors import Conflict, SpineError
from spine.core.storage import Database
from spine.core.storage.schema.dq_platform import check_definitions, check_results, connections
from spine.sources import ConnectionNotFound, SourceService
from spine.sources.connections import ConnectionRegistry
from spine.sources.mirror import PLAIN, mirror_config, open_config
from spine.sources.models import Connection
from spine.sources.store import Ref
from spine.tenancy import DEFAULT_WORKSPACE_ID


def _mirror(db: Database, connection_id: str) -> dict[str, Any] | None:
    key = ULID.from_str(connection_id).to_uuid()
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(connections).where(connections.c.id == key)).first()
    return None if row is None else dict(row._mapping)


def _assert_mirrors(db: Database, connection: Connection, box: SecretBox | None) -> dict[str, Any]:
    """The mirror row holds what the registry holds (name, type, config, workspace)."""
    row = _mirror(db, connection.id)
    assert row is not None
    assert row["id"] == ULID.from_str(connection.id).to_uuid()
    assert row["workspace_id"] == connection.workspace_id
    assert (row["name"], row["type"]) == (connection.name, connection.dialect)
    assert open_config(row["config_encrypted"], box) == mirror_config(connection)
    assert (row["status"], row["last_tested_at"]) == (connection.status, connection.last_tested_at)
    return row


def _sqlite_file(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    return path


def _add_check(db: Database, mirror: uuid.UUID, name: str, clock: FrozenClock) -> uuid.UUID:
    """A check row on the mirror, with one result (what the quality part writes)."""
    check_id = uuid.uuid4()
    now = clock.now()
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(check_definitions).values(
                id=check_id,
                connection_id=mirror,
                workspace_id=DEFAULT_WORKSPACE_ID,
                name=name,
                check_type="row_count",
                target_type="table",
                target_table="t",
                config={},
                severity="error",
                enabled=True,
                tags=[],
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            sa.insert(check_results).values(check_id=check_id, executed_at=now, rule_passed=True)
        )
    return check_id


def _count(db: Database, table: sa.Table) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_mirror_follows_add_update_test_and_remove(
    make_service: Callable[..., SourceService],
    db: Database,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    key = generate_key()
    registry = make_service(secret_key=key).connections
    box = SecretBox(key)
    added = registry.add(
        "local",
        dialect="sqlite",
        database=str(_sqlite_file(tmp_path / "data.db")),
        allow_samples=False,
    )
    assert (added.status, added.last_tested_at, added.allow_samples) == ("unknown", None, False)
    row = _assert_mirrors(db, added, box)
    assert bytes(row["config_encrypted"]).startswith(b"fernet:")
    assert b"data.db" not in bytes(row["config_encrypted"])  # sealed

    clock.advance(timedelta(minutes=1))
    updated = registry.update("local", {"pool_size": 2, "allow_samples": True})
    assert (updated.pool_size, updated.allow_samples) == (2, True)
    _assert_mirrors(db, updated, box)

    clock.advance(timedelta(minutes=1))
    tested = registry.test("local")
    assert (tested.status, tested.last_tested_at) == ("healthy", clock.now())
    assert _assert_mirrors(db, tested, box)["last_error"] is None
    assert [(c.name, c.status) for c in registry.list_connections()] == [("local", "healthy")]

    # A file in a directory that does not exist: the database cannot be reached.
    clock.advance(timedelta(minutes=1))
    registry.update("local", {"database": str(tmp_path / "gone" / "x.db")})
    failed, error = registry.check("local")
    assert error is not None
    assert (failed.status, failed.last_tested_at) == ("unhealthy", clock.now())
    assert _assert_mirrors(db, failed, box)["last_error"] == str(error)

    # A password reference that points at nothing: spine could not even try.
    clock.advance(timedelta(minutes=1))
    registry.update("local", {"dialect": "postgresql", "host": "127.0.0.1", "port": 1})
    registry.update("local", {"password_ref": "env:SPINE_TEST_UNSET_PASSWORD_VARIABLE"})
    with pytest.raises(SpineError):
        registry.test("local")
    assert registry.get("local").status == "error"

    registry.remove("local")
    assert _mirror(db, added.id) is None
    assert _count(db, connections) == 0


def test_failed_test_status_mapping(
    make_service: Callable[..., SourceService], db: Database, tmp_path: Path
) -> None:
    """unhealthy: the database (or the way to it) said no; error: spine could not try."""
    registry = make_service(secret_key=generate_key()).connections
    registry.add("gone", dialect="sqlite", database=str(tmp_path / "nowhere" / "x.db"))
    _, unreachable = registry.check("gone")
    assert unreachable is not None
    assert registry.get("gone").status == "unhealthy"
    registry.add("nodriver", dialect="db2", database="x", host="127.0.0.1", port=1)
    _, missing = registry.check("nodriver")
    assert missing is not None
    if missing.category.value == "CONFIGURATION":  # ibm_db is not installed here
        assert registry.get("nodriver").status == "error"
    row = _mirror(db, registry.get("nodriver").id)
    assert row is not None
    assert row["last_error"] == str(missing)


def test_without_a_key_the_config_is_marked_plain_and_rotate_seals_it(
    make_service: Callable[..., SourceService], db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    service = make_service()
    plain = ConnectionRegistry(service.store, service.connections.databases, clock)
    added = plain.add("pg", dialect="postgresql", database="dw", password_ref="env:DW_PASSWORD")
    row = _assert_mirrors(db, added, None)
    assert bytes(row["config_encrypted"]).startswith(PLAIN.encode())

    old, new = generate_key(), generate_key()
    sealed = ConnectionRegistry(
        service.store, service.connections.databases, clock, secret_key=lambda: old
    )
    other = sealed.add("mysql", dialect="mysql", database="m")
    assert sealed.reseal_mirrors(f"{new},{old}") == 2
    box = SecretBox(new)
    for connection in (added, other):
        stored = _assert_mirrors(db, plain.get(connection.name), box)
        assert bytes(stored["config_encrypted"]).startswith(b"fernet:")
        with pytest.raises(SpineError):
            open_config(stored["config_encrypted"], SecretBox(old))


def test_ensure_mirror_creates_a_missing_mirror_with_the_last_outcome(
    make_service: Callable[..., SourceService], db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    key = generate_key()
    registry = make_service(secret_key=key).connections
    made = registry.add("local", dialect="sqlite", database=str(_sqlite_file(tmp_path / "a.db")))
    tested = registry.test("local")
    expected = ULID.from_str(made.id).to_uuid()
    assert registry.ensure_mirror("local") == expected
    # A connection made before this version: no mirror.
    with db.engine.begin() as conn:
        conn.execute(sa.delete(connections))
    assert registry.get("local").status == "unknown"
    clock.advance(timedelta(hours=1))
    assert registry.ensure_mirror("local") == expected
    assert registry.ensure_mirror(Ref.id(made.id)) == expected  # idempotent, by id too
    again = registry.get("local")
    assert (again.status, again.last_tested_at) == ("healthy", tested.last_connected_at)
    _assert_mirrors(db, again, SecretBox(key))
    assert registry.from_mirror(expected).name == "local"
    with pytest.raises(ConnectionNotFound):
        registry.ensure_mirror("nope")
    with pytest.raises(ConnectionNotFound):
        registry.from_mirror(uuid.uuid4())


def test_removing_a_connection_removes_its_checks_only_with_force(
    make_service: Callable[..., SourceService], db: Database, clock: FrozenClock
) -> None:
    registry = make_service(secret_key=generate_key()).connections
    registry.add("dw", dialect="postgresql", database="dw")
    registry.add("keep", dialect="postgresql", database="k")
    mirror = registry.ensure_mirror("dw")
    for name in ("rows", "nulls"):
        _add_check(db, mirror, name, clock)
    kept = _add_check(db, registry.ensure_mirror("keep"), "other", clock)
    assert registry.count_checks("dw") == 2
    with pytest.raises(Conflict, match="has 2 quality checks"):
        registry.remove("dw")
    assert registry.get("dw").name == "dw"
    assert (_count(db, check_definitions), _count(db, check_results)) == (3, 3)

    removed, checks = registry.remove_with_checks("dw", force=True)
    assert (removed.name, checks) == ("dw", 2)
    with pytest.raises(ConnectionNotFound):
        registry.get("dw")
    assert (_count(db, check_definitions), _count(db, check_results)) == (1, 1)
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(check_definitions.c.id)).scalar_one() == kept
    # Without checks, no --force needed.
    with db.engine.begin() as conn:
        conn.execute(sa.delete(check_definitions))
    assert registry.remove_with_checks("keep")[1] == 0


def test_allow_samples_is_audited(make_service: Callable[..., SourceService], db: Database) -> None:
    registry = make_service(secret_key=generate_key()).connections
    made = registry.add("dw", dialect="postgresql", database="dw")
    registry.update("dw", {"allow_samples": False})
    from spine.core.storage.schema.dq_platform import audit_log

    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.changes)
            .where(audit_log.c.entity_type == "connection")
            .order_by(audit_log.c.id)
        ).all()
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[0].changes["allow_samples"] == {"old": None, "new": True}
    assert rows[1].changes == {"allow_samples": {"old": True, "new": False}}
    assert made.allow_samples
