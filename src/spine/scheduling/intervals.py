"""What a fire is for: its logical time, the data interval it covers, its run's key.

Airflow's semantics: a fire at the end of an interval covers the interval that just
ended.

- cron: ``[the previous cron time, this fire)``;
- interval (``--every``): ``[fire - every, fire)``;
- one-off (``--at``): ``start == end == fire``.

A run made for a schedule's logical time gets the idempotency key :func:`fire_key`
(``schedule:<name>@<logical time, ISO UTC>``), whether the scheduler, ``spine schedules
trigger --at`` or ``spine backfill --schedule`` makes it, so none of them makes a second
run for a logical time another already made.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from spine.core.clock import ensure_utc
from spine.core.errors import InvalidInput
from spine.orchestration.data_interval import DataInterval
from spine.scheduling.cron import CronExpression, DstPolicy
from spine.scheduling.models import Schedule, ScheduleType
from spine.scheduling.triggers import CronTrigger, Trigger

#: The longest look back for a cron's previous time (``0 0 29 2 1`` can wait 40 years).
_LOOK_BACK_LIMIT = timedelta(days=366 * 400)
_MAX_KEY_LENGTH = 255
_SPAN = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def previous_fire(trigger: Trigger, before: datetime) -> datetime | None:
    """The trigger's latest fire time strictly before ``before`` (aware UTC), or ``None``.

    Searched forward from ever earlier starts (two minutes, then 8 times longer each time),
    so that a frequent cron looks at few times and a rare one is still found.
    """
    before = ensure_utc(before)
    window = timedelta(minutes=2)
    while window <= _LOOK_BACK_LIMIT:
        latest: datetime | None = None
        try:
            start = before - window
        except OverflowError:
            return None
        for when in trigger.times_after(start):
            if when >= before:
                break
            latest = when
        if latest is not None:
            return latest
        window *= 8
    return None


def data_interval(schedule: Schedule, logical_time: datetime) -> DataInterval:
    """The data interval a fire of ``schedule`` at ``logical_time`` covers.

    A cron fire with no earlier cron time (none in 400 years) covers ``[t, t]``.
    """
    logical_time = ensure_utc(logical_time)
    if schedule.schedule_type is ScheduleType.INTERVAL and schedule.interval_seconds:
        start = logical_time - timedelta(seconds=schedule.interval_seconds)
    elif schedule.schedule_type is ScheduleType.CRON and schedule.cron_expression:
        start = (
            _previous_cron_time(
                schedule.cron_expression, schedule.timezone, schedule.dst_policy, logical_time
            )
            or logical_time
        )
    else:
        start = logical_time
    return DataInterval(logical_time, start, logical_time)


@functools.lru_cache(maxsize=1024)
def _previous_cron_time(
    expression: str, timezone: str, dst_policy: str | None, before: datetime
) -> datetime | None:
    """:func:`previous_fire` of a cron expression, remembered.

    A tick may fire many schedules of one expression and zone at one instant.
    """
    trigger = CronTrigger(CronExpression.parse(expression), timezone, DstPolicy.parse(dst_policy))
    return previous_fire(trigger, before)


def every_interval(seconds: int, logical_time: datetime) -> DataInterval:
    """The interval of a ``--every`` backfill's logical time: ``[t - every, t)``."""
    logical_time = ensure_utc(logical_time)
    return DataInterval(logical_time, logical_time - timedelta(seconds=seconds), logical_time)


def fire_key(schedule_name: str, logical_time: datetime) -> str:
    """The idempotency key of the run of ``schedule_name`` for ``logical_time``.

    A name too long for the key's 255 characters is replaced by its SHA-256.
    """
    when = ensure_utc(logical_time).isoformat()
    key = f"schedule:{schedule_name}@{when}"
    if len(key) > _MAX_KEY_LENGTH:
        digest = hashlib.sha256(schedule_name.encode()).hexdigest()
        key = f"schedule:sha256:{digest}@{when}"
    return key


def every_key(seconds: int, params_digest: str, logical_time: datetime) -> str:
    """The idempotency key of a ``--every`` backfill's run (interval and params)."""
    return f"every:{seconds}s:{params_digest}@{ensure_utc(logical_time).isoformat()}"


def parse_every(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``6h``, ``1d``, ``1w`` as seconds.

    Raises:
        InvalidInput: If it is not such a span, or is zero.
    """
    match = _SPAN.match(text)
    if match is None or int(match.group(1)) < 1:
        raise InvalidInput(
            f"--every {text!r} is not a span such as 1d, 7d, 6h, 15m or 90 (seconds)"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def times_between(trigger: Trigger, start: datetime, end: datetime) -> Iterator[datetime]:
    """The trigger's fire times in ``[start, end]``, ascending, aware UTC."""
    start, end = ensure_utc(start), ensure_utc(end)
    for when in trigger.times_after(start - timedelta(microseconds=1)):
        if when > end:
            return
        yield when


def every_between(seconds: int, start: datetime, end: datetime) -> Iterator[datetime]:
    """``start``, ``start + every``, ... up to ``end`` (inclusive), aware UTC."""
    step = timedelta(seconds=seconds)
    when, end = ensure_utc(start), ensure_utc(end)
    while when <= end:
        yield when.astimezone(UTC)
        when += step
