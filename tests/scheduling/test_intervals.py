"""Data intervals of fires (pure): cron, interval and one-off schedules, keys, spans."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spine.core.errors import InvalidInput
from spine.orchestration.data_interval import DataInterval, interval_of
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.workflow import Step, Workflow
from spine.scheduling import Schedule, new_schedule
from spine.scheduling.cron import CronExpression, DstPolicy
from spine.scheduling.data_runs import every_backfill, for_schedule, schedule_backfill
from spine.scheduling.intervals import fire_key, parse_every, previous_fire
from spine.scheduling.triggers import CronTrigger
from tests.scheduling.test_cron import ZONES, cron_fields

NOW = datetime(2025, 1, 1, tzinfo=UTC)
REGISTRY = WorkflowRegistry()
Workflow("w", [Step.lambda_("a", lambda ctx: None)], registry=REGISTRY)


def schedule(**options: Any) -> Schedule:
    return new_schedule("s", workflow="w", now=NOW, registry=REGISTRY, **options)


def test_a_cron_fire_covers_the_interval_since_the_previous_cron_time() -> None:
    weekly = schedule(
        cron="0 6 * * SAT",
        timezone="America/New_York",
        params={"week_ending": "{{ data_interval_end | previous_friday }}"},
    )
    planned = for_schedule(weekly, datetime(2025, 1, 11, 11, tzinfo=UTC))
    assert planned.interval == DataInterval(
        datetime(2025, 1, 11, 11, tzinfo=UTC),
        datetime(2025, 1, 4, 11, tzinfo=UTC),
        datetime(2025, 1, 11, 11, tzinfo=UTC),
    )
    assert planned.params == {"week_ending": "2025-01-10"}
    assert planned.key == "schedule:s@2025-01-11T11:00:00+00:00"


def test_an_interval_fire_covers_every_seconds_before_it_and_a_one_off_an_instant() -> None:
    at = datetime(2025, 1, 2, 3, tzinfo=UTC)
    every = for_schedule(schedule(every=3600), at)
    assert (every.interval.start, every.interval.end) == (at - timedelta(hours=1), at)
    once = for_schedule(schedule(at=datetime(2025, 2, 1, tzinfo=UTC)), at)
    assert once.interval == DataInterval(at, at, at)


def test_a_cron_interval_across_a_dst_change_is_the_real_elapsed_time() -> None:
    daily = schedule(cron="0 6 * * *", timezone="America/New_York")
    spring = for_schedule(daily, datetime(2025, 3, 9, 10, tzinfo=UTC))
    assert spring.interval.end - spring.interval.start == timedelta(hours=23)


def test_a_backfill_takes_the_fire_times_in_the_range_inclusive() -> None:
    daily = schedule(cron="0 0 * * *")
    plans = schedule_backfill(
        daily, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 3, tzinfo=UTC)
    )
    assert [p.interval.logical_time.day for p in plans] == [1, 2, 3]
    with pytest.raises(InvalidInput, match="more than 2 logical times"):
        schedule_backfill(
            daily, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 3, tzinfo=UTC), max_runs=2
        )
    with pytest.raises(InvalidInput, match="is before --from"):
        schedule_backfill(daily, datetime(2025, 1, 3, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))


def test_an_every_backfill_tiles_the_range_and_keys_by_params() -> None:
    start, end = datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 4, 12, tzinfo=UTC)
    a = every_backfill(86400, {"day": "{{ data_interval_start | date }}"}, "UTC", start, end)
    assert [p.params["day"] for p in a] == ["2025-01-01", "2025-01-02", "2025-01-03"]
    b = every_backfill(86400, {"day": "{{ logical_time | date }}"}, "UTC", start, end)
    assert [p.interval for p in a] == [p.interval for p in b]
    assert not {p.key for p in a} & {p.key for p in b}


SPANS = [("90", 90), ("15m", 900), ("6h", 21600), ("1d", 86400), ("7d", 604800), ("2w", 1209600)]


@pytest.mark.parametrize(("text", "seconds"), SPANS)
def test_spans(text: str, seconds: int) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["0d", "1y", "d", "-1d", "1.5h"])
def test_bad_spans_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not a span such as 1d"):
        parse_every(text)


def test_a_long_schedule_name_still_gives_a_key_that_fits() -> None:
    key = fire_key("n" * 250, NOW)
    assert len(key) <= 255 and key.endswith("@2025-01-01T00:00:00+00:00")


def test_a_partition_key_that_is_not_an_interval_holds_none() -> None:
    interval = DataInterval(NOW, NOW - timedelta(days=1), NOW)
    assert interval_of(interval.partition_key()) == interval
    for other in (None, "", "week-1", '{"week_ending": "2025-01-10"}', "{bad json", "[1]"):
        assert interval_of(other) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expr=cron_fields(),
    tz_name=st.sampled_from(ZONES),
    start=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31)),
    policy=st.sampled_from([None, "gap=end", "fold=both"]),
)
def test_the_previous_fire_of_each_fire_is_the_one_before_it(
    expr: str, tz_name: str, start: datetime, policy: str | None
) -> None:
    trigger = CronTrigger(CronExpression.parse(expr), tz_name, DstPolicy.parse(policy))
    fires = []
    for when in trigger.times_after(start.replace(tzinfo=UTC)):
        fires.append(when)
        if len(fires) == 4:
            break
    for earlier, later in itertools.pairwise(fires):
        assert previous_fire(trigger, later) == earlier
