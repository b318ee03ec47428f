from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from spine.core.clock import FrozenClock
from spine.sources import FetchStatus, SourceService
from tests.sources.http_server import Reply, Server, serve

SMALL = b"a\n" * 10
LARGE = b"b\n" * 2000  # 4,000 bytes: on disk with a 1 KiB inline limit


def tagged(body: bytes, etag: str) -> Callable[[BaseHTTPRequestHandler], Reply]:
    def route(handler: BaseHTTPRequestHandler) -> Reply:
        if handler.headers.get("If-None-Match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"ETag": etag})

    return route


@pytest.fixture
def server() -> Iterator[Server]:
    routes = {f"/s{i}": tagged(SMALL, f'"s{i}"') for i in range(3)}
    routes["/large"] = tagged(LARGE, '"l"')
    routes["/q"] = lambda h: Reply(200, h.path.encode())
    with serve(routes) as running:
        yield running


@pytest.fixture
def cached(make_service: Callable[..., SourceService]) -> SourceService:
    return make_service(sources_cache_inline_max_bytes=1024, sources_cache_max_bytes=4030)


def test_small_content_inline_large_on_disk(cached: SourceService, server: Server) -> None:
    cached.add("small", "http", {"url": f"{server.url}/s0", "format": "raw"})
    cached.add("large", "http", {"url": f"{server.url}/large", "format": "raw"})
    small, large = cached.fetch("small"), cached.fetch("large")
    assert small.content == SMALL
    assert isinstance(large.content, Path) and large.content.read_bytes() == LARGE
    entries = {e.source_locator: e for e in cached.cache.entries()}
    assert entries[f"{server.url}/s0"].content_blob == SMALL
    assert entries[f"{server.url}/s0"].content_path is None
    on_disk = entries[f"{server.url}/large"]
    assert on_disk.content_blob is None and on_disk.content_path == str(large.content)
    assert on_disk.content_size == len(LARGE)


def test_fresh_entry_is_served_without_a_request_then_revalidated(
    cached: SourceService, server: Server, clock: FrozenClock
) -> None:
    cached.add("s", "http", {"url": f"{server.url}/s0", "cache_ttl_seconds": 60})
    cached.fetch("s")
    hit = cached.fetch("s")
    assert (hit.status, hit.content, hit.metadata.get("cache")) == (
        FetchStatus.UNCHANGED,
        SMALL,
        "hit",
    )
    assert len(server.hits("/s0")) == 1
    clock.advance(61)
    revalidated = cached.fetch("s")
    assert len(server.hits("/s0")) == 2
    assert server.hits("/s0")[1]["if-none-match"] == '"s0"'
    assert (revalidated.status, revalidated.content) == (FetchStatus.UNCHANGED, SMALL)
    assert revalidated.metadata.get("cache") == "revalidated"
    assert cached.fetch("s").metadata.get("cache") == "hit"  # renewed for another 60 s


def test_key_is_source_and_params(cached: SourceService, server: Server) -> None:
    cached.add("q", "http", {"url": f"{server.url}/q"})
    cached.fetch("q", {"a": 1})
    cached.fetch("q", {"a": 2})
    cached.fetch("q", {"a": 1})
    assert len(cached.cache.entries()) == 2


def test_lru_eviction_keeps_the_budget(
    cached: SourceService, server: Server, clock: FrozenClock
) -> None:
    cached.add("large", "http", {"url": f"{server.url}/large"})
    for i in range(3):
        cached.add(f"s{i}", "http", {"url": f"{server.url}/s{i}", "cache_ttl_seconds": 3600})
    for i in range(3):
        cached.fetch(f"s{i}")
        clock.advance(1)
    cached.fetch("s0")  # used again: s1 is now the least recently used
    clock.advance(1)
    cached.fetch("large")  # 4,000 + 3 x 20 bytes > 4,030: the two least recent go
    left = sorted(e.source_locator.rsplit("/", 1)[1] for e in cached.cache.entries())
    assert left == ["large", "s0"]
    assert sum(e.content_size for e in cached.cache.entries()) <= 4030


def test_evict_older_than_and_all(
    cached: SourceService, server: Server, clock: FrozenClock
) -> None:
    cached.add("large", "http", {"url": f"{server.url}/large"})
    cached.add("s0", "http", {"url": f"{server.url}/s0"})
    large = cached.fetch("large")
    clock.advance(timedelta(days=3))
    cached.fetch("s0")
    report = cached.cache.evict(older_than=timedelta(days=2))
    assert (report.entries, report.bytes) == (1, len(LARGE))
    assert isinstance(large.content, Path) and not large.content.exists()
    assert cached.cache.evict(everything=True).entries == 1
    assert cached.cache.entries() == []


def test_evict_defaults_to_expired_entries(
    cached: SourceService, server: Server, clock: FrozenClock
) -> None:
    cached.add("short", "http", {"url": f"{server.url}/s0", "cache_ttl_seconds": 10})
    cached.add("long", "http", {"url": f"{server.url}/s1", "cache_ttl_seconds": 1000})
    cached.fetch("short")
    cached.fetch("long")
    clock.advance(11)
    assert cached.cache.evict().entries == 1
    assert [e.source_locator for e in cached.cache.entries()] == [f"{server.url}/s1"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_http_sources_work_without_the_advanced_tier(
    empty_db: Any, clock: FrozenClock, server: Server, tmp_path: Path
) -> None:
    from spine.config import load_settings
    from spine.core.storage.migrator import Migrator
    from spine.core.storage.schema import Tier

    Migrator(empty_db).upgrade(Tier.INTERMEDIATE)
    settings = load_settings(
        sources_allow_private_urls=True, sources_cache_dir=str(tmp_path / "cache")
    )
    service = SourceService.build(settings, empty_db, clock)
    service.add("s", "http", {"url": f"{server.url}/s0"})
    assert service.fetch("s").content == SMALL
    second = service.fetch("s")
    assert second.status is FetchStatus.UNCHANGED  # by the ETag of the last fetch row
    assert not service.cache.available
