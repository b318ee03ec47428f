"""The Gantt chart's geometry and a run's attempts as its rows, without a browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from spine.orchestration.history import StepRun, StepStatus
from spine.web.charts import GanttRow, Span, gantt
from spine.web.pages.run_timeline import timeline_rows

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _attempt(
    name: str,
    attempt: int,
    start: float,
    end: float | None,
    *,
    status: StepStatus | None = None,
    step_type: str = "lambda",
    max_attempts: int = 1,
    error: str | None = None,
) -> StepRun:
    finished = StepStatus.COMPLETED if end is not None else StepStatus.RUNNING
    return StepRun(
        step_id=f"S{name}{attempt}",
        run_id="R",
        step_name=name,
        step_type=step_type,
        step_order=0,
        status=status or finished,
        started_at=_at(start),
        completed_at=None if end is None else _at(end),
        attempt=attempt,
        max_attempts=max_attempts,
        error=error,
    )


def _rects(svg: str, cls: str) -> list[dict[str, str]]:
    found = re.findall(rf'<rect class="{cls}"([^>]*)>', svg)
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', attrs)) for attrs in found]


def test_bars_sit_on_one_time_axis() -> None:
    rows = [
        GanttRow("extract", [Span(_at(0), _at(10), "COMPLETED", "extract")]),
        GanttRow("load", [Span(_at(10), _at(20), "FAILED", "load")]),
    ]
    svg = str(gantt(rows, label="two steps"))
    assert 'class="chart chart-gantt"' in svg and 'aria-label="two steps"' in svg
    first, second = _rects(svg, "mark")
    # The plot starts after the names (190) and spans 762 units: 20 s, so 10 s is 381.
    assert (first["x"], first["width"]) == ("190", "381")
    assert (second["x"], second["width"]) == ("571", "381")
    assert first["fill"] != second["fill"]
    assert float(second["y"]) > float(first["y"])
    assert "+20 s" in svg and "+10 s" not in svg  # ticks at fifths: +4 s ... +20 s
    assert "<title>extract</title>" in svg


def test_an_instant_attempt_is_still_drawn_and_names_are_shortened() -> None:
    name = "a_very_long_step_name_that_goes_on_and_on"
    rows = [GanttRow(name, [Span(_at(0), _at(0), "COMPLETED", "quick")])]
    svg = str(gantt(rows, label="one"))
    (bar,) = _rects(svg, "mark")
    assert float(bar["width"]) >= 2
    assert f"<title>{name}</title>" in svg and "…" in svg


def test_an_empty_chart_is_an_empty_frame() -> None:
    svg = str(gantt([], label="nothing"))
    assert _rects(svg, "mark") == [] and "chart-gantt" in svg


def test_retries_are_separate_bars_with_the_back_off_between() -> None:
    attempts = [
        _attempt("extract", 1, 0, 2, status=StepStatus.FAILED, max_attempts=3, error="timed out"),
        _attempt("extract", 2, 7, 9, max_attempts=3),
        _attempt("pause", 1, 9, 69, step_type="wait"),
        _attempt("load", 1, 69, None),
    ]
    rows, left_out = timeline_rows(attempts, now=_at(70))
    assert left_out == 0
    assert [r.name for r in rows] == ["extract", "pause", "load"]
    extract = rows[0].spans
    assert [s.kind for s in extract] == ["attempt", "gap", "attempt"]
    assert extract[0].text.startswith("extract, attempt 1 of 3: FAILED, took 2.0 s (error: ")
    assert extract[1].text == "extract: waited 5.0 s before attempt 2 (retry back-off)"
    assert rows[1].spans[0].kind == "wait" and "waited 1 min" in rows[1].spans[0].text
    assert rows[2].spans[0].end == _at(70) and rows[2].spans[0].text.endswith("so far")

    svg = str(gantt(rows, label="run"))
    assert len(_rects(svg, "mark")) + len(_rects(svg, "mark wait")) == 4
    assert len(_rects(svg, "gap")) == 1


def test_rows_are_capped_with_a_count_of_the_rest() -> None:
    attempts = [_attempt(f"map[{i}]", 1, i, i + 1) for i in range(250)]
    rows, left_out = timeline_rows(attempts, now=_at(300), max_rows=200)
    assert len(rows) == 200 and left_out == 50
    assert rows[-1].name == "map[199]"
