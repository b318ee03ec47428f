"""Cron expressions with Vixie cron's semantics, and their fire times across DST.

Five fields (minute, hour, day of month, month, day of week) with lists, ranges,
steps, month and weekday names (0 and 7 are Sunday), and the ``@hourly`` ... ``@yearly``
macros. Day of month and day of week are ORed when both are restricted and ANDed when
either field starts with ``*`` (Vixie's rule, Debian's ``crontab(5)``).

Fire times are computed on the local wall clock of an IANA zone and returned as aware
datetimes in that zone. Around DST transitions (docs/scheduling.md):

- a *fixed-time* job (neither the minute nor the hour field starts with ``*``) whose
  local time falls in a gap runs once at the first instant after the gap; in a repeated
  hour it runs once, at the first occurrence;
- a *wildcard* job follows the wall clock: nothing in a gap, both occurrences of a
  repeated hour.

A :class:`DstPolicy` overrides either rule per schedule. Times are strictly increasing;
anything else raises :class:`FireOrderError` rather than being run.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from spine.core.errors import InvalidInput, SpineError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
WEEKDAYS = {name: n for n, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    # name, low, high, names
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, WEEKDAYS),
)
_MAX_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
#: How far back from ``after`` candidates are examined, so that the second occurrence of
#: a repeated hour whose first occurrence precedes ``after`` is not missed. Larger than
#: any DST or zone shift in the tz database since 1970 (double summer time was 2 h).
_FOLD_MARGIN = timedelta(hours=3)
#: Searching stops here: a satisfiable expression always fires within one 400-year
#: Gregorian cycle (in practice within 28 years; Feb 29 on a given weekday can take 40).
HORIZON_YEARS = 400
#: The longest expression accepted, in characters: the width of
#: ``core_schedules.cron_expression``. Longer text is refused before it is parsed.
MAX_LENGTH = 200
_TOKEN = re.compile(r"^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?$")


class CronError(InvalidInput):
    """A cron expression that cannot be parsed or can never fire."""


class FireOrderError(SpineError):
    """A computed fire time is not after the previous one: a bug to refuse, not to run."""

    def __init__(self, previous: datetime, computed: datetime) -> None:
        super().__init__(
            f"refusing fire time {computed.isoformat()}: not after the previous one "
            f"({previous.isoformat()})"
        )


class GapRule(StrEnum):
    """What a matching local time inside a DST gap does."""

    END = "end"  # fire once, at the first instant after the gap
    SKIP = "skip"  # do not fire


class FoldRule(StrEnum):
    """What a matching local time inside a repeated (fall-back) hour does."""

    FIRST = "first"  # fire once, at the first occurrence
    BOTH = "both"  # fire at both occurrences


@dataclass(frozen=True, slots=True)
class DstPolicy:
    """A per-schedule override of Vixie's DST rules; ``None`` keeps Vixie's for that side.

    Stored in ``core_schedules.dst_policy`` as ``gap=end,fold=both`` (either part may be
    absent).
    """

    gap: GapRule | None = None
    fold: FoldRule | None = None

    def __str__(self) -> str:
        parts = []
        if self.gap is not None:
            parts.append(f"gap={self.gap.value}")
        if self.fold is not None:
            parts.append(f"fold={self.fold.value}")
        return ",".join(parts)

    @classmethod
    def parse(cls, text: str | None) -> DstPolicy | None:
        """Read the stored form; ``None`` or empty means Vixie's rules.

        Raises:
            InvalidInput: If a part is not ``gap=end|skip`` or ``fold=first|both``.
        """
        if not text or not text.strip():
            return None
        gap: GapRule | None = None
        fold: FoldRule | None = None
        for part in text.split(","):
            key, _, value = part.strip().partition("=")
            try:
                if key == "gap":
                    gap = GapRule(value)
                    continue
                if key == "fold":
                    fold = FoldRule(value)
                    continue
            except ValueError:
                pass
            raise InvalidInput(
                f"bad DST policy {text!r}: expected gap=end|skip and/or fold=first|both"
            )
        return cls(gap=gap, fold=fold)


def zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name``.

    Raises:
        InvalidInput: If there is no such zone.
    """
    return _zone(name.strip())


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"unknown time zone {name!r} (expected an IANA name such as 'Europe/London')"
        ) from None


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed 5-field cron expression.

    Attributes:
        text: The expression as given (a macro stays a macro).
        minutes, hours, days, months, weekdays: The allowed values, sorted (Sunday is 0).
        day_or: Whether day of month and day of week are ORed (both restricted).
        fixed_time: Whether neither the minute nor the hour field starts with ``*``.
    """

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_or: bool
    fixed_time: bool

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        """Parse ``text``.

        Raises:
            CronError: If it is longer than :data:`MAX_LENGTH` characters, malformed,
                out of range, or can never fire (``0 0 30 2 *``).
        """
        if len(text) > MAX_LENGTH:
            # Not quoted back: the text may be any size.
            raise CronError(
                f"cron expression is {len(text)} characters long; the most is {MAX_LENGTH}"
            )
        return _parse(text.strip())

    def matches_day(self, day: date) -> bool:
        """Whether cron would run on ``day`` (month, then Vixie's day rule)."""
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        return (in_days or in_weekdays) if self.day_or else (in_days and in_weekdays)

    def matches(self, local: datetime) -> bool:
        """Whether the wall-clock minute of ``local`` (seconds ignored) matches."""
        return (
            local.minute in self.minutes
            and local.hour in self.hours
            and self.matches_day(local.date())
        )

    def local_times(self, start: datetime) -> Iterator[datetime]:
        """Naive wall-clock times that match, ascending, from ``start`` (inclusive).

        Raises:
            CronError: If nothing matches within :data:`HORIZON_YEARS`.
        """
        start = start.replace(second=0, microsecond=0, tzinfo=None) + (
            timedelta(minutes=1) if (start.second or start.microsecond) else timedelta(0)
        )
        day = start.date()
        last = date(min(day.year + HORIZON_YEARS, 9999), 12, 31)
        while day < last:
            if day.month not in self.months:
                # Jump to the first of the next month.
                day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
                continue
            if self.matches_day(day):
                for hour in self.hours:
                    if day == start.date() and hour < start.hour:
                        continue
                    for minute in self.minutes:
                        candidate = datetime(day.year, day.month, day.day, hour, minute)
                        if candidate >= start:
                            yield candidate
            day += timedelta(days=1)
        raise CronError(f"cron {self.text!r} does not fire within {HORIZON_YEARS} years")


@lru_cache(maxsize=4096)
def _parse(text: str) -> CronExpression:
    # Cached: a scheduler re-reads the same few expressions for every fire.
    expanded = MACROS.get(text.lower(), text)
    if expanded.startswith("@"):
        raise CronError(f"unknown cron macro {text!r} (known: {', '.join(MACROS)})")
    fields = expanded.split()
    if len(fields) != 5:
        raise CronError(
            f"cron {text!r} has {len(fields)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week) or a macro such as @daily"
        )
    values = [_parse_field(f, spec, text) for f, spec in zip(fields, _FIELDS, strict=True)]
    weekdays = frozenset(v % 7 for v in values[4])
    day_star = fields[2].startswith("*")
    weekday_star = fields[4].startswith("*")
    expression = CronExpression(
        text=text,
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        months=frozenset(values[3]),
        weekdays=weekdays,
        day_or=not (day_star or weekday_star),
        fixed_time=not (fields[0].startswith("*") or fields[1].startswith("*")),
    )
    # With ANDed day fields, some allowed day of month must exist in some allowed month
    # (Feb 29 counts); every such date falls on every weekday within a 400-year cycle.
    # With ORed fields the weekday alone always fires. So this check is exact.
    if not expression.day_or and not any(
        d <= _MAX_DAYS[m] for m in expression.months for d in expression.days
    ):
        raise CronError(f"cron {text!r} can never fire: no month has such a day")
    return expression


def _parse_field(raw: str, spec: tuple[str, int, int, dict[str, int]], text: str) -> set[int]:
    name, low, high, names = spec
    result: set[int] = set()
    for part in raw.lower().split(","):
        match = _TOKEN.match(part)
        if not match:
            raise CronError(f"cron {text!r}: bad {name} field {raw!r}")
        span, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise CronError(f"cron {text!r}: step 0 in {name} field {raw!r}")
        if span == "*":
            first, last = low, high
        else:
            bounds = [_value(v, name, low, high, names, text) for v in span.split("-")]
            first = bounds[0]
            last = bounds[-1] if len(bounds) == 2 else (high if step_text else first)
            if first > last:
                raise CronError(f"cron {text!r}: range {span!r} of {name} runs backwards")
        result.update(range(first, last + 1, step))
    return result


def _value(token: str, name: str, low: int, high: int, names: dict[str, int], text: str) -> int:
    if token in names:
        return names[token]
    if not token.isdigit():
        raise CronError(f"cron {text!r}: {token!r} is not a valid {name}")
    value = int(token)
    if not low <= value <= high:
        raise CronError(f"cron {text!r}: {name} {value} is outside {low}-{high}")
    return value


# ------------------------------------------------------------------ fire times


def _gap_end(naive: datetime, tz: ZoneInfo) -> datetime:
    """The first instant after the DST gap that swallows ``naive`` (aware, UTC)."""
    # Read with either offset, the gap time gives one instant before the change and one
    # after it; the change lies between. Binary search it in whole seconds.
    one = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    two = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(one, two), max(one, two)
    offset_after = high.astimezone(tz).utcoffset()
    lo_s, hi_s = 0, int((high - low).total_seconds())
    while lo_s < hi_s:
        mid = (lo_s + hi_s) // 2
        if (low + timedelta(seconds=mid)).astimezone(tz).utcoffset() == offset_after:
            hi_s = mid
        else:
            lo_s = mid + 1
    return low + timedelta(seconds=lo_s)


def _instants(
    naive: datetime, tz: ZoneInfo, gap: GapRule, fold: FoldRule
) -> tuple[datetime, list[datetime]]:
    """When wall-clock time ``naive`` fires: its earliest instant, and the fire instants.

    The earliest instant (the gap's end for a gap time) never decreases from one
    wall-clock time to the next, which is what lets :func:`iter_fire_times` emit in order.
    """
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    first_utc = first.astimezone(UTC)
    if first.utcoffset() == second.utcoffset():
        return first_utc, [first_utc]
    if first_utc.astimezone(tz).replace(tzinfo=None) != naive:
        # Not a real wall-clock time: it lies in a gap.
        end = _gap_end(naive, tz)
        return end, ([end] if gap is GapRule.END else [])
    if fold is FoldRule.BOTH:
        return first_utc, [first_utc, second.astimezone(UTC)]
    return first_utc, [first_utc]


def iter_fire_times(
    expression: CronExpression,
    tz: ZoneInfo,
    after: datetime,
    policy: DstPolicy | None = None,
) -> Iterator[datetime]:
    """Fire times strictly after ``after``, ascending, as aware datetimes in ``tz``.

    Raises:
        FireOrderError: If a computed time is not after the one before it.
        CronError: If nothing matches within the search horizon.
    """
    if after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    after_utc = after.astimezone(UTC)
    default_gap, default_fold = (
        (GapRule.END, FoldRule.FIRST) if expression.fixed_time else (GapRule.SKIP, FoldRule.BOTH)
    )
    gap = policy.gap if policy and policy.gap else default_gap
    fold = policy.fold if policy and policy.fold else default_fold
    start = after_utc.astimezone(tz).replace(tzinfo=None)
    if (after_utc - _FOLD_MARGIN).astimezone(tz).utcoffset() != (
        after_utc + _FOLD_MARGIN
    ).astimezone(tz).utcoffset():
        # A transition near ``after``: a repeated wall-clock time before ``after``'s may
        # have its second occurrence after it.
        start -= _FOLD_MARGIN
    # Instants wait in a heap until a later wall-clock time's earliest instant passes
    # them: the second occurrence of a repeated hour comes after the first occurrences
    # of the times that follow it.
    pending: list[datetime] = []
    last: datetime | None = None
    for naive in expression.local_times(start):
        floor, instants = _instants(naive, tz, gap, fold)
        while pending and pending[0] < floor:
            instant = heapq.heappop(pending)
            if instant <= after_utc:
                continue
            if last is not None and instant <= last:
                if instant == last:
                    # Two matching wall-clock times on one instant (a gap's end): once.
                    continue
                raise FireOrderError(last, instant)
            last = instant
            yield instant.astimezone(tz)
        for instant in instants:
            heapq.heappush(pending, instant)


def next_fire_times(
    expr: str,
    tz: str,
    after: datetime,
    count: int,
    *,
    dst_policy: DstPolicy | str | None = None,
) -> list[datetime]:
    """The next ``count`` fire times of cron ``expr`` in zone ``tz`` strictly after ``after``.

    Returns aware datetimes in ``tz``, ascending: the times ``spine schedules preview``
    prints. A naive ``after`` is taken as UTC.

    Raises:
        CronError: If ``expr`` is invalid or can never fire.
        InvalidInput: If ``tz`` is unknown or ``count`` is below 1.
        FireOrderError: If a computed time is not after the previous one.
    """
    if count < 1:
        raise InvalidInput(f"count must be at least 1, not {count}")
    policy = DstPolicy.parse(dst_policy) if isinstance(dst_policy, str) else dst_policy
    times: list[datetime] = []
    for instant in iter_fire_times(CronExpression.parse(expr), zone(tz), after, policy):
        times.append(instant)
        if len(times) == count:
            break
    return times
