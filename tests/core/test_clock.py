"""The injectable clock: real time, or frozen time that tests move forward."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from spine.core.clock import Clock, FrozenClock, SystemClock, ensure_utc

START = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


def test_system_clock_returns_aware_utc_now() -> None:
    clock: Clock = SystemClock()

    before = datetime.now(UTC)
    now = clock.now()
    after = datetime.now(UTC)

    assert now.tzinfo is UTC
    assert before <= now <= after


def test_system_clock_monotonic_never_goes_back() -> None:
    clock = SystemClock()
    readings = [clock.monotonic() for _ in range(1000)]

    assert readings == sorted(readings)


def test_frozen_clock_stands_still_until_advanced() -> None:
    clock: Clock = FrozenClock(START)

    assert clock.now() == clock.now() == START
    assert clock.monotonic() == 0.0


def test_frozen_clock_advances_by_seconds_or_timedelta() -> None:
    clock = FrozenClock(START)

    assert clock.advance(90) == START + timedelta(seconds=90)
    assert clock.advance(timedelta(hours=1)) == START + timedelta(hours=1, seconds=90)
    assert clock.now() == START + timedelta(hours=1, seconds=90)
    assert clock.monotonic() == 3690.0


def test_frozen_clock_sleep_advances_instead_of_waiting() -> None:
    clock = FrozenClock(START)

    clock.sleep(3600 * 24 * 7)

    assert clock.now() == START + timedelta(weeks=1)


def test_frozen_clock_refuses_to_go_backwards() -> None:
    clock = FrozenClock(START)

    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(microseconds=-1))
    with pytest.raises(ValueError, match="backwards"):
        clock.set(START - timedelta(seconds=1))

    assert clock.now() == START


def test_frozen_clock_set_jumps_forward() -> None:
    clock = FrozenClock(START)

    clock.set(START + timedelta(days=2))
    clock.set(START + timedelta(days=2))  # standing still is allowed

    assert clock.now() == START + timedelta(days=2)


def test_frozen_clock_takes_naive_times_as_utc() -> None:
    clock = FrozenClock(datetime(2025, 3, 9, 7, 30))

    assert clock.now() == datetime(2025, 3, 9, 7, 30, tzinfo=UTC)
    assert clock.now().tzinfo is UTC

    clock.set(datetime(2025, 3, 9, 8, 0))
    assert clock.now() == datetime(2025, 3, 9, 8, 0, tzinfo=UTC)


def test_frozen_clock_converts_other_zones_to_utc() -> None:
    new_york_morning = datetime(2025, 3, 9, 3, 30, tzinfo=timezone(timedelta(hours=-4)))

    clock = FrozenClock(new_york_morning)

    assert clock.now() == new_york_morning
    assert clock.now().tzinfo is UTC
    assert clock.now().hour == 7


def test_frozen_clock_default_start_is_aware_utc() -> None:
    assert FrozenClock().now().tzinfo is UTC


def test_frozen_clock_advances_exactly_when_shared_between_threads() -> None:
    clock = FrozenClock(START)

    def tick() -> None:
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert clock.now() == START + timedelta(seconds=8000)


def test_ensure_utc_keeps_the_instant() -> None:
    tokyo = datetime(2025, 1, 10, 21, 0, tzinfo=timezone(timedelta(hours=9)))

    assert ensure_utc(tokyo) == tokyo
    assert ensure_utc(tokyo).tzinfo is UTC
    assert ensure_utc(datetime(2025, 1, 10, 12, 0)) == START
