"""The source registry and the fetch that records itself: :class:`SourceService`.

Every fetch of a registered source writes one ``core_source_fetches`` row, whatever its
outcome: SUCCESS, UNCHANGED, NOT_FOUND (the file, URL or object is not there) or FAILED
(with ``error`` and ``error_category``). Only an unknown or disabled source writes none,
since there is no source to write it for.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spine.core.clock import Clock
from spine.core.errors import InvalidInput, SpineError, categorize
from spine.core.events import Listener
from spine.core.ids import new_id
from spine.core.jsonsafe import json_object
from spine.core.secrets import resolve_secret
from spine.core.storage import Database
from spine.sources.cache import ContentCache, cache_key
from spine.sources.configs import (
    REQUIRED_KEYS,
    SECRET_MARK,
    audited_config,
    audited_source,
    check_config,
    source_type,
)
from spine.sources.connections import ConnectionRegistry, check_name, check_text
from spine.sources.endpoints import check_endpoint
from spine.sources.errors import ContentNotFound, SourceDisabled
from spine.sources.fetchers import Fetcher, FetchRequest, FetchSettings, fetcher_for
from spine.sources.fetchers.base import AttemptsFailed
from spine.sources.fetchers.database import DatabaseFetcher
from spine.sources.models import Fetched, FetchResult, FetchStatus, Source, SourceType
from spine.sources.results import capture_id_for, failure_category, fetch_row
from spine.sources.store import ExternalDatabases, Ref, SourceStore
from spine.tenancy import Actor

if TYPE_CHECKING:
    from spine.config import Settings

# Checking and auditing a config, and recording a fetch, have modules of their own
# (``configs``, ``results``); their names stay importable from here.
__all__ = [
    "CACHED_TYPES",
    "REQUIRED_KEYS",
    "SECRET_MARK",
    "SourceService",
    "audited_config",
    "audited_source",
    "capture_id_for",
    "check_config",
    "failure_category",
    "source_type",
]

#: Types whose content is downloaded, and so kept in the content cache.
CACHED_TYPES = (SourceType.HTTP, SourceType.S3, SourceType.SFTP, SourceType.DATABASE)


class SourceService:
    """Registers sources and fetches them, recording every fetch.

    Args:
        store: The sources store on spine's database.
        clock: Time source (timestamps, retry back-off, cache expiry).
        settings: Limits and places for fetchers.
        cache: The content cache.
        connections: The registered database connections.
    """

    def __init__(
        self,
        store: SourceStore,
        clock: Clock,
        settings: FetchSettings,
        cache: ContentCache,
        connections: ConnectionRegistry,
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.cache = cache
        self.connections = connections
        # Shared by every copy (acting_as): a database source finds its connection in
        # its own workspace, whoever fetches it.
        self._fetchers: dict[SourceType, Fetcher] = {
            SourceType.DATABASE: DatabaseFetcher(connections.for_source, connections.databases)
        }

    @property
    def actor(self) -> Actor:
        """Who this service acts as (its workspace is the only one it reads and writes)."""
        return self.store.actor

    def acting_as(self, actor: Actor) -> SourceService:
        """This service acting as ``actor``.

        A cheap copy sharing the pools, the fetchers and the cache directory.
        """
        other = copy.copy(self)
        other.store = self.store.acting_as(actor)
        other.cache = self.cache.acting_as(other.store)
        other.connections = self.connections.acting_as(other.store)
        return other

    def fetcher(self, kind: SourceType) -> Fetcher:
        """The fetcher of a source type (made on first use)."""
        if kind not in self._fetchers:
            self._fetchers[kind] = fetcher_for(kind)
        return self._fetchers[kind]

    @classmethod
    def build(
        cls,
        settings: Settings,
        database: Database,
        clock: Clock,
        *,
        databases: ExternalDatabases | None = None,
        listeners: Sequence[Listener] = (),
        actor: Actor | None = None,
    ) -> SourceService:
        """The service for these settings, on spine's database.

        ``databases`` shares the engines (and pools) of registered connections between
        services of one process; ``listeners`` get ``source.changed`` when a fetch
        brings new content, in the transaction that records the fetch.
        """
        store = SourceStore(database, listeners=listeners, actor=actor or Actor())
        cache_dir = Path(settings.sources_cache_dir)
        fetch_settings = FetchSettings(
            allow_private_urls=settings.sources_allow_private_urls,
            max_bytes=settings.sources_max_bytes,
            inline_max_bytes=settings.sources_cache_inline_max_bytes,
            download_dir=cache_dir / "downloads",
            timeout_seconds=settings.sources_timeout_seconds,
        )
        cache = ContentCache(
            store,
            clock,
            directory=cache_dir,
            max_bytes=settings.sources_cache_max_bytes,
            inline_max_bytes=settings.sources_cache_inline_max_bytes,
        )
        databases = databases or ExternalDatabases(
            connect_timeout_seconds=settings.connect_timeout_seconds
        )
        registry = ConnectionRegistry(
            store, databases, clock, secret_key=settings.effective_secret_key
        )
        return cls(store, clock, fetch_settings, cache, registry)

    def close(self) -> None:
        """Close the pools of registered connections this service opened."""
        self.connections.databases.dispose()

    # -- registry ------------------------------------------------------------------

    def add(
        self,
        name: str,
        kind: str | SourceType,
        config: Mapping[str, Any],
        *,
        domain: str | None = None,
        created_by: str | None = None,
        if_absent: bool = False,
    ) -> Source:
        """Register a source in the workspace (audited).

        With ``if_absent``, an existing one of that name is kept (and nothing audited).

        Raises:
            InvalidInput: Bad name, type or config (a network source whose URL is not
                http(s), or whose SFTP host is not a host).
            UrlNotAllowed: If a network source's host is private and that is not allowed.
            Conflict: If the name is taken in the workspace (and ``if_absent`` is off).
        """
        check_name(name, "source")
        parsed = kind if isinstance(kind, SourceType) else source_type(kind)
        if not isinstance(config, Mapping):
            raise InvalidInput("a source's config must be a JSON object")
        check_config(parsed, config)
        check_endpoint(parsed, config, allow_private=self.settings.allow_private_urls)
        check_text(domain, "domain")
        check_text(created_by, "created_by")
        now = self.clock.now()
        return self.store.add_source(
            {
                "id": new_id(),
                "name": name,
                "source_type": parsed.value,
                "config_json": dict(config),
                "domain": domain,
                "enabled": True,
                "created_at": now,
                "updated_at": now,
                "created_by": created_by,
            },
            if_absent=if_absent,
            audited=audited_source,
        )

    def get(self, ref: str | Ref) -> Source:
        """The source ``ref`` names, in the workspace (raises SourceNotFound)."""
        return self.store.get_source(ref)

    def list_sources(self, *, after: str | None = None, limit: int | None = None) -> list[Source]:
        """The workspace's sources by name (``after`` a name, at most ``limit``)."""
        return self.store.list_sources(after=after, limit=limit)

    def update(
        self,
        ref: str | Ref,
        *,
        config: Mapping[str, Any] | None = None,
        domain: str | None = None,
        enabled: bool | None = None,
        clear_domain: bool = False,
    ) -> Source:
        """Change a source's config, domain or enabled flag (audited).

        The config is checked as :meth:`add` checks it (required keys, no credential in
        clear, the outbound guard for its URL or host). ``None`` keeps a field;
        ``clear_domain`` removes the domain.

        Raises:
            SourceNotFound: If the workspace has no such source.
            InvalidInput, UrlNotAllowed: A refused config (nothing is written).
        """
        if config is not None and not isinstance(config, Mapping):
            raise InvalidInput("a source's config must be a JSON object")
        check_text(domain, "domain")

        def change(current: Source) -> dict[str, Any]:
            values: dict[str, Any] = {}
            if config is not None:
                check_config(current.source_type, config)
                check_endpoint(
                    current.source_type, config, allow_private=self.settings.allow_private_urls
                )
                values["config_json"] = dict(config)
            if domain is not None or clear_domain:
                values["domain"] = domain
            if enabled is not None:
                values["enabled"] = enabled
            return values

        return self.store.update_source(ref, change, self.clock.now(), audited=audited_source)

    def set_enabled(self, ref: str | Ref, enabled: bool) -> Source:
        """Enable or disable a source (audited; raises SourceNotFound)."""
        return self.update(ref, enabled=enabled)

    def remove(self, ref: str | Ref) -> Source:
        """Delete a source; its fetch history stays (audited; raises SourceNotFound)."""
        return self.store.remove_source(ref, self.clock.now(), audited=audited_source)

    def fetches(
        self, ref: str | Ref, limit: int = 20, *, before: str | None = None
    ) -> list[dict[str, Any]]:
        """The latest fetch rows of a source of the workspace, newest first.

        ``before``: continue after the fetch of this id.

        Raises:
            SourceNotFound: If the workspace has no such source.
        """
        return self.store.list_fetches(ref, limit, before=before)

    def latest_fetches(
        self, source_ids: Sequence[str], per_source: int = 30
    ) -> dict[str, list[dict[str, Any]]]:
        """The latest fetch rows of each of a page of the workspace's sources, newest first.

        One query for the page (no query per source); an id of another workspace gets none.
        """
        return self.store.latest_fetches(source_ids, per_source)

    def stale_sources(self, cutoff: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Enabled sources with no SUCCESS or UNCHANGED fetch since ``cutoff``, stalest first."""
        return self.store.stale_sources(cutoff, limit)

    def get_fetch(self, fetch_id: str) -> dict[str, Any] | None:
        """One fetch row, if its source belongs to the workspace."""
        return self.store.get_fetch(fetch_id)

    # -- fetch ---------------------------------------------------------------------

    def fetch(
        self,
        name: str | Ref,
        params: Mapping[str, Any] | None = None,
        *,
        force: bool = False,
        run_id: str | None = None,
        execution_id: str | None = None,
    ) -> FetchResult:
        """Fetch a source and record the fetch; failures are results, not exceptions.

        Returns:
            The recorded fetch: status, counts, hash, content and metadata.

        Raises:
            SourceNotFound: If the workspace has no such source (nothing is recorded).
            SourceDisabled: If the source is disabled (nothing is recorded).
            InvalidInput: If a param cannot be stored as JSON (nothing is recorded).
        """
        source = self.store.get_source(name)
        if not source.enabled:
            raise SourceDisabled(source.name)
        given = dict(params or {})
        json_object(given, "params")  # kept with the fetch row: refused here, not at COMMIT
        merged = {**dict(source.config.get("params") or {}), **given}
        fetcher = self.fetcher(source.source_type)
        started = self.clock.now()
        began = time.perf_counter()
        locator = str(source.config.get("path") or source.config.get("url") or "")
        fetched: Fetched | None = None
        error: SpineError | None = None
        retries = 0
        try:
            locator = fetcher.locate(source.config, merged)
            fetched = self._fetch(source, fetcher, merged, locator, force)
            retries = fetched.retry_count
        except AttemptsFailed as failure:
            error, retries = failure.cause, failure.retry_count
        except SpineError as failure:
            error = failure
        except Exception as failure:  # a driver or library error: recorded, then reported
            error = SpineError(f"{type(failure).__name__}: {failure}", category=categorize(failure))
        completed = self.clock.now()
        duration_ms = int((time.perf_counter() - began) * 1000)
        if fetched is None:
            assert error is not None
            status = (
                FetchStatus.NOT_FOUND if isinstance(error, ContentNotFound) else FetchStatus.FAILED
            )
            fetched = Fetched(status=status, locator=locator, retry_count=retries)
        capture_id = (
            capture_id_for(source.name, given, fetched.content_hash)
            if fetched.content_hash and error is None
            else None
        )
        result = FetchResult(
            fetch_id=new_id(),
            source_name=source.name,
            source_type=source.source_type,
            status=fetched.status,
            locator=fetched.locator,
            record_count=fetched.record_count,
            byte_count=fetched.byte_count,
            content_hash=fetched.content_hash,
            content=fetched.content,
            paths=fetched.paths,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            started_at=started,
            completed_at=completed,
            duration_ms=duration_ms,
            error=None if error is None else str(error),
            error_category=None if error is None else error.category.value,
            retry_count=retries,
            capture_id=capture_id,
            run_id=run_id,
            execution_id=execution_id,
            metadata={**fetched.metadata, "params": given} if given else fetched.metadata,
        )
        self.store.record_fetch(fetch_row(source, result), source.workspace_id)
        return result

    def _fetch(
        self,
        source: Source,
        fetcher: Fetcher,
        params: Mapping[str, Any],
        locator: str,
        force: bool,
    ) -> Fetched:
        previous = self.store.last_good_fetch(source.id, locator)
        cached_types = source.source_type in CACHED_TYPES
        key = cache_key(source, params) if cached_types else ""
        entry = self.cache.get(key) if cached_types else None
        ttl = float(source.config.get("cache_ttl_seconds", 0))
        if entry is not None and not force and self.cache.is_fresh(entry):
            return Fetched(
                status=FetchStatus.UNCHANGED,
                locator=locator,
                record_count=entry.metadata.get("record_count"),
                byte_count=entry.content_size,
                content_hash=entry.content_hash,
                content=self.cache.content(entry),
                etag=entry.etag,
                last_modified=entry.last_modified,
                metadata={"cache": "hit"},
            )
        request = FetchRequest(
            source=source,
            params=params,
            locator=locator,
            force=force,
            previous=previous,
            cached=entry,
            settings=self.settings,
            clock=self.clock,
            secret=resolve_secret,
        )
        fetched = fetcher.fetch(request)
        if fetched.status is FetchStatus.UNCHANGED and fetched.content_hash is None:
            # A 304 carries no body: the counts and hash are those last seen.
            known = entry.metadata if entry is not None else {}
            fetched = replace(
                fetched,
                content_hash=(entry.content_hash if entry else None)
                or (previous or {}).get("content_hash"),
                record_count=known.get("record_count", (previous or {}).get("record_count")),
                byte_count=(entry.content_size if entry else None)
                or (previous or {}).get("byte_count"),
            )
        if not cached_types:
            return fetched
        if fetched.status is FetchStatus.UNCHANGED and fetched.content is None:
            if entry is not None:
                self.cache.renew(entry, ttl, fetched)
                return replace(
                    fetched,
                    content=self.cache.content(entry),
                    metadata={**fetched.metadata, "cache": "revalidated"},
                )
            return fetched
        stored = self.cache.put(key, source, fetched, ttl)
        return replace(fetched, content=stored)
