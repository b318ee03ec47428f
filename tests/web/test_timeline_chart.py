"""The timeline chart's geometry and marks, without a browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from spine.web.charts import TimelineMark, timeline
from spine.web.charts.timeline import bar_height
from spine.web.pages.sources import fetch_chart, human_bytes, with_changes


def _marks(svg: str) -> list[dict[str, str]]:
    return [
        dict(re.findall(r'([a-z-]+)="([^"]*)"', tag))
        for tag in re.findall(r'<rect class="mark"[^>]*>', svg)
    ]


def test_one_mark_per_event_shaped_by_status_and_sized_by_size() -> None:
    svg = str(
        timeline(
            [
                TimelineMark("SUCCESS", 400, "a"),
                TimelineMark("UNCHANGED", 400, "b"),
                TimelineMark("SUCCESS", 100, "c"),
                TimelineMark("FAILED", None, "d <boom>"),
            ],
            label="fetches of otc",
        )
    )
    marks = _marks(svg)
    assert [m["data-status"] for m in marks] == ["SUCCESS", "UNCHANGED", "SUCCESS", "FAILED"]
    xs = [float(m["x"]) for m in marks]
    assert xs == sorted(xs)
    heights = [float(m["height"]) for m in marks]
    assert heights[0] == heights[1] > heights[2]
    assert marks[1]["fill"] == "#ffffff" and "stroke" in marks[1]  # an outline
    assert float(marks[3]["y"]) > float(marks[0]["y"]) + heights[0] - 1  # below the line
    assert "<title>d &lt;boom&gt;</title>" in svg
    assert 'aria-label="fetches of otc"' in svg and 'class="chart chart-timeline"' in svg


def test_an_empty_timeline_and_the_scale() -> None:
    assert _marks(str(timeline([], label="nothing"))) == []
    assert bar_height(None, 100, 50) == bar_height(0, 100, 50) == 3.0
    assert bar_height(100, 100, 50) == 50
    assert bar_height(25, 100, 50) == 25  # square root: a quarter is half as tall


def test_fetch_rows_become_a_chart_oldest_first_and_changes_are_marked() -> None:
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    rows = [  # newest first, as the store returns them
        {"status": "SUCCESS", "byte_count": 2048, "content_hash": "b" * 64, "started_at": at},
        {"status": "UNCHANGED", "byte_count": 1024, "content_hash": "a" * 64, "started_at": at},
        {"status": "SUCCESS", "byte_count": 1024, "content_hash": "a" * 64, "started_at": at},
        {"status": "FAILED", "byte_count": None, "content_hash": None, "started_at": at},
    ]
    marks = _marks(str(fetch_chart("otc", rows, large=True)))
    assert [m["data-status"] for m in marks] == ["FAILED", "SUCCESS", "UNCHANGED", "SUCCESS"]
    changes = with_changes(rows)
    assert [f.changed for f in changes] == [True, False, None, None]
    assert changes[0].short_hash == "b" * 12 and changes[3].short_hash is None
    assert [human_bytes(n) for n in (None, 12, 2048, 3 * 1024**2)] == [
        "\u2014",
        "12 B",
        "2.0 KB",
        "3.0 MB",
    ]
