"""Cron parsing and fire times: Vixie's field rules and DST rules, examples and properties."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from spine.core.errors import InvalidInput
from spine.core.storage.schema.scheduler import core_schedules
from spine.scheduling import CronError, CronExpression, DstPolicy, next_fire_times
from spine.scheduling.cron import MAX_LENGTH


def times(expr: str, tz: str, after: str, count: int, policy: str | None = None) -> list[str]:
    start = datetime.fromisoformat(after)
    return [t.isoformat() for t in next_fire_times(expr, tz, start, count, dst_policy=policy)]


# ------------------------------------------------------------------ parsing


def test_fields_lists_ranges_steps_and_names() -> None:
    cron = CronExpression.parse("0,30 9-17/4 * jan-mar,DEC mon-fri")
    assert cron.minutes == (0, 30)
    assert cron.hours == (9, 13, 17)
    assert cron.months == frozenset({1, 2, 3, 12})
    assert cron.weekdays == frozenset({1, 2, 3, 4, 5})


def test_zero_and_seven_are_sunday() -> None:
    assert CronExpression.parse("0 0 * * 7").weekdays == frozenset({0})
    assert CronExpression.parse("0 0 * * 0").weekdays == frozenset({0})
    assert CronExpression.parse("0 0 * * 5-7").weekdays == frozenset({5, 6, 0})


def test_a_start_with_a_step_runs_to_the_end_of_the_range() -> None:
    assert CronExpression.parse("50/5 * * * *").minutes == (50, 55)


@pytest.mark.parametrize(
    ("macro", "same_as"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ],
)
def test_macros(macro: str, same_as: str) -> None:
    after = "2025-01-10T12:34:00+00:00"
    assert times(macro, "UTC", after, 5) == times(same_as, "UTC", after, 5)


def test_day_fields_are_ored_when_both_are_restricted() -> None:
    # The 1st of the month OR any Monday.
    assert times("0 0 1 * mon", "UTC", "2025-01-01T00:00:00+00:00", 5) == [
        "2025-01-06T00:00:00+00:00",
        "2025-01-13T00:00:00+00:00",
        "2025-01-20T00:00:00+00:00",
        "2025-01-27T00:00:00+00:00",
        "2025-02-01T00:00:00+00:00",
    ]


def test_day_fields_are_anded_when_one_starts_with_a_star() -> None:
    # Odd days of the month that are Mondays.
    assert times("0 0 */2 * mon", "UTC", "2025-01-01T00:00:00+00:00", 3) == [
        "2025-01-13T00:00:00+00:00",
        "2025-01-27T00:00:00+00:00",
        "2025-02-03T00:00:00+00:00",
    ]


def test_february_29_waits_for_a_leap_year() -> None:
    assert times("0 0 29 2 *", "UTC", "2025-01-01T00:00:00+00:00", 2) == [
        "2028-02-29T00:00:00+00:00",
        "2032-02-29T00:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("0 0 30 2 *", "can never fire"),
        ("0 0 31 4,6,9,11 *", "can never fire"),
        ("0 0 30 2 */2", "can never fire"),
        ("61 * * * *", "minute 61 is outside 0-59"),
        ("* 24 * * *", "hour 24 is outside 0-23"),
        ("* * 0 * *", "day of month 0 is outside 1-31"),
        ("* * * 13 *", "month 13 is outside 1-12"),
        ("* * * * 8", "day of week 8 is outside 0-7"),
        ("* * * *", "has 4 fields"),
        ("* * * * * *", "has 6 fields"),
        ("5-1 * * * *", "runs backwards"),
        ("*/0 * * * *", "step 0"),
        ("@fortnightly", "unknown cron macro"),
        ("x * * * *", "'x' is not a valid minute"),
        ("1,,2 * * * *", "bad minute field"),
        ("* * * foo *", "'foo' is not a valid month"),
    ],
)
def test_bad_expressions_are_refused_with_the_reason(expr: str, says: str) -> None:
    with pytest.raises(CronError, match=says):
        CronExpression.parse(expr)


def test_an_expression_over_200_characters_is_refused_without_quoting_it() -> None:
    longest = "10" + ",0" * 95 + " 6 * * *"
    assert len(longest) == MAX_LENGTH == core_schedules.c.cron_expression.type.length == 200
    assert CronExpression.parse(longest).minutes == (0, 10)
    too_long = "0" + ",0" * 3400 + " 6 * * *"
    with pytest.raises(CronError) as refused:
        CronExpression.parse(too_long)
    assert str(refused.value) == (
        f"cron expression is {len(too_long)} characters long; the most is 200"
    )
    with pytest.raises(CronError, match="the most is 200"):
        CronExpression.parse(longest + " ")


def test_thirty_first_in_some_months_is_possible() -> None:
    assert times("0 0 31 2,3 *", "UTC", "2025-01-01T00:00:00+00:00", 1) == [
        "2025-03-31T00:00:00+00:00"
    ]


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown time zone 'Mars/Olympus'"):
        next_fire_times("0 0 * * *", "Mars/Olympus", datetime(2025, 1, 1, tzinfo=UTC), 1)


def test_dst_policy_round_trips() -> None:
    policy = DstPolicy.parse("gap=skip,fold=both")
    assert policy is not None and str(policy) == "gap=skip,fold=both"
    assert DstPolicy.parse(None) is None
    with pytest.raises(InvalidInput, match="bad DST policy"):
        DstPolicy.parse("gap=later")


# ------------------------------------------------------------------ DST, by example
# America/New_York: 2025-03-09 02:00 -> 03:00 (gap); 2025-11-02 02:00 -> 01:00 (fold).

DST_CASES = [
    # fixed-time job in the gap: once, at the end of the gap
    ("30 2 * * *", "America/New_York", "2025-03-08T12:00:00+00:00", None,
     ["2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"]),
    # fixed-time job in the fold: once, at the first occurrence
    ("30 1 * * *", "America/New_York", "2025-11-01T12:00:00+00:00", None,
     ["2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"]),
    # wildcard job in the gap: nothing
    ("*/30 2 * * *", "America/New_York", "2025-03-09T05:00:00+00:00", None,
     ["2025-03-10T02:00:00-04:00", "2025-03-10T02:30:00-04:00"]),
    # wildcard job in the fold: both occurrences
    ("*/30 1 * * *", "America/New_York", "2025-11-02T04:00:00+00:00", None,
     ["2025-11-02T01:00:00-04:00", "2025-11-02T01:30:00-04:00",
      "2025-11-02T01:00:00-05:00", "2025-11-02T01:30:00-05:00",
      "2025-11-03T01:00:00-05:00"]),
    # overrides
    ("30 2 * * *", "America/New_York", "2025-03-08T12:00:00+00:00", "gap=skip",
     ["2025-03-10T02:30:00-04:00"]),
    ("30 1 * * *", "America/New_York", "2025-11-01T12:00:00+00:00", "fold=both",
     ["2025-11-02T01:30:00-04:00", "2025-11-02T01:30:00-05:00"]),
    ("*/30 2 * * *", "America/New_York", "2025-03-09T05:00:00+00:00", "gap=end",
     ["2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00"]),
    ("*/30 1 * * *", "America/New_York", "2025-11-02T04:00:00+00:00", "fold=first",
     ["2025-11-02T01:00:00-04:00", "2025-11-02T01:30:00-04:00", "2025-11-03T01:00:00-05:00"]),
    # Lord Howe moves 30 minutes: 02:00 -> 02:30 on 2025-10-05
    ("15 2 * * *", "Australia/Lord_Howe", "2025-10-04T00:00:00+00:00", None,
     ["2025-10-05T02:30:00+11:00", "2025-10-06T02:15:00+11:00"]),
    # Europe/London: 2025-03-30 01:00 -> 02:00
    ("30 1 * * *", "Europe/London", "2025-03-29T12:00:00+00:00", None,
     ["2025-03-30T02:00:00+01:00", "2025-03-31T01:30:00+01:00"]),
    # A fixed-time job whose gap time and the gap's end coincide fires once.
    ("0 2,3 * * *", "America/New_York", "2025-03-09T05:00:00+00:00", None,
     ["2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00"]),
]  # fmt: skip


@pytest.mark.parametrize(("expr", "tz", "after", "policy", "expected"), DST_CASES)
def test_dst_examples(
    expr: str, tz: str, after: str, policy: str | None, expected: list[str]
) -> None:
    assert times(expr, tz, after, len(expected), policy) == expected


def test_second_occurrence_is_found_from_inside_the_fold() -> None:
    # After the first 01:20 (EDT), the second 01:00 and 01:20 (EST) are still to come.
    assert times("*/20 1 * * *", "America/New_York", "2025-11-02T05:20:00+00:00", 4) == [
        "2025-11-02T01:40:00-04:00",
        "2025-11-02T01:00:00-05:00",
        "2025-11-02T01:20:00-05:00",
        "2025-11-02T01:40:00-05:00",
    ]


def test_times_are_in_the_zone_and_after_is_exclusive() -> None:
    out = next_fire_times("0 6 * * *", "Asia/Kolkata", datetime(2025, 1, 10, 0, 30, tzinfo=UTC), 2)
    assert [t.isoformat() for t in out] == [
        "2025-01-11T06:00:00+05:30",
        "2025-01-12T06:00:00+05:30",
    ]
    assert out[0].tzinfo == ZoneInfo("Asia/Kolkata")


# ------------------------------------------------------------------ properties

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Europe/Berlin",
    "America/Sao_Paulo",
    "Africa/Casablanca",
]


@st.composite
def cron_fields(draw: st.DrawFn) -> str:
    def field(low: int, high: int) -> str:
        kind = draw(st.sampled_from(["star", "value", "list", "range", "step", "star_step"]))
        if kind == "star":
            return "*"
        if kind == "value":
            return str(draw(st.integers(low, high)))
        if kind == "list":
            values = draw(st.lists(st.integers(low, high), min_size=1, max_size=4, unique=True))
            return ",".join(map(str, values))
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        if kind == "range":
            return f"{a}-{b}"
        if kind == "step":
            return f"{a}-{b}/{draw(st.integers(1, 5))}"
        return f"*/{draw(st.integers(1, 20))}"

    return " ".join([field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 7)])


def _swallowed_by_gap(cron: CronExpression, fire: datetime, tz: ZoneInfo) -> bool:
    """Whether ``fire`` is the first instant after a gap that hid a matching time."""
    # Arithmetic in UTC: on an aware local time it is wall-clock arithmetic, and one
    # second before a gap's end would land in the gap itself.
    before = (fire.astimezone(UTC) - timedelta(seconds=1)).astimezone(tz)
    at = fire.astimezone(tz)
    if at.utcoffset() == before.utcoffset():
        return False
    gap_start = before.replace(tzinfo=None) + timedelta(seconds=1)
    gap_end = at.replace(tzinfo=None)
    if gap_end <= gap_start:
        return False  # the clock went back: a fold, not a gap
    minute = gap_start.replace(second=0, microsecond=0)
    minute += timedelta(minutes=1) if minute < gap_start else timedelta(0)
    while minute < gap_end:
        if cron.matches(minute):
            return True
        minute += timedelta(minutes=1)
    return False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expr=cron_fields(),
    tz_name=st.sampled_from(ZONES),
    start=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31)),
    policy=st.sampled_from([None, "gap=end", "gap=skip", "fold=first", "fold=both"]),
)
# Found by this test: both occurrences of a repeated hour (equal as local times, two
# instants), and a midnight swallowed by Santiago's gap (fired at the gap's end, 01:00).
@example(
    expr="0 2 * 10 *", tz_name="Europe/Berlin", start=datetime(2000, 10, 1), policy="fold=both"
)
@example(expr="0 0 * 10 *", tz_name="America/Santiago", start=datetime(2000, 10, 10), policy=None)
def test_fire_times_increase_and_match_or_follow_a_gap(
    expr: str, tz_name: str, start: datetime, policy: str | None
) -> None:
    cron = CronExpression.parse(expr)
    tz = ZoneInfo(tz_name)
    after = start.replace(tzinfo=UTC)
    fires = next_fire_times(expr, tz_name, after, 40, dst_policy=policy)
    assert fires and fires[0] > after
    for earlier, later in itertools.pairwise(fires):
        # As instants: two aware times in one zone compare as wall-clock times, fold aside.
        assert later.astimezone(UTC) > earlier.astimezone(UTC)
    for fire in fires:
        local = fire.astimezone(tz)
        assert local.second == 0 or _swallowed_by_gap(cron, fire, tz)
        assert cron.matches(local) or _swallowed_by_gap(cron, fire, tz), fire


def _transitions(tz: ZoneInfo, year: int) -> list[datetime]:
    """Instants (UTC, to the hour) around which ``tz`` changes its offset in ``year``."""
    found = []
    hour = datetime(year, 1, 1, tzinfo=UTC)
    previous = hour.astimezone(tz).utcoffset()
    while hour.year == year:
        hour += timedelta(hours=6)
        offset = hour.astimezone(tz).utcoffset()
        if offset != previous:
            found.append(hour)
        previous = offset
    return found


@settings(max_examples=60, deadline=None)
@given(
    tz_name=st.sampled_from([z for z in ZONES if z not in ("UTC", "Asia/Kolkata")]),
    year=st.integers(1995, 2035),
    which=st.integers(0, 7),
    expr=st.sampled_from(["*/15 * * * *", "*/7 0-4 * * *", "30 * * * *", "*/20 1,2,3 * * *"]),
)
def test_wildcard_jobs_miss_no_real_wall_clock_time_around_transitions(
    tz_name: str, year: int, which: int, expr: str
) -> None:
    # Around a transition, every real (UTC) minute whose local time matches is a fire:
    # nothing is lost in a fold (both occurrences) and nothing but gap times is skipped.
    tz = ZoneInfo(tz_name)
    found = _transitions(tz, year)
    if not found:
        return
    around = found[which % len(found)]
    after = around - timedelta(hours=10)
    cron = CronExpression.parse(expr)
    # In UTC: PEP 495 makes aware times in a fold unequal to any other zone's.
    fires = {t.astimezone(UTC) for t in next_fire_times(expr, tz_name, after, 60)}
    last = max(fires)
    minute = after + timedelta(minutes=1)
    while minute <= last:
        if cron.matches(minute.astimezone(tz)):
            assert minute in fires, minute.astimezone(tz)
        minute += timedelta(minutes=1)


@settings(max_examples=80, deadline=None)
@given(
    expr=cron_fields(),
    tz_name=st.sampled_from(ZONES),
    start=st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2035, 12, 31)),
)
def test_resuming_from_any_fire_gives_the_same_sequence(
    expr: str, tz_name: str, start: datetime
) -> None:
    after = start.replace(tzinfo=UTC)
    fires = next_fire_times(expr, tz_name, after, 12)
    for i, fire in enumerate(fires[:-1]):
        assert next_fire_times(expr, tz_name, fire, 1)[0] == fires[i + 1]
