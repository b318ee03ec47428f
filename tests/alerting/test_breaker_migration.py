"""advanced_0002: a channel's breaker is named by the channel's id, and back."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from spine.core.storage import Database
from spine.core.storage.migrator import Migrator

STAMP = datetime(2026, 1, 5, tzinfo=UTC)
OPS = "01JAAAAAAAAAAAAAAAAAAAAAAA"
SNOW = "01JBBBBBBBBBBBBBBBBBBBBBBB"


def _run(migrator: Migrator, step: str, revision: str) -> None:
    do = command.upgrade if step == "up" else command.downgrade
    migrator._run(lambda cfg: do(cfg, revision))


def _breakers(db: Database) -> dict[str, str]:
    with db.read() as conn:
        rows = conn.execute(sa.text("SELECT name, state FROM circuit_breakers")).all()
    return {str(row.name): str(row.state) for row in rows}


def test_breakers_move_to_channel_ids_and_back(empty_db: Database) -> None:
    migrator = Migrator(empty_db)
    _run(migrator, "up", "intermediate_0006")
    _run(migrator, "up", "advanced_0001")
    stamp = STAMP.isoformat() if empty_db.is_sqlite else STAMP
    with empty_db.write() as conn:
        for channel_id, name in ((OPS, "ops"), (SNOW, "snow")):
            conn.execute(
                sa.text(
                    "INSERT INTO core_alert_channels (id, name, channel_type, config_json, "
                    "created_at, updated_at) VALUES (:id, :name, 'webhook', '{}', :at, :at)"
                ),
                {"id": channel_id, "name": name, "at": stamp},
            )
        for breaker_id, name, state in (
            ("01JCCCCCCCCCCCCCCCCCCCCCCC", "alert-channel:ops", "open"),
            ("01JDDDDDDDDDDDDDDDDDDDDDDD", "alert-channel:snow", "closed"),
            ("01JEEEEEEEEEEEEEEEEEEEEEEE", "alert-channel:gone", "closed"),
            ("01JFFFFFFFFFFFFFFFFFFFFFFF", "source:x", "open"),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO circuit_breakers (breaker_id, name, state, updated_at) "
                    "VALUES (:id, :name, :state, :at)"
                ),
                {"id": breaker_id, "name": name, "state": state, "at": stamp},
            )
    before = _breakers(empty_db)

    _run(migrator, "up", "advanced_0002")
    assert _breakers(empty_db) == {
        f"alert-channel:{OPS}": "open",
        f"alert-channel:{SNOW}": "closed",
        "alert-channel:gone": "closed",  # no such channel: left as it was
        "source:x": "open",
    }

    _run(migrator, "down", "advanced_0001")
    assert _breakers(empty_db) == before


def test_downgrade_keeps_the_default_workspaces_breaker_of_a_shared_name(
    empty_db: Database,
) -> None:
    migrator = Migrator(empty_db)
    _run(migrator, "up", "advanced_0002")
    stamp = STAMP.isoformat() if empty_db.is_sqlite else STAMP
    other_org, other_ws = "11111111111111111111111111111111", "22222222222222222222222222222222"
    if not empty_db.is_sqlite:
        other_org = "11111111-1111-1111-1111-111111111111"
        other_ws = "22222222-2222-2222-2222-222222222222"
    with empty_db.write() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO organizations (id, name, created_at, updated_at) "
                "VALUES (:id, 'acme', :at, :at)"
            ),
            {"id": other_org, "at": stamp},
        )
        conn.execute(
            sa.text(
                "INSERT INTO workspaces (id, organization_id, name, created_at, updated_at) "
                "VALUES (:id, :org, 'team', :at, :at)"
            ),
            {"id": other_ws, "org": other_org, "at": stamp},
        )
        for channel_id, workspace in ((OPS, None), (SNOW, other_ws)):
            columns = "id, name, channel_type, config_json, created_at, updated_at"
            values = ":id, 'ops', 'webhook', '{}', :at, :at"
            if workspace is not None:
                columns, values = columns + ", workspace_id", values + ", :ws"
            conn.execute(
                sa.text(f"INSERT INTO core_alert_channels ({columns}) VALUES ({values})"),
                {"id": channel_id, "at": stamp, "ws": workspace},
            )
        for breaker_id, channel_id, state in (
            ("01JCCCCCCCCCCCCCCCCCCCCCCC", SNOW, "open"),
            ("01JDDDDDDDDDDDDDDDDDDDDDDD", OPS, "closed"),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO circuit_breakers (breaker_id, name, state, updated_at) "
                    "VALUES (:id, :name, :state, :at)"
                ),
                {
                    "id": breaker_id,
                    "name": f"alert-channel:{channel_id}",
                    "state": state,
                    "at": stamp,
                },
            )

    _run(migrator, "down", "advanced_0001")

    # The default workspace's `ops` keeps the old name; the other one's breaker is dropped.
    assert _breakers(empty_db) == {"alert-channel:ops": "closed"}
