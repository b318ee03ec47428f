"""The series chart's geometry and marks, without a browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from spine.web.charts import BandPoint, Point, Threshold, series
from spine.web.charts.series import scale_for

START = datetime(2026, 12, 1, tzinfo=UTC)


def _points(values: list[float | None], failed: frozenset[int] = frozenset()) -> list[Point]:
    return [
        Point(at=START + timedelta(hours=i), value=v, failed=i in failed, label=f"point {i}")
        for i, v in enumerate(values)
    ]


def test_one_mark_per_point_failed_ones_square() -> None:
    svg = str(series(_points([1, 2, None, 4], failed={1, 2}), label="values"))
    assert svg.count('class="mark"') == 2
    assert svg.count('class="mark failed"') == 2
    assert svg.count("<rect") == 2  # the failed ones: a shape, not only a colour
    assert "<title>point 3</title>" in svg
    assert 'aria-label="values"' in svg and "chart-series" in svg


def test_thresholds_and_band_are_drawn() -> None:
    band = [BandPoint(at=START + timedelta(hours=i), lower=8.0, upper=12.0 + i) for i in range(3)]
    svg = str(
        series(
            _points([10, 11, 30]),
            label="rows",
            thresholds=[
                Threshold(5, "warning", "warning min 5"),
                Threshold(40, "error", "error max 40"),
            ],
            band=band,
        )
    )
    assert svg.count('<line class="threshold') == 2
    assert "threshold-warning" in svg and "threshold-error" in svg
    assert "error max 40" in svg
    [outline] = re.findall(r'<polygon class="band" points="([^"]+)"', svg)
    assert len(outline.split()) == 6  # upper edge there, lower edge back


def test_the_scale_holds_values_thresholds_and_band() -> None:
    scale = scale_for(
        _points([10, 20]),
        [Threshold(50, "error", "max 50")],
        [BandPoint(at=START, lower=-5, upper=15)],
    )
    assert scale.low < -5 and scale.high > 50
    assert scale.y(scale.high) < scale.y(scale.low)  # higher values up
    first, last = START, START + timedelta(hours=1)
    assert scale.x(first) < scale.x(last)


def test_one_point_and_no_points_still_draw() -> None:
    one = str(series(_points([7]), label="one"))
    assert one.count('class="mark"') == 1
    assert "<polyline" not in one
    empty = str(series([], label="none"))
    assert 'class="mark' not in empty
