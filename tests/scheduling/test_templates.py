"""Param templates: compiled when saved, rendered for a fire's logical time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spine.core.errors import InvalidInput
from spine.orchestration.data_interval import DataInterval
from spine.scheduling.templates import compile_params, compile_template, render_params

NEW_YORK = ZoneInfo("America/New_York")
# A Saturday 06:00 in New York: the README's weekly FINRA fire.
SATURDAY = DataInterval(
    datetime(2025, 1, 11, 11, tzinfo=UTC),
    datetime(2025, 1, 4, 11, tzinfo=UTC),
    datetime(2025, 1, 11, 11, tzinfo=UTC),
)
days = st.dates(min_value=date(1900, 1, 8), max_value=date(2999, 12, 24))


def render(source: str, interval: DataInterval = SATURDAY, zone: ZoneInfo = NEW_YORK) -> str:
    return str(render_params({"p": source}, interval, zone)["p"])


def test_the_finra_fire_loads_the_week_ending_the_friday_before() -> None:
    assert render("{{ data_interval_end | previous_friday }}") == "2025-01-10"


def test_variables_are_times_on_the_schedule_wall_clock() -> None:
    assert render("{{ logical_time }}") == "2025-01-11T06:00:00-05:00"
    assert render("{{ data_interval_start | date }}") == "2025-01-04"
    assert render("{{ logical_time | iso }}", zone=ZoneInfo("UTC")) == "2025-01-11T11:00:00+00:00"


def test_filters_chain_and_text_around_expressions_stays() -> None:
    source = "s3://b/{{ data_interval_start | add_days(1) | strftime('%Y/%m/%d') }}/x-{{ ds_x }}"
    with pytest.raises(InvalidInput, match="unknown variable 'ds_x'"):
        render(source)
    got = render("s3://b/{{ data_interval_start | add_days(1) | strftime('%Y/%m/%d') }}/x.csv")
    assert got == "s3://b/2025/01/05/x.csv"
    assert render("{{ logical_time | subtract_days(7) | date }}") == "2025-01-04"
    assert render("plain text") == "plain text"


def test_params_that_are_not_templates_are_kept_as_they_are() -> None:
    params = {"n": 3, "flag": True, "text": "a } b", "nested": {"x": "{{ y }}"}}
    assert render_params(params, SATURDAY, NEW_YORK) == params


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ nope }}", "unknown variable 'nope' (known: logical_time, "),
        ("{{ logical_time | previous_fri }}", "unknown filter 'previous_fri' (known: date, iso"),
        ("{{ logical_time | strftime }}", "strftime takes one quoted format"),
        ("{{ logical_time | subtract_days('x') }}", "subtract_days takes one whole number"),
        ("{{ logical_time | date(1) }}", "date takes no arguments"),
        ("{{ logical_time | iso | date }}", "date needs a date or time, not text"),
        ("{{ logical_time | add_days(1 }}", "'(' after add_days is not closed"),
        ("{{ logical_time date }}", "expected '| filter' at 'date'"),
        ("{{ | date }}", "must start with a variable"),
        ("{{ logical_time ; }}", "cannot read ';'"),
        ("x {{ logical_time", "'{{' is not closed by '}}'"),
    ],
)
def test_a_bad_template_is_refused_with_what_is_wrong(source: str, message: str) -> None:
    with pytest.raises(InvalidInput, match="--param p") as raised:
        compile_params({"p": source})
    assert message in str(raised.value)


@given(days)
def test_previous_friday_is_the_last_friday_strictly_before(day: date) -> None:
    friday = date.fromisoformat(
        compile_template("{{ logical_time | previous_friday }}").render(
            {"logical_time": datetime(day.year, day.month, day.day, tzinfo=UTC)}
        )
    )
    assert friday.weekday() == 4
    assert day - timedelta(days=7) <= friday < day


@given(days, st.integers(min_value=-3000, max_value=3000))
def test_add_days_then_subtract_days_gives_the_day_back(day: date, n: int) -> None:
    when = {"logical_time": datetime(day.year, day.month, day.day, 12, tzinfo=UTC)}
    got = compile_template(f"{{{{ logical_time | add_days({n}) | subtract_days({n}) | date }}}}")
    assert got.render(when) == day.isoformat()


def test_a_filter_that_fails_on_a_value_is_one_clear_error() -> None:
    late = DataInterval(
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(9999, 12, 31, tzinfo=UTC),
    )
    with pytest.raises(InvalidInput, match=r"--param p: .* failed"):
        render("{{ logical_time | add_days(2) }}", late, ZoneInfo("UTC"))
