"""A Gantt chart: one row a step, one bar a span of time on a shared time axis.

Spans are of three kinds: an ``attempt`` (a ``rect.mark`` in its status's colour), a
``wait`` (a ``rect.mark.wait``: an attempt that only waited, hatched), and a ``gap``
(``rect.gap``: time between attempts, such as a retry's back-off, lighter and hatched,
not a mark). Each has a ``<title>`` naming what it was and how long it took.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from markupsafe import Markup, escape

from spine.web.charts.svg import colour, frame, number, title
from spine.web.formatting import human_duration

_WIDTH = 960
_NAMES = 190
_ROW = 20
_AXIS = 22
_TICKS = 5
_NAME_CHARS = 30
#: Drawn at least this wide, so that an attempt of a millisecond can still be pointed at.
_MIN_BAR = 2.0

SpanKind = Literal["attempt", "wait", "gap"]


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of time in a row.

    Attributes:
        start: When it began.
        end: When it ended (for one still going on, the time the chart is drawn).
        status: Its status (the bar's colour), e.g. ``FAILED``.
        text: Its tooltip.
        kind: ``attempt``, ``wait`` or ``gap`` (see the module's docstring).
    """

    start: datetime
    end: datetime
    status: str
    text: str
    kind: SpanKind = "attempt"


@dataclass(frozen=True, slots=True)
class GanttRow:
    """A row of the chart: a name and its spans."""

    name: str
    spans: Sequence[Span]


def gantt(rows: Sequence[GanttRow], *, label: str) -> Markup:
    """A Gantt chart of ``rows`` on one time axis, from the earliest start to the latest end.

    Args:
        rows: The rows, top to bottom.
        label: What the chart shows, for screen readers.

    Returns:
        An SVG with one ``rect.mark`` per attempt or wait span, one ``rect.gap`` per gap.
    """
    spans = [span for row in rows for span in row.spans]
    first = min((s.start for s in spans), default=None)
    last = max((s.end for s in spans), default=None)
    total = (last - first).total_seconds() if first and last else 0.0
    plot = _WIDTH - _NAMES - 8
    height = _AXIS + _ROW * max(len(rows), 1)

    def x_of(at: datetime) -> float:
        if first is None or total <= 0:
            return float(_NAMES)
        return _NAMES + plot * (at - first).total_seconds() / total

    parts = [
        '<defs><pattern id="gantt-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#57606a" stroke-width="3"/></pattern></defs>'
    ]
    parts.extend(_axis(total, plot, height))
    for index, row in enumerate(rows):
        top = _AXIS + index * _ROW
        name = row.name if len(row.name) <= _NAME_CHARS else row.name[: _NAME_CHARS - 1] + "…"
        parts.append(
            f'<text class="row-name" x="{_NAMES - 6}" y="{top + _ROW - 6}" '
            f'text-anchor="end">{title(row.name)}{escape(name)}</text>'
        )
        for span in row.spans:
            parts.append(_bar(span, x_of(span.start), x_of(span.end), top))
    return frame(_WIDTH, height, label, parts, kind="gantt")


def _bar(span: Span, left: float, right: float, top: int) -> str:
    width = max(right - left, _MIN_BAR)
    shape = f'x="{number(left)}" width="{number(width)}"'
    tip = title(span.text)
    status = escape(span.status)
    if span.kind == "gap":
        return (
            f'<rect class="gap" data-status="{status}" {shape} y="{top + 7}" height="{_ROW - 14}" '
            f'fill="url(#gantt-hatch)" opacity="0.6">{tip}</rect>'
        )
    if span.kind == "wait":
        return (
            f'<rect class="mark wait" data-status="{status}" {shape} y="{top + 4}" '
            f'height="{_ROW - 8}" fill="url(#gantt-hatch)" stroke="{colour(span.status)}" '
            f'stroke-width="1.5">{tip}</rect>'
        )
    return (
        f'<rect class="mark" data-status="{status}" {shape} y="{top + 3}" height="{_ROW - 6}" '
        f'fill="{colour(span.status)}">{tip}</rect>'
    )


def _axis(total: float, plot: int, height: int) -> list[str]:
    """Tick lines and labels: the time since the chart's start (``+2.5 s``)."""
    parts = []
    for tick in range(_TICKS + 1):
        x = _NAMES + plot * tick / _TICKS
        text = "0" if tick == 0 else f"+{human_duration(total * tick / _TICKS)}"
        anchor = "start" if tick == 0 else ("end" if tick == _TICKS else "middle")
        parts.append(
            f'<line class="tick" x1="{number(x)}" y1="{_AXIS - 4}" x2="{number(x)}" '
            f'y2="{height}"/><text class="axis" x="{number(x)}" y="{_AXIS - 8}" '
            f'text-anchor="{anchor}">{escape(text)}</text>'
        )
    return parts
