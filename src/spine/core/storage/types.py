"""Column types that mean the same thing on every dialect.

- :class:`JSONType`: ``JSONB`` on PostgreSQL, JSON text on SQLite, ``CLOB`` on DB2.
- :func:`keyed_text`: unbounded text, but ``VARCHAR(n)`` on DB2, for text in a key or an
  index (DB2 cannot index a ``CLOB``).
- :class:`UtcDateTime`: ``TIMESTAMPTZ`` on PostgreSQL; on SQLite fixed-width ISO-8601 UTC
  text (``2025-01-10T12:00:00.000000+00:00``), so that text order is time order and the
  spec's TEXT timestamps stay readable. Python always sees aware UTC datetimes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from spine.core.jsonsafe import dumps

_DB2_DIALECTS = frozenset({"ibm_db_sa", "db2"})
SQLITE_TIMESTAMP_WIDTH = 32


class JSONType(TypeDecorator[Any]):
    """A JSON document: JSONB on PostgreSQL, text elsewhere."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Pick JSONB on PostgreSQL, CLOB on DB2, the generic JSON type elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        if dialect.name in _DB2_DIALECTS:
            return dialect.type_descriptor(sa.CLOB())
        return dialect.type_descriptor(sa.JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Serialise by hand where the dialect stores plain text (DB2)."""
        if dialect.name in _DB2_DIALECTS and value is not None:
            return dumps(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        """Parse text back where the dialect stored plain text (DB2)."""
        if dialect.name in _DB2_DIALECTS and isinstance(value, str):
            return json.loads(value)
        return value


def keyed_text(length: int) -> TypeEngine[str]:
    """Text in a key or an index: ``TEXT`` on SQLite and PostgreSQL, ``VARCHAR(length)`` on DB2.

    DB2 maps unbounded text to ``CLOB``, which no index, primary key or unique constraint
    may contain; SQLite and PostgreSQL keep ``TEXT``, so their schema is unchanged.
    """
    return sa.Text().with_variant(sa.String(length), *sorted(_DB2_DIALECTS))


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC and returned timezone-aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Store ISO text on SQLite, TIMESTAMP WITH TIME ZONE elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(SQLITE_TIMESTAMP_WIDTH))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Normalise to UTC; naive values are taken as UTC."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return format_timestamp(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def format_timestamp(value: datetime) -> str:
    """Return the fixed-width ISO-8601 UTC text spine stores on SQLite."""
    last = _last_formatted
    if last[0] is value:
        return last[1]
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = utc.isoformat(timespec="microseconds")
    _remember(value, text)
    return text


def _remember(value: datetime, text: str) -> None:
    # A transition writes one "now" into several columns and events (a step's start,
    # its end, two events): formatting it once saves a fifth of a step's conversions.
    # One tuple, replaced whole, so a thread never reads a value with another's text.
    global _last_formatted
    _last_formatted = (value, text)


_last_formatted: tuple[datetime | None, str] = (None, "")
