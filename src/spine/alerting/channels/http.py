"""The HTTP client of the HTTP-based channels: guard, send, turn failures into errors.

Redirects are not followed: a public URL that redirects to a private address would get
around the outbound-URL guard.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx

from spine.alerting.backoff import RETRY_AFTER_MAX_CHARS
from spine.alerting.bounds import BODY_LIMIT, head
from spine.alerting.channels.base import DeliveryError
from spine.alerting.models import ALLOW_PRIVATE_SETTING
from spine.core.errors import ErrorCategory
from spine.core.net import check_outbound_url


def response_record(response: httpx.Response) -> dict[str, Any]:
    """What ``response_json`` keeps of a response: status and the start of the body.

    A body of up to :data:`~spine.alerting.bounds.BODY_LIMIT` bytes is kept whole (as
    JSON when it is JSON); a longer one is cut to that many bytes of text, with
    ``body_truncated: true`` and its size in ``body_bytes``.
    """
    record: dict[str, Any] = {"status_code": response.status_code}
    raw = response.content
    if len(raw) > BODY_LIMIT:
        record.update(body=head(raw), body_truncated=True, body_bytes=len(raw))
        return record
    try:
        record["body"] = response.json()
    except ValueError:
        record["body"] = head(raw)
    return record


class HttpSender:
    """One HTTP client, owned by what sends (a delivery worker, a channel test).

    The client is made on the first POST, kept for the sender's life (making one loads
    the CA bundle, tens of milliseconds, which would otherwise be paid per delivery) and
    shared by the sender's threads (httpx clients are thread-safe). :meth:`close` closes
    it; a later POST makes a new one.
    """

    def __init__(self) -> None:
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> HttpSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and its connections."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _open(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                # httpx logs every request's full URL at INFO; a channel's URL may carry
                # its token (Slack, Apprise), and credentials are never logged.
                for name in ("httpx", "httpcore"):
                    logging.getLogger(name).setLevel(logging.WARNING)
                self._client = httpx.Client(follow_redirects=False)
            return self._client

    def post(
        self,
        url: str,
        *,
        timeout: float,
        allow_private: bool,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        """POST to ``url`` and return a 2xx response.

        Raises:
            UrlNotAllowed: If the host is private and not allowed.
            DeliveryError: On a connection failure, a timeout or a non-2xx status (4xx
                other than 408/429 are not retryable: trying again will not change the
                answer).
        """
        return _post(self._open(), url, timeout, allow_private, json, content, headers, auth)


def _post(
    client: httpx.Client,
    url: str,
    timeout: float,
    allow_private: bool,
    json: Any,
    content: bytes | None,
    headers: dict[str, str] | None,
    auth: tuple[str, str] | None,
) -> httpx.Response:
    check_outbound_url(url, allow_private=allow_private, setting=ALLOW_PRIVATE_SETTING)
    # Only the origin is named in errors (stored and logged): a path or query may be the
    # credential itself (a Slack webhook's path is its token).
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    try:
        response = client.post(
            url,
            json=json,
            content=content,
            headers=headers,
            auth=httpx.BasicAuth(*auth) if auth else httpx.USE_CLIENT_DEFAULT,
            timeout=timeout,
        )
    except httpx.TimeoutException:
        raise DeliveryError(
            f"timed out after {timeout:g}s posting to {shown}", category=ErrorCategory.TIMEOUT
        ) from None
    except httpx.HTTPError as error:
        raise DeliveryError(f"cannot post to {shown}: {type(error).__name__}: {error}") from None
    if response.is_success:
        return response
    status = response.status_code
    if status == 429:
        category = ErrorCategory.RATE_LIMITED
    elif status in (401, 403):
        category = ErrorCategory.AUTHENTICATION
    elif status >= 500 or status == 408:
        category = ErrorCategory.UNAVAILABLE
    else:
        category = ErrorCategory.VALIDATION
    retry_after = response.headers.get("retry-after")
    raise DeliveryError(
        f"{shown} answered HTTP {status}",
        response=response_record(response),
        category=category,
        retry_after=retry_after[: RETRY_AFTER_MAX_CHARS + 1] if retry_after else None,
        gone=status == 410,
    )
