"""``/connections``: samples, the mirror's status, and removal of a connection with checks."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import sqlalchemy as sa
from ulid import ULID

from spine.core.storage.schema.dq_platform import check_definitions
from tests.api.tenants import Tenant, Tenants


def _add_check(tenant: Tenant, connection_id: str) -> None:
    now = tenant.services.clock.now()
    with tenant.services.database.engine.begin() as conn:
        conn.execute(
            sa.insert(check_definitions).values(
                id=uuid.uuid4(),
                connection_id=ULID.from_str(connection_id).to_uuid(),
                workspace_id=tenant.workspace.id,
                name="rows",
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


def test_samples_status_and_forced_removal(tenants: Tenants, tmp_path: Path) -> None:
    a = tenants.a
    database = tmp_path / "w.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    body = {"name": "w", "dialect": "sqlite", "database": str(database), "allow_samples": False}
    made = a.post("/connections", "admin", json=body)
    assert made.status_code == 201, made.text
    created = made.json()
    assert (created["allow_samples"], created["status"], created["last_tested_at"]) == (
        False,
        "unknown",
        None,
    )
    suffix = f"/connections/{created['id']}"
    tested = a.post(f"{suffix}/test", "admin").json()["connection"]
    assert tested["status"] == "healthy" and tested["last_tested_at"] is not None
    patched = a.request("PATCH", suffix, "admin", json={"allow_samples": True})
    assert patched.status_code == 200 and patched.json()["allow_samples"] is True

    _add_check(a, created["id"])
    refused = a.request("DELETE", suffix, "admin")
    assert refused.status_code == 409, refused.text
    assert "1 quality check" in refused.json()["detail"]
    assert a.get(suffix).status_code == 200
    assert a.request("DELETE", suffix, "admin", params={"force": "true"}).status_code == 204
    assert a.get(suffix).status_code == 404
    with a.services.database.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(check_definitions)).scalar() == 0
