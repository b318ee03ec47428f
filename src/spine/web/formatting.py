"""How values look on a page: times (in the reader's zone, UTC on hover), durations, counts.

Times are rendered as ``<time>`` elements holding the UTC instant; ``static/spine.js``
rewrites their text in the browser's own zone, and the ``title`` keeps the UTC form, so
a reader without JavaScript still sees a correct (UTC) time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape


def when(value: datetime | None, *, relative: bool = False) -> Markup:
    """A ``<time>`` element for ``value`` (an em dash when ``None``).

    Args:
        value: The instant; a naive one is taken as UTC.
        relative: Show "3 min ago" (or "in 2 h") beside the absolute time.
    """
    if value is None:
        return Markup("&mdash;")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    instant = value.astimezone(UTC)
    iso = instant.isoformat().replace("+00:00", "Z")
    text = instant.strftime("%Y-%m-%d %H:%M:%S UTC")
    mode = "relative" if relative else "absolute"
    return Markup(
        f'<time datetime="{escape(iso)}" title="{escape(text)}" data-when="{mode}">'
        f"{escape(text)}</time>"
    )


def human_duration(seconds: float | timedelta | None) -> str:
    """A duration read at a glance: ``450 ms``, ``2.3 s``, ``4 min 5 s``, ``3 h 2 min``."""
    if seconds is None:
        return "\u2014"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    if seconds < 0:
        seconds = 0.0
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def duration_ms(milliseconds: float | None) -> str:
    """:func:`human_duration` of a duration in milliseconds (as history rows keep them)."""
    return human_duration(None if milliseconds is None else milliseconds / 1000)


def count(value: int | None) -> str:
    """An integer with thousands separators (``1,000,000``)."""
    return "\u2014" if value is None else f"{value:,}"


def percent(value: float | None, digits: int = 0) -> str:
    """A ratio in 0..1 as a percentage (``97 %``)."""
    return "\u2014" if value is None else f"{value * 100:.{digits}f} %"


def as_json(value: Any) -> str:
    """``value`` as compact JSON text for a page (escaped by the template, not by the JSON).

    Jinja's ``tojson`` is made for ``<script>``: it escapes quotes as unicode escapes, which
    readers of a filter or a config would see.
    """
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
