"""Migrations: every tier applies, compares clean with the schema, and rolls back."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from spine.core.storage import Database
from spine.core.storage.migrations.support import VERSION_TABLE, include_object
from spine.core.storage.migrator import Migrator
from spine.core.storage.schema import (
    LEGACY_VIEWS,
    Tier,
    metadata_for,
    tables_of_tier,
    tables_up_to,
)


def schema_diff(database: Database) -> list[object]:
    target = metadata_for(database.dialect)
    with database.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": database.dialect == "postgresql",
                "include_object": include_object,
                "compare_type": True,
                "version_table": VERSION_TABLE,
                "target_metadata": target,
            },
        )
        return list(compare_metadata(context, target))


def table_names(database: Database) -> set[str]:
    inspector = sa.inspect(database.engine)
    schemas = [None, "workflow", "core"] if database.dialect == "postgresql" else [None]
    names: set[str] = set()
    for schema in schemas:
        names.update(inspector.get_table_names(schema=schema))
    names.discard(VERSION_TABLE)
    return {n for n in names if not n.endswith("_default") and not n[-7:-3].isdigit()}


def view_names(database: Database) -> set[str]:
    return set(sa.inspect(database.engine).get_view_names())


def test_upgrade_to_head_matches_the_schema(empty_db: Database) -> None:
    Migrator(empty_db).upgrade()

    assert schema_diff(empty_db) == []
    assert table_names(empty_db) == {t.name for t in tables_up_to(Tier.ADVANCED)}
    assert view_names(empty_db) == {v.name for v in LEGACY_VIEWS}


def test_each_tier_applies_only_itself_and_below(empty_db: Database) -> None:
    migrator = Migrator(empty_db)

    migrator.upgrade(Tier.BASIC)
    assert table_names(empty_db) == {t.name for t in tables_of_tier(Tier.BASIC)}
    assert [s.tier for s in migrator.status() if s.applied] == [Tier.BASIC]

    migrator.upgrade(Tier.INTERMEDIATE)
    assert table_names(empty_db) == {t.name for t in tables_up_to(Tier.INTERMEDIATE)}
    assert migrator.missing_tiers() == [Tier.ADVANCED]


def test_downgrading_a_tier_removes_the_tiers_above_it(empty_db: Database) -> None:
    migrator = Migrator(empty_db)
    migrator.upgrade()

    migrator.downgrade(Tier.INTERMEDIATE)

    assert table_names(empty_db) == {t.name for t in tables_of_tier(Tier.BASIC)}
    assert view_names(empty_db) == set()
    assert migrator.missing_tiers() == [Tier.INTERMEDIATE, Tier.ADVANCED]


def test_upgrade_downgrade_base_upgrade_is_clean(empty_db: Database) -> None:
    migrator = Migrator(empty_db)
    migrator.upgrade()

    migrator.downgrade(None)
    assert table_names(empty_db) == set()
    assert all(not s.applied for s in migrator.status())

    migrator.upgrade()
    assert schema_diff(empty_db) == []
    assert migrator.missing_tiers() == []


def test_upgrade_twice_changes_nothing(empty_db: Database) -> None:
    migrator = Migrator(empty_db)
    first = [s.to_dict() for s in migrator.upgrade()]
    second = [s.to_dict() for s in migrator.upgrade()]
    assert first == second


def test_standard_trigger_and_entity_types_are_seeded(db: Database) -> None:
    from spine.core.storage.schema.automation import entity_types, trigger_types

    with db.read() as conn:
        triggers = set(conn.execute(sa.select(trigger_types.c.name)).scalars())
        entities = set(conn.execute(sa.select(entity_types.c.name)).scalars())
    assert triggers == {"on_create", "on_update", "on_delete", "scheduled"}
    assert entities == {"table", "view"}
