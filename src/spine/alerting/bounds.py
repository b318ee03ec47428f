"""Bounds on what alerting stores from outside: reply bodies and error texts.

A receiver decides how much it answers; spine decides how much of it is kept.
``response_json`` and ``error`` hold at most a few kB each, and say how big the
original was when they were cut.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Bytes of a reply body kept in ``response_json`` (the original size is recorded).
BODY_LIMIT = 4096
#: Bytes of an error text kept in ``error`` and logged.
ERROR_LIMIT = 4096
#: Characters of ``error`` a store writes at most: a bounded text and its size note fit.
ERROR_STORED = ERROR_LIMIT + 128
#: Bytes of a whole ``response_json`` document (status, body and the size fields fit).
RESPONSE_LIMIT = 8192


def head(raw: bytes, limit: int = BODY_LIMIT) -> str:
    """The first ``limit`` bytes of ``raw`` as text (a cut character is dropped)."""
    return raw[:limit].decode("utf-8", "ignore")


def bounded_text(text: str, limit: int = ERROR_LIMIT) -> str:
    """``text``, or its first ``limit`` bytes and the size it had."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return text
    return f"{head(raw, limit)}… [cut: {len(raw)} bytes]"


def bounded_response(response: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``response`` if its JSON fits in :data:`RESPONSE_LIMIT`, or a cut copy that says so.

    The cut copy keeps ``status_code``, the start of the JSON text as ``body``,
    ``body_truncated: true`` and ``body_bytes`` (the size of the original JSON).
    """
    if response is None:
        return None
    raw = json.dumps(dict(response), default=str, ensure_ascii=False).encode("utf-8")
    if len(raw) <= RESPONSE_LIMIT:
        return dict(response)
    cut: dict[str, Any] = {}
    if "status_code" in response:
        cut["status_code"] = response["status_code"]
    cut.update(body=head(raw), body_truncated=True, body_bytes=len(raw))
    return cut
