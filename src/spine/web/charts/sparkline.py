"""A sparkline: a small line of values over time, with a mark per value."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from spine.web.charts.svg import frame, number, title

_WIDTH = 120
_HEIGHT = 24


def sparkline(
    values: Sequence[float | None],
    *,
    label: str,
    low: float = 0.0,
    high: float = 1.0,
    names: Sequence[str] | None = None,
) -> Markup:
    """A sparkline of ``values`` between ``low`` and ``high`` (a gap where one is ``None``).

    Args:
        values: The values, oldest first (e.g. a check's pass rate per day).
        label: What the line shows, for screen readers.
        low: The value at the bottom.
        high: The value at the top.
        names: Each value's name for its tooltip (e.g. its day).

    Returns:
        An SVG with one ``circle.mark`` per value that is not ``None``.
    """
    span = (high - low) or 1.0
    step = _WIDTH / max(len(values) - 1, 1)
    points: list[tuple[float, float, float, int]] = []
    for i, value in enumerate(values):
        if value is None:
            continue
        y = _HEIGHT - 2 - (_HEIGHT - 4) * (min(max(value, low), high) - low) / span
        points.append((i * step, y, value, i))
    parts = []
    if len(points) > 1:
        path = " ".join(f"{number(x)},{number(y)}" for x, y, _, _ in points)
        parts.append(f'<polyline class="line" points="{path}" fill="none"/>')
    for x, y, value, i in points:
        name = names[i] if names is not None else str(i + 1)
        parts.append(
            f'<circle class="mark" cx="{number(x)}" cy="{number(y)}" r="1.6">'
            f"{title(f'{name}: {value:g}')}</circle>"
        )
    return frame(_WIDTH, _HEIGHT, label, parts, kind="sparkline")
