"""``spine connections``: samples, status and removal with checks, through the console script."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from ulid import ULID

from spine.core.storage.schema.dq_platform import check_definitions
from spine.tenancy import DEFAULT_WORKSPACE_ID
from tests.cli.spine_process import invoke_spine

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _add_check(db_url: str, mirror: uuid.UUID) -> None:
    now = datetime.now(UTC)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(check_definitions).values(
                id=uuid.uuid4(),
                connection_id=mirror,
                workspace_id=DEFAULT_WORKSPACE_ID,
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
    engine.dispose()


def test_samples_status_and_removal_with_checks(tmp_path: Path, db_url: str) -> None:
    env = {"SPINE_DATABASE_URL": db_url}
    data = tmp_path / "data.db"
    with sqlite3.connect(data) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    added = invoke_spine(
        "connections", "add", "local", "--dialect", "sqlite", "--database", str(data),
        "--no-samples", "--json", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert added.code == 0, added.stderr
    made = json.loads(added.stdout)
    assert (made["allow_samples"], made["status"], made["last_tested_at"]) == (
        False,
        "unknown",
        None,
    )
    assert invoke_spine("connections", "test", "local", cwd=tmp_path, env=env).code == 0
    updated = invoke_spine(
        "connections", "update", "local", "--samples", "--json", cwd=tmp_path, env=env
    )
    assert updated.code == 0, updated.stderr
    assert json.loads(updated.stdout)["allow_samples"] is True
    listed = invoke_spine("connections", "list", "--json", cwd=tmp_path, env=env)
    [row] = json.loads(listed.stdout)
    assert (row["status"], row["allow_samples"]) == ("healthy", True)
    assert row["last_tested_at"] is not None
    nothing = invoke_spine("connections", "update", "local", cwd=tmp_path, env=env)
    assert nothing.code == 2 and "nothing to change" in nothing.stderr

    _add_check(db_url, ULID.from_str(made["id"]).to_uuid())
    refused = invoke_spine("connections", "remove", "local", cwd=tmp_path, env=env)
    assert refused.code == 2, refused.stdout
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "has 1 quality check" in lines[0] and "--force" in lines[0]
    assert "Traceback" not in refused.stderr
    assert invoke_spine("connections", "show", "local", cwd=tmp_path, env=env).code == 0
    removed = invoke_spine("connections", "remove", "local", "--force", cwd=tmp_path, env=env)
    assert removed.code == 0, removed.stderr
    assert removed.stdout.strip() == "connection local removed, with 1 check"
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(check_definitions)).scalar()
    engine.dispose()
    assert left == 0


def test_secret_key_rotate_reseals_the_connection_mirrors(tmp_path: Path, db_url: str) -> None:
    from spine.core.crypto import SecretBox, generate_key
    from spine.core.storage.schema.dq_platform import connections
    from spine.sources.mirror import open_config

    env = {"SPINE_DATABASE_URL": db_url}
    added = invoke_spine(
        "connections", "add", "dw", "--dialect", "postgresql", "--database", "dw",
        "--password-ref", "env:DW_PASSWORD", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert added.code == 0, added.stderr
    local = Path(db_url.removeprefix("sqlite:///") + ".secret.key").read_text().strip()
    new = generate_key()
    rotated = invoke_spine(
        "secret-key", "rotate", cwd=tmp_path, env={**env, "SPINE_SECRET_KEY": f"{new},{local}"}
    )
    assert rotated.code == 0, rotated.stderr
    assert "and 1 connection config with" in rotated.stdout
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        blob = conn.execute(sa.select(connections.c.config_encrypted)).scalar_one()
    engine.dispose()
    assert open_config(blob, SecretBox(new))["password_ref"] == "env:DW_PASSWORD"
