"""Anomaly detection (spine.quality.anomaly): the detector's invariants and the benchmark.

The invariants are properties (Hypothesis): a constant series flags nothing, the point
being judged never trains its own band, flagged points do not train, a huge spike after
enough history is flagged. The benchmark test runs a small version of
benchmarks/anomaly.py and asserts what docs/quality.md claims: spine's F1 beats the
14-point z-score's on the same labelled series.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from benchmarks.anomaly import evaluate
from hypothesis import given, settings
from hypothesis import strategies as st

from spine.quality.anomaly import (
    AnomalyOptions,
    HistoryPoint,
    detect,
    parse_options,
)
from spine.quality.student_t import t_quantile

START = datetime(2026, 1, 5, 6, tzinfo=UTC)  # a Monday


def series(values: list[float], flagged: set[int] | None = None) -> list[HistoryPoint]:
    """Daily points from START, ``flagged`` naming the indices judged anomalous."""
    marked = flagged or set()
    return [
        HistoryPoint(executed_at=START + timedelta(days=i), value=v, flagged=i in marked)
        for i, v in enumerate(values)
    ]


def judge_next(values: list[float], value: float, **options: Any) -> Any:
    """The band for ``value`` measured the day after ``values``."""
    now = START + timedelta(days=len(values))
    return detect(value, series(values), parse_options(options), now=now)


@pytest.mark.parametrize(
    ("p", "degrees", "table"),
    [
        (0.975, 3, 3.1824),
        (0.975, 5, 2.5706),
        (0.995, 6, 3.7074),
        (0.995, 10, 3.1693),
        (0.9995, 20, 3.8495),
        (0.975, 120, 1.9799),
        (0.975, 1, 12.7062),
        (0.995, 2, 9.9248),
        (0.9995, 3, 12.924),
        (0.9995, 6, 5.9588),
        (0.99995, 4, 15.544),
        (0.99995, 10, 6.2111),
    ],
)
def test_t_quantile_matches_the_tables(p: float, degrees: int, table: float) -> None:
    assert t_quantile(p, degrees) == pytest.approx(table, rel=1e-4)


values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(
    constant=values,
    length=st.integers(min_value=0, max_value=60),
    seasonality=st.sampled_from(["auto", "none", "day_of_week"]),
)
def test_a_constant_series_flags_nothing(constant: float, length: int, seasonality: str) -> None:
    history: list[HistoryPoint] = []
    options = parse_options({"seasonality": seasonality})
    for day in range(length):
        now = START + timedelta(days=day)
        band = detect(constant, history, options, now=now)
        assert not band.flagged
        history.append(HistoryPoint(executed_at=now, value=constant, flagged=band.flagged))


@given(
    history=st.lists(values, min_size=7, max_size=40),
    value=values,
    intruder=values,
)
def test_the_judged_point_never_trains_its_band(
    history: list[float], value: float, intruder: float
) -> None:
    now = START + timedelta(days=len(history))
    options = AnomalyOptions()
    clean = detect(value, series(history), options, now=now)
    # the point being judged, already stored (or a later one): neither may move the band
    stored = [
        *series(history),
        HistoryPoint(executed_at=now, value=intruder),
        HistoryPoint(executed_at=now + timedelta(days=1), value=intruder),
    ]
    assert detect(value, stored, options, now=now) == clean


@given(
    history=st.lists(st.floats(min_value=90, max_value=110), min_size=14, max_size=40),
    outliers=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=5),
    value=st.floats(min_value=0, max_value=200),
)
def test_flagged_points_do_not_train(
    history: list[float], outliers: list[float], value: float
) -> None:
    # the outliers come one every other day: never a run long enough to be a new level
    mixed: list[HistoryPoint] = []
    day = 0
    for index, normal in enumerate(history):
        mixed.append(HistoryPoint(executed_at=START + timedelta(days=day), value=normal))
        day += 1
        if index % 2 == 0 and index // 2 < len(outliers):
            point = HistoryPoint(
                executed_at=START + timedelta(days=day), value=outliers[index // 2], flagged=True
            )
            mixed.append(point)
            day += 1
    options = AnomalyOptions(seasonality="none", window=100)
    now = START + timedelta(days=day)
    plain = [HistoryPoint(executed_at=p.executed_at, value=p.value) for p in mixed if not p.flagged]
    with_flags, without = (
        detect(value, mixed, options, now=now),
        detect(value, plain, options, now=now),
    )
    assert (with_flags.expected, with_flags.lower, with_flags.upper) == (
        without.expected,
        without.lower,
        without.upper,
    )


@settings(max_examples=200)
@given(
    history=st.lists(st.floats(min_value=-1e4, max_value=1e4), min_size=7, max_size=60),
    up=st.booleans(),
)
def test_a_huge_spike_after_enough_history_is_flagged(history: list[float], up: bool) -> None:
    span = max(history) - min(history) + 1
    spike = max(history) + 1e4 * span if up else min(history) - 1e4 * span
    band = judge_next(history, spike, seasonality="none")
    assert band.flagged
    assert band.points == min(len(history), AnomalyOptions().window)


def test_below_min_history_nothing_is_judged() -> None:
    band = judge_next([10, 11, 10, 12], 10_000, min_history=5)
    assert not band.flagged
    assert band.details()["reason"] == "learning: 4 of 5 points"
    assert band.expected is None
    assert judge_next([10, 11, 10, 12, 11], 10_000, min_history=5).flagged


def test_naive_times_are_read_as_utc() -> None:
    values = [100.0, 102, 98, 101, 99, 100, 103, 97]
    naive = [
        HistoryPoint(executed_at=(START + timedelta(days=i)).replace(tzinfo=None), value=v)
        for i, v in enumerate(values)
    ]
    now = START + timedelta(days=len(values))
    options = AnomalyOptions(seasonality="none")
    assert detect(1000, naive, options, now=now) == detect(1000, series(values), options, now=now)
    assert detect(1000, naive, options, now=now.replace(tzinfo=None)).flagged


def test_details_carry_the_band() -> None:
    details = judge_next([100, 102, 98, 101, 99, 100, 103], 100).details()
    assert details["flagged"] is False
    assert details["expected"] == 100
    assert details["lower"] < 98 and details["upper"] > 103
    assert details["points"] == 7
    assert details["method"] == "robust"
    assert details["compared_with"] == "all days"


def test_direction_watches_one_side() -> None:
    history = [100.0, 102, 98, 101, 99, 100, 103, 97, 100, 101]
    assert judge_next(history, 10, direction="down").flagged
    assert not judge_next(history, 10, direction="up").flagged
    assert judge_next(history, 1000, direction="up").flagged
    assert not judge_next(history, 1000, direction="down").flagged


def test_min_change_percent_lets_small_changes_through() -> None:
    # a very quiet series: 1,000,000 rows give or take 2
    history = [1_000_000.0 + (i % 5) - 2 for i in range(20)]
    assert judge_next(history, 1_000_500).flagged
    assert not judge_next(history, 1_000_500, min_change_percent=1).flagged
    assert judge_next(history, 1_020_000, min_change_percent=1).flagged


def weekly(weeks: int) -> list[float]:
    """Weekdays near 1000, weekends near 400 (a small wobble so the spread is not 0)."""
    return [(400.0 if day % 7 in (5, 6) else 1000.0) + (day * 7 % 5) for day in range(weeks * 7)]


@pytest.mark.parametrize("seasonality", ["auto", "day_of_week"])
def test_weekends_compare_with_weekends(seasonality: str) -> None:
    history = weekly(8)  # ends on a Sunday: the next day is a Monday
    saturday = history[:-2]
    band = judge_next(saturday, 402, seasonality=seasonality)
    assert not band.flagged and band.compared_with == "same weekday"
    # a holiday: a Monday at weekend level
    assert judge_next(history, 402, seasonality=seasonality).flagged
    assert not judge_next(history, 1001, seasonality=seasonality).flagged


def test_without_seasonality_a_weekend_is_an_anomaly() -> None:
    assert judge_next(weekly(8)[:-2], 402, seasonality="none").flagged


def test_the_weekday_follows_the_check_time_zone() -> None:
    # history at noon UTC (early morning in Los Angeles, the same date); the new point at
    # 03:00 UTC on a Saturday, which is still Friday evening in Los Angeles
    history = [
        HistoryPoint(executed_at=START + timedelta(days=i, hours=6), value=v)
        for i, v in enumerate(weekly(8)[:-2])
    ]
    now = START + timedelta(days=len(history), hours=-3)
    options = parse_options({"seasonality": "day_of_week"})
    assert not detect(402, history, options, now=now).flagged
    assert detect(402, history, options, now=now, timezone="America/Los_Angeles").flagged


def test_a_level_shift_becomes_the_new_normal() -> None:
    history = [100.0 + (i % 3) for i in range(30)]
    flags: list[bool] = []
    points = series(history)
    for day in range(30, 45):
        now = START + timedelta(days=day)
        band = detect(200 + (day % 3), points, AnomalyOptions(), now=now)
        flags.append(band.flagged)
        points.append(HistoryPoint(executed_at=now, value=200 + day % 3, flagged=band.flagged))
    # the shift is news for relearn_after (3) points, then learnt; never flagged again
    assert flags[:3] == [True, True, True]
    assert not any(flags[3:])


def test_small_benchmark_spine_beats_the_zscore() -> None:
    results = evaluate(seed=3, seeds=1, length=140)
    spine = results.overall["spine (defaults)"]
    zscore = results.overall["z-score (14 points, |z| > 3)"]
    assert spine.tp + spine.fn > 0
    assert spine.f1 > zscore.f1
