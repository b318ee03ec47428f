"""HTTP sources: conditional GETs, timeouts, retries, auth from secret references.

Config keys: ``url`` (required, ``{param}`` placeholders are URL-quoted), ``headers``,
``auth`` (``{"type": "bearer", "token_ref": "env:TOKEN"}`` or ``{"type": "basic",
"username": "u", "password_ref": "file:/run/secrets/pw"}``), ``timeout_seconds``,
``max_retries`` (default 3), ``retry_backoff_seconds`` (default 1, doubled each retry),
``max_bytes``, ``format``, ``header``, ``params``, ``cache_ttl_seconds``.

The ETag and Last-Modified of the previous fetch (or of the cache entry) go out as
``If-None-Match`` / ``If-Modified-Since``; a 304 is UNCHANGED. Only retryable failures
(timeouts, connection errors, 429, 5xx) are tried again. Every URL, redirects included,
passes the outbound-URL guard.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from spine.core.errors import ErrorCategory, SpineError
from spine.core.net import check_outbound_url
from spine.sources.errors import ContentNotFound
from spine.sources.fetchers.base import (
    AttemptsFailed,
    DownloadSink,
    FetchRequest,
    render,
    require,
)
from spine.sources.formats import format_of
from spine.sources.models import ALLOW_PRIVATE_SETTING, Fetched, FetchStatus

_STATUS_CATEGORY = {
    401: ErrorCategory.AUTHENTICATION,
    403: ErrorCategory.PERMISSION,
    408: ErrorCategory.TIMEOUT,
    429: ErrorCategory.RATE_LIMITED,
}


def _auth_headers(auth: Mapping[str, Any] | None, request: FetchRequest) -> dict[str, str]:
    if not auth:
        return {}
    kind = str(auth.get("type", "")).lower()
    if kind == "bearer":
        token = request.secret(str(require(auth, "token_ref", "http auth")))
        return {"Authorization": f"Bearer {token}"}
    if kind == "basic":
        user = str(require(auth, "username", "http auth"))
        password = request.secret(str(require(auth, "password_ref", "http auth")))
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    raise SpineError(
        f"unknown http auth type {kind!r}: expected bearer or basic",
        category=ErrorCategory.CONFIGURATION,
    )


def _status_error(response: httpx.Response, url: str) -> SpineError:
    code = response.status_code
    message = f"HTTP {code} {response.reason_phrase} from {url}"
    if code in (404, 410):
        return ContentNotFound(message)
    if code in _STATUS_CATEGORY:
        return SpineError(message, category=_STATUS_CATEGORY[code])
    if code >= 500:
        return SpineError(message, category=ErrorCategory.UNAVAILABLE)
    return SpineError(message, category=ErrorCategory.VALIDATION)


class HttpFetcher:
    """GETs a URL with httpx."""

    def locate(self, config: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        """The URL with its placeholders filled (URL-quoted)."""
        return render(str(require(config, "url", "http")), params, lambda v: quote(v, safe=""))

    def fetch(self, request: FetchRequest) -> Fetched:
        """GET with retries on retryable errors only; 304 is UNCHANGED.

        Raises:
            AttemptsFailed: After the last attempt, with the last error's category.
        """
        config = request.config
        settings = request.settings
        allow_private = settings.allow_private_urls
        check_outbound_url(
            request.locator, allow_private=allow_private, setting=ALLOW_PRIVATE_SETTING
        )
        headers = {str(k): str(v) for k, v in dict(config.get("headers") or {}).items()}
        headers.update(_auth_headers(config.get("auth"), request))
        etag, last_modified = self._validators(request)
        if not request.force:
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        timeout = float(config.get("timeout_seconds", settings.timeout_seconds))
        max_retries = int(config.get("max_retries", 3))
        backoff = float(config.get("retry_backoff_seconds", 1.0))

        def guard(outgoing: httpx.Request) -> None:
            check_outbound_url(
                str(outgoing.url), allow_private=allow_private, setting=ALLOW_PRIVATE_SETTING
            )

        retries = 0
        with httpx.Client(
            timeout=timeout, follow_redirects=True, event_hooks={"request": [guard]}
        ) as client:
            while True:
                try:
                    return self._attempt(client, request, headers, retries)
                except SpineError as error:
                    if not error.retryable or retries >= max_retries:
                        raise AttemptsFailed(error, retries) from None
                request.clock.sleep(backoff * 2**retries)
                retries += 1

    def _validators(self, request: FetchRequest) -> tuple[str | None, str | None]:
        cached = request.cached
        if cached is not None and (cached.etag or cached.last_modified):
            return cached.etag, cached.last_modified
        if request.previous is not None:
            return request.previous.get("etag"), request.previous.get("last_modified")
        return None, None

    def _attempt(
        self,
        client: httpx.Client,
        request: FetchRequest,
        headers: Mapping[str, str],
        retries: int,
    ) -> Fetched:
        config = request.config
        url = request.locator
        max_bytes = int(config.get("max_bytes", request.settings.max_bytes))
        try:
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return Fetched(
                        status=FetchStatus.UNCHANGED,
                        locator=url,
                        etag=response.headers.get("etag") or headers.get("If-None-Match"),
                        last_modified=response.headers.get("last-modified")
                        or headers.get("If-Modified-Since"),
                        retry_count=retries,
                        metadata={"http_status": 304},
                    )
                if response.status_code >= 400:
                    raise _status_error(response, url)
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise SpineError(
                        f"{url} is {int(declared):,} bytes, over the limit of {max_bytes:,}",
                        category=ErrorCategory.VALIDATION,
                    )
                fmt = format_of(response.url.path, config.get("format"))
                sink = DownloadSink(
                    replace(request.settings, max_bytes=max_bytes),
                    fmt,
                    header=bool(config.get("header", True)),
                )
                try:
                    for chunk in response.iter_bytes(1024 * 1024):
                        sink.write(chunk)
                except BaseException:
                    sink.discard()
                    raise
                content, digest = sink.finish()
                return Fetched(
                    status=FetchStatus.SUCCESS,
                    locator=url,
                    record_count=digest.record_count,
                    byte_count=digest.size,
                    content_hash=digest.sha256,
                    content=content,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    retry_count=retries,
                    metadata={
                        "http_status": response.status_code,
                        "content_type": response.headers.get("content-type"),
                        "format": fmt,
                    },
                )
        except httpx.TimeoutException as error:
            raise SpineError(
                f"timed out fetching {url}: {error}", category=ErrorCategory.TIMEOUT
            ) from None
        except httpx.TransportError as error:
            raise SpineError(
                f"cannot fetch {url}: {error}", category=ErrorCategory.NETWORK
            ) from None
