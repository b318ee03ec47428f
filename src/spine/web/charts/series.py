"""A time series: a check's sensor values over time, its thresholds and its anomaly band.

One ``.mark`` per value (a circle when it passed, a square when it failed: the shape
says it, not only the colour), a line through the values, a dashed line per threshold
(labelled with its severity and key), and the anomaly band as one polygon from the
bands recorded with the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup, escape

from spine.web.charts.svg import colour, frame, number, title

_WIDTH = 720
_HEIGHT = 220
_LEFT = 56
_RIGHT = 8
_TOP = 10
_BOTTOM = 22
#: Threshold colours by severity (3:1 against white); the label names the severity too.
SEVERITY_COLOURS = {"warning": "#9a6700", "error": "#cf222e", "fatal": "#82071e"}


@dataclass(frozen=True, slots=True)
class Point:
    """One result: when, its value (``None`` when it measured nothing), whether it failed."""

    at: datetime
    value: float | None
    failed: bool
    label: str


@dataclass(frozen=True, slots=True)
class Threshold:
    """A limit drawn across the chart."""

    value: float
    severity: str
    label: str


@dataclass(frozen=True, slots=True)
class BandPoint:
    """The anomaly band (lowest and highest expected value) at one result's time."""

    at: datetime
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class Scale:
    """Maps times and values to the chart's coordinates."""

    start: float
    end: float
    low: float
    high: float

    def x(self, at: datetime) -> float:
        """The horizontal position of ``at``."""
        span = (self.end - self.start) or 1.0
        width = _WIDTH - _LEFT - _RIGHT
        if self.end == self.start:
            return _LEFT + width / 2
        return _LEFT + width * (at.timestamp() - self.start) / span

    def y(self, value: float) -> float:
        """The vertical position of ``value`` (higher values up)."""
        span = (self.high - self.low) or 1.0
        height = _HEIGHT - _TOP - _BOTTOM
        return _TOP + height * (1 - (value - self.low) / span)


def scale_for(
    points: Sequence[Point], thresholds: Sequence[Threshold], band: Sequence[BandPoint]
) -> Scale:
    """A scale holding every value, threshold and band edge, with a little air around them."""
    times = [p.at.timestamp() for p in points] + [b.at.timestamp() for b in band]
    values = [p.value for p in points if p.value is not None]
    values += [t.value for t in thresholds]
    values += [edge for b in band for edge in (b.lower, b.upper)]
    if not values:
        values = [0.0, 1.0]
    low, high = min(values), max(values)
    air = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    return Scale(
        start=min(times, default=0.0),
        end=max(times, default=0.0),
        low=low - air,
        high=high + air,
    )


def series(
    points: Sequence[Point],
    *,
    label: str,
    thresholds: Sequence[Threshold] = (),
    band: Sequence[BandPoint] = (),
) -> Markup:
    """A chart of ``points`` (oldest first) with threshold lines and the anomaly band.

    Args:
        points: The results, oldest first.
        label: What the chart shows, for screen readers.
        thresholds: Limits to draw as lines across the chart.
        band: The anomaly band at the results that recorded one, oldest first.

    Returns:
        An SVG with one ``.mark`` per point (``.failed`` too when it failed), one
        ``line.threshold`` per threshold and one ``polygon.band`` when there is a band.
    """
    scale = scale_for(points, thresholds, band)
    parts: list[str] = []
    if len(band) > 1:
        edge = [(scale.x(b.at), scale.y(b.upper)) for b in band]
        edge += [(scale.x(b.at), scale.y(b.lower)) for b in reversed(band)]
        outline = " ".join(f"{number(x)},{number(y)}" for x, y in edge)
        parts.append(
            f'<polygon class="band" points="{outline}" fill="#0969da" fill-opacity="0.12" '
            f'stroke="none">{title("expected range (anomaly band)")}</polygon>'
        )
    for limit in thresholds:
        y = number(scale.y(limit.value))
        hue = SEVERITY_COLOURS.get(limit.severity, "#57606a")
        parts.append(
            f'<line class="threshold threshold-{escape(limit.severity)}" x1="{_LEFT}" y1="{y}" '
            f'x2="{_WIDTH - _RIGHT}" y2="{y}" stroke="{hue}" stroke-dasharray="6 4">'
            f"{title(limit.label)}</line>"
            f'<text class="axis" x="{_WIDTH - _RIGHT - 2}" y="{number(scale.y(limit.value) - 3)}" '
            f'text-anchor="end" fill="{hue}">{escape(limit.label)}</text>'
        )
    measured = [p for p in points if p.value is not None]
    if len(measured) > 1:
        path = " ".join(
            f"{number(scale.x(p.at))},{number(scale.y(p.value))}"
            for p in measured
            if p.value is not None
        )
        parts.append(f'<polyline class="line" points="{path}" fill="none"/>')
    parts.extend(_mark(p, scale) for p in points)
    parts.append(_axes(scale))
    return frame(_WIDTH, _HEIGHT, label, parts, kind="series")


def _mark(point: Point, scale: Scale) -> str:
    x = scale.x(point.at)
    y = scale.y(point.value) if point.value is not None else _HEIGHT - _BOTTOM
    tip = title(point.label)
    if point.failed:
        return (
            f'<rect class="mark failed" x="{number(x - 3.5)}" y="{number(y - 3.5)}" '
            f'width="7" height="7" fill="{colour("FAILED")}">{tip}</rect>'
        )
    return (
        f'<circle class="mark" cx="{number(x)}" cy="{number(y)}" r="3" '
        f'fill="{colour("PASSED")}">{tip}</circle>'
    )


def _axes(scale: Scale) -> str:
    bottom = _HEIGHT - _BOTTOM
    low, high = scale.low, scale.high
    return (
        f'<line class="baseline" x1="{_LEFT}" y1="{bottom}" x2="{_WIDTH - _RIGHT}" y2="{bottom}"/>'
        f'<text class="axis" x="{_LEFT - 4}" y="{_TOP + 8}" text-anchor="end">{_tick(high)}</text>'
        f'<text class="axis" x="{_LEFT - 4}" y="{bottom}" text-anchor="end">{_tick(low)}</text>'
        + _dates(scale)
    )


def _dates(scale: Scale) -> str:
    """The first and last result's day under the axis (both ends, once when the same)."""
    if not scale.start and not scale.end:
        return ""
    first = datetime.fromtimestamp(scale.start, UTC).strftime("%Y-%m-%d %H:%M")
    last = datetime.fromtimestamp(scale.end, UTC).strftime("%Y-%m-%d %H:%M")
    y = _HEIGHT - 6
    text = f'<text class="axis" x="{_LEFT}" y="{y}">{first} UTC</text>'
    if last != first:
        text += (
            f'<text class="axis" x="{_WIDTH - _RIGHT}" y="{y}" text-anchor="end">{last} UTC</text>'
        )
    return text


def _tick(value: float) -> str:
    """An axis label: short, thousands separated."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"
