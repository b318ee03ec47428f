"""Spine's storage: the engine, the specification's adapter API, types, schema, migrations.

The specification's usage example works as written::

    config = DatabaseConfig.from_env()
    adapter = create_adapter(config)
    adapter.connect()
"""

from spine.core.storage.adapter import (
    DatabaseAdapter,
    DatabaseConfig,
    QueryResult,
    create_adapter,
)
from spine.core.storage.engine import (
    Database,
    EngineOptions,
    create_database,
    normalize_url,
    redact,
    sql_connection,
)

__all__ = [
    "Database",
    "DatabaseAdapter",
    "DatabaseConfig",
    "EngineOptions",
    "QueryResult",
    "create_adapter",
    "create_database",
    "normalize_url",
    "redact",
    "sql_connection",
]
