"""A timeline of events: one bar per event, oldest on the left, coloured by status.

Drawn for a source's fetches: a bar's height is the fetch's size (relative to the
largest shown), its colour its status. Colour is not the only cue: a fetch that brought
nothing new (UNCHANGED) is drawn as an outline, one that failed as a short bar below the
baseline, and every bar's ``<title>`` names its status.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from spine.web.charts.svg import colour, frame, number, title

_WIDTH = 600
_HEIGHT = 72
_LARGE_HEIGHT = 140
_BELOW = 10  # room under the baseline for failures
_MIN_BAR = 3.0  # a fetch of zero bytes is still seen
_CRISP = 'vector-effect="non-scaling-stroke"'  # the chart stretches; its outlines should not
#: Statuses drawn as an outline: nothing new was read.
HOLLOW = frozenset({"UNCHANGED"})
#: Statuses drawn below the baseline: nothing was read.
BELOW = frozenset({"FAILED", "NOT_FOUND", "ERROR"})


@dataclass(frozen=True, slots=True)
class TimelineMark:
    """One mark of a timeline.

    Attributes:
        status: Its colour and shape (``SUCCESS``, ``UNCHANGED``, ``FAILED`` ...).
        size: Its height, relative to the largest (``None``: the smallest bar).
        text: Its tooltip (the time, the status, the size ...).
    """

    status: str
    size: int | None
    text: str


def bar_height(size: int | None, peak: int, plot: float) -> float:
    """The height of a bar of ``size`` when the largest shown is ``peak``.

    On a square-root scale, so a fetch a hundredth of the largest is still visible.
    """
    if not size or peak <= 0:
        return _MIN_BAR
    return max(_MIN_BAR, plot * math.sqrt(size / peak))


def timeline(events: Sequence[TimelineMark], *, label: str, large: bool = False) -> Markup:
    """A timeline of ``events``, oldest first.

    Args:
        events: The events, oldest first.
        label: What the chart shows, for screen readers.
        large: The taller form (a source's own page).

    Returns:
        An SVG with one ``rect.mark`` per event, its ``data-status`` the event's status.
    """
    height = _LARGE_HEIGHT if large else _HEIGHT
    plot = float(height - _BELOW)
    peak = max((e.size or 0 for e in events), default=0)
    slot = _WIDTH / max(len(events), 12)  # a few fetches stay narrow, left-aligned
    bar = max(slot * 0.7, 1.0)
    parts: list[str] = []
    for i, event in enumerate(events):
        status = event.status.upper()
        x = i * slot + (slot - bar) / 2
        fill = colour(status)
        style = f'fill="{fill}"'
        if status in BELOW:
            y, h = plot + 1, float(_BELOW - 2)
        else:
            h = bar_height(event.size, peak, plot - 1)
            y = plot - h
            if status in HOLLOW:
                style = f'fill="#ffffff" stroke="{fill}" stroke-width="1.5" {_CRISP}'
        parts.append(
            f'<rect class="mark" data-status="{escape(status)}" x="{number(x)}" '
            f'y="{number(y)}" width="{number(bar)}" height="{number(h)}" {style}>'
            f"{title(event.text)}</rect>"
        )
    parts.append(
        f'<line class="baseline" x1="0" y1="{number(plot)}" x2="{_WIDTH}" y2="{number(plot)}"/>'
    )
    kind = "timeline large" if large else "timeline"
    return frame(_WIDTH, height, label, parts, kind=kind)
