"""Cursor pagination, the same for every listing.

A listing takes ``limit`` (1 to :data:`MAX_LIMIT`, default :data:`DEFAULT_LIMIT`) and
``cursor``, and answers ``{"items": [...], "next_cursor": "..." | null}``. A cursor is
opaque to the caller: URL-safe base64 of the listing it belongs to, the workspace, and
the sort key of the last item shown. A cursor of another listing or workspace, or one
that is not a cursor at all, gets 400.

A route asks its service for ``limit + 1`` items after the cursor's key; :func:`page`
keeps ``limit`` of them and makes the next cursor from the last one kept.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_MAX_CURSOR = 512

T = TypeVar("T")
Item = TypeVar("Item", bound=BaseModel)
#: What a cursor carries as the last item's sort key: an id, or a few values.
CursorKey = str | int | list[str | int | None]


class Page(BaseModel, Generic[Item]):
    """One page of a listing."""

    items: list[Item]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What a listing was asked for: how many, after which key.

    Attributes:
        limit: How many items the page holds at most.
        after: The sort key of the last item of the previous page; ``None`` at first.
        listing: The name the cursor is bound to (the route's path).
        workspace_id: The workspace the cursor is bound to.
    """

    limit: int
    after: CursorKey | None
    listing: str
    workspace_id: str

    def page(self, items: Sequence[T], key: Callable[[T], CursorKey]) -> tuple[list[T], str | None]:
        """Keep ``limit`` of ``items`` (fetched as ``limit + 1``) and the next cursor."""
        kept = list(items[: self.limit])
        if len(items) <= self.limit or not kept:
            return kept, None
        return kept, encode_cursor(self.listing, self.workspace_id, key(kept[-1]))


def encode_cursor(listing: str, workspace_id: str, after: CursorKey) -> str:
    """The cursor continuing ``listing`` of ``workspace_id`` after ``after``."""
    body = json.dumps({"l": listing, "w": workspace_id, "k": after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, listing: str, workspace_id: str) -> CursorKey:
    """The sort key ``cursor`` continues after.

    Raises:
        HTTPException: 400 if ``cursor`` is not a cursor of this listing and workspace.
    """
    try:
        if len(cursor) > _MAX_CURSOR:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
        if not isinstance(body, dict) or body.get("l") != listing or body.get("w") != workspace_id:
            raise ValueError("another listing's cursor")
        key = body.get("k")
        if not _valid_key(key):
            raise ValueError("bad key")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_cursor() from None
    return key  # type: ignore[return-value]


def invalid_cursor() -> HTTPException:
    """The 400 answering a cursor that is not one of this listing.

    A route raises it when a cursor decodes but its key is not of the listing's shape.
    """
    return HTTPException(
        400, "this cursor does not belong to this listing; start again without one"
    )


def _valid_key(key: object) -> bool:
    if isinstance(key, bool):
        return False
    if isinstance(key, str | int):
        return True
    return (
        isinstance(key, list)
        and len(key) <= 8
        and all(v is None or (isinstance(v, str | int) and not isinstance(v, bool)) for v in key)
    )


def page_request(
    request: Request,
    workspace_id: str,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, at most {MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=_MAX_CURSOR, description="`next_cursor` of the previous page."),
    ] = None,
) -> PageRequest:
    """The page a listing under ``/api/v1/workspaces/{workspace_id}/`` is asked for."""
    route = request.scope.get("route")
    listing = getattr(route, "path", request.url.path)
    normalized = _normalized(workspace_id)
    after = None if cursor is None else decode_cursor(cursor, listing, normalized)
    return PageRequest(limit=limit, after=after, listing=listing, workspace_id=normalized)


def _normalized(workspace_id: str) -> str:
    try:
        return str(uuid.UUID(workspace_id))
    except ValueError:
        return workspace_id


PageParams = Annotated[PageRequest, Depends(page_request)]
