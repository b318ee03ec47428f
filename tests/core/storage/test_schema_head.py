"""The cheap schema check agrees with Alembic and sees what is behind."""

from __future__ import annotations

from alembic import command

from spine.core.storage import Database
from spine.core.storage.migrator import Migrator, _script
from spine.core.storage.schema import Tier
from spine.core.storage.schema_head import SchemaBehind, schema_behind, tier_heads


def test_heads_read_from_file_names_are_alembics() -> None:
    script = _script()

    assert tier_heads() == {
        tier: script.get_revision(f"{tier.value}@head").revision  # type: ignore[union-attr]
        for tier in Tier
    }


def test_an_empty_database_is_behind_and_a_migrated_one_is_not(empty_db: Database) -> None:
    assert schema_behind(empty_db) == SchemaBehind(empty=True)

    Migrator(empty_db).upgrade(Tier.BASIC)
    assert schema_behind(empty_db) is None  # the basic tier alone, at its head

    Migrator(empty_db).upgrade()
    assert schema_behind(empty_db) is None


def test_a_tier_behind_its_head_is_seen(empty_db: Database) -> None:
    migrator = Migrator(empty_db)
    migrator.upgrade(Tier.INTERMEDIATE)
    migrator._run(lambda config: command.downgrade(config, "intermediate_0003"))

    assert schema_behind(empty_db) == SchemaBehind(empty=False, tiers=(Tier.INTERMEDIATE,))
