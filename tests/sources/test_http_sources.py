from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from spine.core.clock import FrozenClock
from spine.sources import FetchStatus, SourceService
from tests.sources.conftest import sqlite_only
from tests.sources.http_server import Reply, Server, serve

CSV = b"id,name\n1,a\n2,b\n3,c\n"
ETAG = '"v1"'
LAST_MODIFIED = "Fri, 10 Jan 2025 12:00:00 GMT"


def conditional(handler: BaseHTTPRequestHandler) -> Reply:
    if handler.headers.get("If-None-Match") == ETAG:
        return Reply(304, headers={"ETag": ETAG})
    return Reply(200, CSV, {"ETag": ETAG, "Content-Type": "text/csv"})


def by_date(handler: BaseHTTPRequestHandler) -> Reply:
    if handler.headers.get("If-Modified-Since") == LAST_MODIFIED:
        return Reply(304)
    return Reply(200, b'{"a": 1}\n{"a": 2}\n', {"Last-Modified": LAST_MODIFIED})


def failing_then_ok(failures: int, status: int = 500) -> Callable[[BaseHTTPRequestHandler], Reply]:
    calls = {"n": 0}

    def route(handler: BaseHTTPRequestHandler) -> Reply:
        calls["n"] += 1
        if calls["n"] <= failures:
            return Reply(status, b"boom")
        return Reply(200, CSV)

    return route


def bearer(handler: BaseHTTPRequestHandler) -> Reply:
    if handler.headers.get("Authorization") != "Bearer t0ken":
        return Reply(401, b"who are you")
    return Reply(200, CSV)


def basic(handler: BaseHTTPRequestHandler) -> Reply:
    expected = "Basic " + base64.b64encode(b"finra:pa55").decode()
    if handler.headers.get("Authorization") != expected:
        return Reply(401, b"who are you")
    return Reply(200, CSV)


# The fetch rows and cache are tested on both backends in test_file_sources/test_cache;
# the HTTP behaviour does not depend on the database.
backend = pytest.fixture(sqlite_only)


@pytest.fixture
def server() -> Iterator[Server]:
    routes = {
        "/data.csv": conditional,
        "/events.jsonl": by_date,
        "/flaky.csv": failing_then_ok(2),
        "/down.csv": failing_then_ok(100),
        "/bad-request.csv": failing_then_ok(100, status=400),
        "/bearer.csv": bearer,
        "/basic.csv": basic,
        "/big.csv": lambda h: Reply(200, b"x" * 5000),
        "/week/2025-01-10.csv": lambda h: Reply(200, CSV),
    }
    with serve(routes) as running:
        yield running


def _add(sources: SourceService, name: str, url: str, **config: object) -> None:
    sources.add(name, "http", {"url": url, "retry_backoff_seconds": 2, **config})


def test_200_then_304_is_unchanged_with_the_cached_content(
    sources: SourceService, server: Server
) -> None:
    _add(sources, "csv", f"{server.url}/data.csv")
    first = sources.fetch("csv")
    assert first.status is FetchStatus.SUCCESS
    assert (first.record_count, first.byte_count, first.etag) == (3, len(CSV), ETAG)
    assert first.content == CSV
    second = sources.fetch("csv")
    assert server.hits("/data.csv")[1]["if-none-match"] == ETAG
    assert second.status is FetchStatus.UNCHANGED
    assert second.content == CSV
    assert (second.content_hash, second.record_count) == (first.content_hash, 3)
    forced = sources.fetch("csv", force=True)
    assert "if-none-match" not in server.hits("/data.csv")[2]
    assert forced.status is FetchStatus.SUCCESS
    rows = sources.fetches("csv")
    assert [r["status"] for r in rows] == ["SUCCESS", "UNCHANGED", "SUCCESS"]
    assert rows[1]["etag"] == ETAG


def test_last_modified_revalidates(sources: SourceService, server: Server) -> None:
    _add(sources, "events", f"{server.url}/events.jsonl")
    assert sources.fetch("events").record_count == 2
    second = sources.fetch("events")
    assert server.hits("/events.jsonl")[1]["if-modified-since"] == LAST_MODIFIED
    assert second.status is FetchStatus.UNCHANGED
    assert second.last_modified == LAST_MODIFIED


def test_404_is_not_found(sources: SourceService, server: Server) -> None:
    _add(sources, "gone", f"{server.url}/nothing.csv")
    result = sources.fetch("gone")
    assert result.status is FetchStatus.NOT_FOUND
    assert result.error_category == "NOT_FOUND"
    assert result.retry_count == 0
    assert len(server.hits("/nothing.csv")) == 1


def test_500_is_retried_with_backoff_then_succeeds(
    sources: SourceService, server: Server, clock: FrozenClock
) -> None:
    _add(sources, "flaky", f"{server.url}/flaky.csv")
    before = clock.now()
    result = sources.fetch("flaky")
    assert result.status is FetchStatus.SUCCESS
    assert result.retry_count == 2
    assert (clock.now() - before).total_seconds() == 2 + 4  # backoff doubles; no real sleep
    assert sources.fetches("flaky")[0]["retry_count"] == 2


def test_500_that_persists_fails_unavailable_after_the_retries(
    sources: SourceService, server: Server
) -> None:
    _add(sources, "down", f"{server.url}/down.csv", max_retries=2)
    result = sources.fetch("down")
    assert result.status is FetchStatus.FAILED
    assert result.error_category == "UNAVAILABLE"
    assert result.retry_count == 2
    assert len(server.hits("/down.csv")) == 3
    assert "HTTP 500" in (result.error or "")


def test_non_retryable_errors_are_tried_once(sources: SourceService, server: Server) -> None:
    _add(sources, "bad", f"{server.url}/bad-request.csv")
    result = sources.fetch("bad")
    assert (result.status, result.error_category, result.retry_count) == (
        FetchStatus.FAILED,
        "VALIDATION",
        0,
    )
    assert len(server.hits("/bad-request.csv")) == 1


def test_bearer_token_from_a_secret_reference(
    sources: SourceService, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(sources, "b", f"{server.url}/bearer.csv", auth={"type": "bearer", "token_ref": "env:T"})
    monkeypatch.setenv("T", "wrong")
    refused = sources.fetch("b")
    assert (refused.status, refused.error_category) == (FetchStatus.FAILED, "AUTHENTICATION")
    monkeypatch.setenv("T", "t0ken")
    assert sources.fetch("b").status is FetchStatus.SUCCESS
    assert "t0ken" not in str(sources.get("b").config)


def test_basic_auth_from_a_secret_file(
    sources: SourceService, server: Server, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("pa55\n")
    auth = {"type": "basic", "username": "finra", "password_ref": f"file:{secret}"}
    _add(sources, "b", f"{server.url}/basic.csv", auth=auth)
    assert sources.fetch("b").status is FetchStatus.SUCCESS


def test_missing_secret_fails_with_authentication(
    sources: SourceService, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    auth = {"type": "bearer", "token_ref": "env:NO_SUCH_TOKEN"}
    _add(sources, "b", f"{server.url}/bearer.csv", auth=auth)
    result = sources.fetch("b")
    assert result.error_category == "AUTHENTICATION"
    assert "env:NO_SUCH_TOKEN" in (result.error or "")


def test_response_size_limit(sources: SourceService, server: Server) -> None:
    _add(sources, "big", f"{server.url}/big.csv", max_bytes=1000)
    result = sources.fetch("big")
    assert (result.status, result.error_category) == (FetchStatus.FAILED, "VALIDATION")
    assert "1,000" in (result.error or "")


def test_private_addresses_are_refused_unless_allowed(
    make_service: Callable[..., SourceService], server: Server
) -> None:
    # Saved where private addresses are allowed, fetched where they are not: the
    # fetch checks again (saving is refused too: tests/sources/test_endpoints.py).
    _add(make_service(), "local", f"{server.url}/data.csv")
    guarded = make_service(sources_allow_private_urls=False)
    result = guarded.fetch("local")
    assert (result.status, result.error_category) == (FetchStatus.FAILED, "PERMISSION")
    assert "set SPINE_SOURCES_ALLOW_PRIVATE_URLS=true" in (result.error or "")
    assert server.hits("/data.csv") == []


def test_url_placeholders_are_quoted(sources: SourceService, server: Server) -> None:
    _add(sources, "week", f"{server.url}/week/{{week_ending}}.csv")
    assert sources.fetch("week", {"week_ending": "2025-01-10"}).record_count == 3
    sources.fetch("week", {"week_ending": "../data"})
    assert server.hits("/week/..%2Fdata.csv")


def test_timeout_is_retryable_and_categorised(sources: SourceService) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        port = listener.getsockname()[1]
        _add(sources, "slow", f"http://127.0.0.1:{port}/x", timeout_seconds=0.2, max_retries=1)
        result = sources.fetch("slow")
    finally:
        listener.close()
    assert (result.status, result.error_category, result.retry_count) == (
        FetchStatus.FAILED,
        "TIMEOUT",
        1,
    )
