"""Alembic environment for spine's schema.

Run through :mod:`spine.core.storage.migrator`, which hands over either a live
connection (``config.attributes["connection"]``) or, offline, a dialect name
(``config.attributes["dialect"]``) to print DDL for.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from spine.core.storage.migrations.support import VERSION_TABLE, include_object
from spine.core.storage.schema import metadata_for

config = context.config


def _configure_common(dialect: str) -> dict[str, Any]:
    return {
        "target_metadata": metadata_for(dialect),
        "version_table": VERSION_TABLE,
        "include_schemas": dialect == "postgresql",
        "include_object": include_object,
        "render_as_batch": dialect == "sqlite",
        "compare_type": True,
    }


def run_offline() -> None:
    """Print the DDL for a dialect without a database."""
    dialect = config.attributes["dialect"]
    context.configure(
        dialect_name=dialect,
        literal_binds=True,
        transactional_ddl=False,
        **_configure_common(dialect),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate the database behind the connection the migrator passed in."""
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        transaction_per_migration=True,
        **_configure_common(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
