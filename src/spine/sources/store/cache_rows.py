"""The content cache's rows (``core_source_cache``): :class:`CacheRows`.

Cache entries have no workspace column: they are reached through their source. The
cache's size budget is one for the process, so it may list every workspace's entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from spine.core.storage.schema.sources import core_source_cache, core_sources
from spine.sources.models import CacheEntry
from spine.sources.store.workspace import WorkspaceStore


def _cache_entry(row: sa.Row[Any]) -> CacheEntry:
    values = dict(row._mapping)
    values["metadata"] = dict(values.pop("metadata_json") or {})
    values["content_size"] = int(values["content_size"] or 0)
    return CacheEntry(**values)


class CacheRows(WorkspaceStore):
    """The content cache's part of :class:`~spine.sources.store.SourceStore`."""

    def get_cache(self, cache_key: str) -> CacheEntry | None:
        """The cache entry under ``cache_key``, if any."""
        query = sa.select(core_source_cache).where(core_source_cache.c.cache_key == cache_key)
        row = self.db.run_read(lambda conn: conn.execute(query).one_or_none())
        return None if row is None else _cache_entry(row)

    def put_cache(self, values: Mapping[str, Any]) -> CacheEntry | None:
        """Insert or replace a cache entry; return the entry it replaced, if any."""
        t = core_source_cache

        def work(conn: sa.Connection) -> CacheEntry | None:
            old = conn.execute(
                sa.select(t).where(t.c.cache_key == values["cache_key"])
            ).one_or_none()
            conn.execute(sa.delete(t).where(t.c.cache_key == values["cache_key"]))
            conn.execute(sa.insert(t).values(**values))
            return None if old is None else _cache_entry(old)

        return self.db.run_write(work)

    def touch_cache(self, cache_key: str, values: Mapping[str, Any]) -> None:
        """Update an entry's columns (``last_accessed_at``, revalidation results)."""
        statement = (
            sa.update(core_source_cache)
            .where(core_source_cache.c.cache_key == cache_key)
            .values(**values)
        )
        self.db.run_write(lambda conn: conn.execute(statement))

    def list_cache(self, *, every_workspace: bool = False) -> list[CacheEntry]:
        """The workspace's cache entries (those of its sources), least recently used first.

        ``every_workspace``: every entry (the engine's size budget is one for the process).
        """
        t = core_source_cache
        query = sa.select(t).order_by(t.c.last_accessed_at, t.c.cache_key)
        if not every_workspace:
            mine = sa.select(core_sources.c.id).where(
                core_sources.c.workspace_id == self.workspace_id
            )
            query = query.where(t.c.source_id.in_(mine))
        return [_cache_entry(r) for r in self.db.run_read(lambda conn: conn.execute(query).all())]

    def delete_cache(self, keys: list[str]) -> int:
        """Delete these entries; return how many went."""
        if not keys:
            return 0
        statement = sa.delete(core_source_cache).where(core_source_cache.c.cache_key.in_(keys))
        return self.db.run_write(lambda conn: conn.execute(statement).rowcount)
