"""The content cache (``core_source_cache``): downloads kept by source and params.

Small content is kept inline (``content_blob``), large content as a file under the cache
directory (``content_path``). An entry expires ``cache_ttl_seconds`` after it was fetched
(a fetch inside that window is served from the cache without a request); an expired entry
still supplies the ETag / Last-Modified to revalidate it, and a 304 renews it. Eviction is
least recently used first (``last_accessed_at``) until the total fits the size budget.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from spine.core.clock import Clock
from spine.core.errors import ConfigurationError
from spine.sources.models import CacheEntry, Fetched, Source
from spine.sources.store import SourceStore


def cache_key(source: Source, params: Mapping[str, Any]) -> str:
    """SHA-256 of the source's id and its params (canonical JSON).

    The id, not the name: two workspaces may each have a source of one name, and one
    must never be served the other's content.
    """
    text = json.dumps({"source": source.id, "params": dict(params)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class EvictionReport:
    """What an eviction removed."""

    entries: int
    bytes: int


class ContentCache:
    """Stores, serves and evicts cached content.

    Args:
        store: The sources store.
        clock: Time source.
        directory: Where large content lives (one file per entry).
        max_bytes: The size budget; least recently used entries go beyond it.
        inline_max_bytes: Content up to this size is kept in the database row.
    """

    def __init__(
        self,
        store: SourceStore,
        clock: Clock,
        *,
        directory: Path,
        max_bytes: int,
        inline_max_bytes: int,
    ) -> None:
        self.store = store
        self.clock = clock
        self.directory = directory
        self.max_bytes = max_bytes
        self.inline_max_bytes = inline_max_bytes
        #: False once the cache table turned out to be missing (a database migrated to
        #: the intermediate tier only): fetches then work without a cache.
        self.available = True

    def acting_as(self, store: SourceStore) -> ContentCache:
        """This cache over ``store`` (a store acting as another actor)."""
        copy = ContentCache(
            store,
            self.clock,
            directory=self.directory,
            max_bytes=self.max_bytes,
            inline_max_bytes=self.inline_max_bytes,
        )
        copy.available = self.available
        return copy

    def get(self, key: str) -> CacheEntry | None:
        """The entry under ``key`` whose content is still there, if any."""
        if not self.available:
            return None
        try:
            entry = self.store.get_cache(key)
        except ConfigurationError:
            # core_source_cache belongs to the advanced tier (spec 000's tier table).
            self.available = False
            return None
        if entry is None:
            return None
        if entry.content_path and not Path(entry.content_path).is_file():
            self.store.delete_cache([key])
            return None
        return entry

    def is_fresh(self, entry: CacheEntry) -> bool:
        """Whether the entry has not expired."""
        return entry.expires_at is not None and entry.expires_at > self.clock.now()

    def content(self, entry: CacheEntry) -> bytes | Path | None:
        """The entry's content, marking it used now (for LRU)."""
        self.store.touch_cache(entry.cache_key, {"last_accessed_at": self.clock.now()})
        if entry.content_blob is not None:
            return bytes(entry.content_blob)
        return Path(entry.content_path) if entry.content_path else None

    def renew(self, entry: CacheEntry, ttl_seconds: float, fetched: Fetched) -> None:
        """After a 304: the entry is valid again for ``ttl_seconds``."""
        now = self.clock.now()
        self.store.touch_cache(
            entry.cache_key,
            {
                "last_accessed_at": now,
                "expires_at": now + timedelta(seconds=ttl_seconds),
                "etag": fetched.etag or entry.etag,
                "last_modified": fetched.last_modified or entry.last_modified,
            },
        )

    def put(
        self, key: str, source: Source, fetched: Fetched, ttl_seconds: float
    ) -> bytes | Path | None:
        """Keep ``fetched.content`` under ``key``; return the content's new home.

        A download that spilled to a file is moved into the cache directory; small
        content goes inline. Then the cache is trimmed to its budget.
        """
        content = fetched.content
        if content is None or not self.available:
            return content
        now = self.clock.now()
        blob: bytes | None = None
        path: Path | None = None
        if isinstance(content, bytes) and len(content) <= self.inline_max_bytes:
            blob = content
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{key}.bin"
            if isinstance(content, bytes):
                path.write_bytes(content)
            elif content.resolve() != path.resolve():
                shutil.move(str(content), path)
        size = len(blob) if blob is not None else (path.stat().st_size if path else 0)
        replaced = self.store.put_cache(
            {
                "cache_key": key,
                "source_id": source.id,
                "source_type": source.source_type.value,
                "source_locator": fetched.locator,
                "content_hash": fetched.content_hash,
                "content_size": size,
                "content_path": str(path) if path else None,
                "content_blob": blob,
                "fetched_at": now,
                "expires_at": now + timedelta(seconds=ttl_seconds),
                "etag": fetched.etag,
                "last_modified": fetched.last_modified,
                "metadata_json": {"record_count": fetched.record_count, **fetched.metadata},
                "last_accessed_at": now,
            }
        )
        if replaced is not None and replaced.content_path and path is None:
            Path(replaced.content_path).unlink(missing_ok=True)
        self.enforce_budget(keep=key)
        return blob if blob is not None else path

    def enforce_budget(self, keep: str | None = None) -> EvictionReport:
        """Evict least recently used entries until the total fits ``max_bytes``."""
        entries = self.store.list_cache(every_workspace=True)
        total = sum(e.content_size for e in entries)
        victims: list[CacheEntry] = []
        for entry in entries:
            if total <= self.max_bytes:
                break
            if entry.cache_key == keep:
                continue
            victims.append(entry)
            total -= entry.content_size
        return self._remove(victims)

    def evict(
        self, *, everything: bool = False, older_than: timedelta | None = None
    ) -> EvictionReport:
        """Remove the workspace's entries: all, unused for ``older_than``, or expired.

        Then trim the whole cache to the budget.
        """
        now = self.clock.now()
        entries = self.store.list_cache()
        if everything:
            victims = entries
        elif older_than is not None:
            victims = [e for e in entries if e.last_accessed_at < now - older_than]
        else:
            victims = [e for e in entries if e.expires_at is not None and e.expires_at <= now]
        report = self._remove(victims)
        budget = self.enforce_budget()
        return EvictionReport(report.entries + budget.entries, report.bytes + budget.bytes)

    def entries(self) -> list[CacheEntry]:
        """The workspace's entries, least recently used first."""
        return self.store.list_cache()

    def _remove(self, victims: list[CacheEntry]) -> EvictionReport:
        self.store.delete_cache([v.cache_key for v in victims])
        for victim in victims:
            if victim.content_path:
                Path(victim.content_path).unlink(missing_ok=True)
        return EvictionReport(len(victims), sum(v.content_size for v in victims))
