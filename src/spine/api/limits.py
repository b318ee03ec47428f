"""What a request body may be, checked once for every router before any route runs.

:class:`BodyLimits` is a pure ASGI middleware. A request body is refused with a problem:

- 413 when it is larger than ``settings.api_max_body_bytes``: from ``Content-Length``
  before a byte is read, and, for a chunked body, as soon as the bytes received pass the
  limit (the rest is never read);
- 415 when a body is sent under ``/api/`` with a content type other than JSON
  (``application/json`` or ``application/*+json``);
- 422 when JSON arrays and objects nest deeper than :data:`MAX_JSON_DEPTH`, before the
  JSON parser (which would recurse) or pydantic sees it.

A body within the limits is handed to the application as it came, in one message.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spine.api.problems import PROBLEM_MEDIA_TYPE, problem_response
from spine.core.errors import ErrorCategory

#: How deep JSON arrays and objects may nest in a request body. No spine request needs
#: more than a handful of levels; parsers and validators recurse per level.
MAX_JSON_DEPTH: Final = 64
#: Where a body must be JSON: the API's resources (``/history`` takes no body).
_JSON_PATHS: Final = ("/api/",)
_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET: Final = re.compile(rb"[\[\]{}]")


class BodyLimits:
    """ASGI middleware refusing bodies that are too large, not JSON, or nested too deep.

    Args:
        app: The application.
        max_bytes: The largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body within the limits, check it, then run the application."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(request, scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: let the application see it as it would.
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(request, scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refusal = _refusal(request, body)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _too_large(
        self, request: Request, scope: Scope, receive: Receive, send: Send
    ) -> None:
        response = problem_response(
            request,
            413,
            f"the request body is larger than {self.max_bytes} bytes",
            headers={"Connection": "close"},
            category=ErrorCategory.VALIDATION.value,
        )
        await response(scope, receive, send)


def _refusal(request: Request, body: bytes) -> Response | None:
    """The problem answering a body that is not JSON, or nests too deep; else ``None``."""
    if not body.strip() or not request.url.path.startswith(_JSON_PATHS):
        return None
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        return problem_response(
            request,
            415,
            f"send the body as JSON with `Content-Type: application/json` "
            f"(got {content_type[:100] or 'no content type'!r})",
            category=ErrorCategory.VALIDATION.value,
        )
    if json_depth(body) > MAX_JSON_DEPTH:
        return problem_response(
            request,
            422,
            f"the JSON body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels",
            category=ErrorCategory.VALIDATION.value,
        )
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` giving ``messages`` first, then what ``receive`` gives."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep arrays and objects nest in ``body`` (JSON), counting stops past ``limit``.

    Strings are skipped, so brackets inside them do not count. The body need not be
    valid JSON: the parser judges that afterwards.
    """
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def document_limits(schema: dict[str, Any]) -> None:
    """Add the answers of :class:`BodyLimits` to every operation of ``schema`` taking a body.

    413, 415 and 422 problems can answer any request with a body, whatever its route
    declares; the OpenAPI document says so, so that a client (or schemathesis) expects them.
    """
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            responses = operation.setdefault("responses", {})
            for status in (413, 415, 422):
                responses.setdefault(
                    str(status),
                    {"description": HTTPStatus(status).phrase, "content": dict(problem)},
                )
