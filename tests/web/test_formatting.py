"""How values look on a page: times, durations, JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spine.web.formatting import as_json, human_duration, when


def test_json_on_a_page_keeps_quotes_readable() -> None:
    assert as_json({"n": 1, "filter": "tier = 'T1'"}) == '{"filter": "tier = \'T1\'", "n": 1}'


def test_durations_read_at_a_glance() -> None:
    assert human_duration(0.45) == "450 ms"
    assert human_duration(2.34) == "2.3 s"
    assert human_duration(245) == "4 min 5 s"
    assert human_duration(timedelta(hours=3, minutes=2)) == "3 h 2 min"
    assert human_duration(timedelta(days=3, hours=1)) == "3 d 1 h"
    assert human_duration(None) == "\u2014"


def test_times_carry_utc_for_the_browser_and_the_hover() -> None:
    shown = str(when(datetime(2026, 12, 2, 21, 5, tzinfo=UTC), relative=True))
    assert 'datetime="2026-12-02T21:05:00Z"' in shown
    assert 'title="2026-12-02 21:05:00 UTC"' in shown and 'data-when="relative"' in shown
    assert str(when(None)) == "&mdash;"
