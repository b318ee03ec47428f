"""Stacked bars: one bar a category (a day), one segment a series (a status)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from spine.web.charts.svg import colour, frame, number, title

_WIDTH = 720
_HEIGHT = 160
_AXIS = 18


def stacked_bars(
    categories: Sequence[str],
    series: Mapping[str, Sequence[int]],
    *,
    label: str,
) -> Markup:
    """A stacked bar chart.

    Args:
        categories: The bars' labels, left to right (e.g. ``2026-12-01``).
        series: For each series (a status), its value in every category, in order.
        label: What the chart shows, for screen readers.

    Returns:
        An SVG with one ``rect.mark`` per non-zero segment.
    """
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    peak = max(totals, default=0) or 1
    slot = _WIDTH / max(len(categories), 1)
    bar = max(slot * 0.7, 1.0)
    plot = _HEIGHT - _AXIS
    parts: list[str] = []
    for i, category in enumerate(categories):
        x = i * slot + (slot - bar) / 2
        y = float(plot)
        for name, values in series.items():
            value = values[i]
            if not value:
                continue
            height = plot * value / peak
            y -= height
            parts.append(
                f'<rect class="mark" data-series="{escape(name)}" x="{number(x)}" '
                f'y="{number(y)}" width="{number(bar)}" height="{number(height)}" '
                f'fill="{colour(name)}">{title(f"{category}: {value:,} {name}")}</rect>'
            )
        if len(categories) <= 16 or i % max(len(categories) // 8, 1) == 0:
            parts.append(
                f'<text class="axis" x="{number(i * slot + slot / 2)}" y="{_HEIGHT - 4}" '
                f'text-anchor="middle">{escape(category[-5:])}</text>'
            )
    parts.append(
        f'<text class="axis" x="2" y="10">{peak:,}</text>'
        f'<line class="baseline" x1="0" y1="{plot}" x2="{_WIDTH}" y2="{plot}"/>'
    )
    return frame(_WIDTH, _HEIGHT, label, parts, kind="bars")
