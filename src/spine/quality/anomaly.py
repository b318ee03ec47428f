"""Anomaly detection on a check's own series of sensor values, with robust statistics.

The detector answers one question: is this new value unusual next to the check's recent
values? It works as DQOps does, on the median and a robust spread, not on the mean and
the standard deviation, so that the outliers it is looking for do not widen the band that
should catch them:

1. **Training points.** The check's earlier values, oldest first, before the point being
   judged (never the point itself), minus those already flagged as anomalies, the last
   ``window`` of them. Weekdays are taken in the check's schedule time zone (UTC
   without one):

   - ``seasonality: auto`` (the default): a weekday whose median over the last
     ``window`` points is further from the median of all days than the band's
     half-width (spread taken within weekdays) has a level of its own (a weekend). It
     is compared with the same weekday only, and its points leave the training of the
     other days. Its points flagged while it was still compared with
     all days are judged again against its own band: inside it, they train.
   - ``day_of_week``: every value is compared with the same weekday only.
   - ``none``: every value is compared with all days.
2. **A sustained change becomes the new normal.** A run of ``relearn_after``
   consecutive flagged points is a level shift, not a series of accidents: training
   starts again at the first of them, which then count as normal. Without this, excluding
   flagged points would flag every value after a shift forever. With seasonality a
   weekday's own runs count too (a weekday whose band locked too narrow relearns).
3. **Below ``min_history`` training points** there is no judgement: the details say the
   detector is still learning, and the value passes.
4. **The band** is ``median ± t * spread * sqrt(1 + 1/n)``: the spread is the median
   absolute deviation scaled by 1.4826 (it estimates the standard deviation of normal
   noise; when more than half the points are equal it falls back to the mean absolute
   deviation scaled by 1.2533), ``t`` the two-sided Student t quantile at the chosen
   confidence with ``n - 1`` degrees of freedom (few points, wider band) and
   ``sqrt(1 + 1/n)`` makes it a prediction interval for one new value.
5. **Flagged** is a value outside the band in the watched ``direction`` whose distance
   from the median is at least ``min_change_percent`` of the median (a change too small
   to matter is let through however quiet the series is).

The t quantile comes from :mod:`spine.quality.student_t` (no numpy or scipy).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from spine.core.errors import InvalidInput
from spine.quality.student_t import t_quantile

#: How wide the band is, by name: the two-sided confidence of the prediction interval.
SENSITIVITY = {"low": 0.99999, "medium": 0.9999, "high": 0.999}
METHODS = ("robust",)
SEASONALITIES = ("auto", "none", "day_of_week")
DIRECTIONS = ("both", "up", "down")
OPTION_KEYS = frozenset(
    {
        "method",
        "sensitivity",
        "confidence",
        "min_history",
        "window",
        "seasonality",
        "min_change_percent",
        "direction",
        "severity",
        "relearn_after",
    }
)
# The median absolute deviation of normal noise is 0.6745 of its standard deviation; the
# mean absolute deviation is 0.7979 of it.
_MAD_SCALE = 1.4826
_MEAN_AD_SCALE = 1.2533
# Same-weekday points "auto" needs before it can tell that a weekday has its own level.
_AUTO_MIN_WEEKDAYS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryPoint:
    """One earlier sensor value of a check.

    ``flagged`` says that this value was judged anomalous when it was measured: such
    points do not train the band (unless a run of them became the new normal). A naive
    ``executed_at`` is read as UTC.
    """

    executed_at: datetime
    value: Decimal | float
    flagged: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AnomalyOptions:
    """The ``anomaly`` options of a check, defaults filled in (docs/quality.md lists them)."""

    method: str = "robust"
    confidence: float = SENSITIVITY["medium"]
    min_history: int = 7
    window: int = 28
    seasonality: str = "auto"
    min_change_percent: float = 0.0
    direction: str = "both"
    severity: str | None = None
    relearn_after: int = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Band:
    """The detector's answer for one value.

    ``expected``, ``lower`` and ``upper`` are ``None`` while learning (fewer than
    ``min_history`` training points); ``reason`` then says so.
    """

    flagged: bool
    points: int
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    options: AnomalyOptions
    compared_with: str = "all days"
    reason: str | None = None

    def details(self) -> dict[str, Any]:
        """The band as ``check_results.details["anomaly"]`` keeps it (JSON values)."""
        details: dict[str, Any] = {
            "flagged": self.flagged,
            "expected": self.expected,
            "lower": self.lower,
            "upper": self.upper,
            "points": self.points,
            "method": self.options.method,
            "confidence": self.options.confidence,
            "seasonality": self.options.seasonality,
            "direction": self.options.direction,
            "compared_with": self.compared_with,
        }
        if self.reason is not None:
            details["reason"] = self.reason
        return details


def _number(options: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"config.anomaly.{key}: expected a number, got {value!r}")
    if not low <= value <= high:
        raise InvalidInput(f"config.anomaly.{key}: {value!r} is not within {low:g}..{high:g}")
    return float(value)


def _integer(options: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"config.anomaly.{key}: expected a whole number, got {value!r}")
    if not low <= value <= high:
        raise InvalidInput(f"config.anomaly.{key}: {value!r} is not within {low}..{high}")
    return value


def _choice(options: Mapping[str, Any], key: str, allowed: Sequence[str]) -> str:
    value = options[key]
    if value not in allowed:
        raise InvalidInput(f"config.anomaly.{key}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def parse_options(raw: Any) -> AnomalyOptions:
    """The options of ``config["anomaly"]``: an object, or ``true`` for the defaults.

    Raises:
        InvalidInput: One line naming the first bad option: an unknown key, a value out
            of range, ``sensitivity`` and ``confidence`` both given, ``window`` smaller
            than ``min_history``.
    """
    if raw is True:
        return AnomalyOptions()
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"config.anomaly: expected an object of options, got {raw!r}")
    unknown = sorted(str(key) for key in raw if key not in OPTION_KEYS)
    if unknown:
        raise InvalidInput(
            f"config.anomaly: unknown option {unknown[0]!r} (expected one of "
            f"{', '.join(sorted(OPTION_KEYS))})"
        )
    values: dict[str, Any] = {}
    if "sensitivity" in raw and "confidence" in raw:
        raise InvalidInput("config.anomaly: give sensitivity or confidence, not both")
    if "sensitivity" in raw:
        values["confidence"] = SENSITIVITY[_choice(raw, "sensitivity", tuple(SENSITIVITY))]
    if "confidence" in raw:
        values["confidence"] = _number(raw, "confidence", 0.5, 0.999999)
    if "method" in raw:
        values["method"] = _choice(raw, "method", METHODS)
    if "min_history" in raw:
        values["min_history"] = _integer(raw, "min_history", 3, 10_000)
    if "window" in raw:
        values["window"] = _integer(raw, "window", 3, 10_000)
    if "seasonality" in raw:
        seasonality = "none" if raw["seasonality"] is None else raw["seasonality"]
        values["seasonality"] = _choice({"seasonality": seasonality}, "seasonality", SEASONALITIES)
    if "min_change_percent" in raw:
        values["min_change_percent"] = _number(raw, "min_change_percent", 0, 1e9)
    if "direction" in raw:
        values["direction"] = _choice(raw, "direction", DIRECTIONS)
    if "severity" in raw:
        values["severity"] = _choice(raw, "severity", ("warning", "error", "fatal"))
    if "relearn_after" in raw:
        values["relearn_after"] = _integer(raw, "relearn_after", 1, 10_000)
    options = AnomalyOptions(**values)
    if options.window < options.min_history:
        raise InvalidInput(
            f"config.anomaly: window {options.window} is smaller than "
            f"min_history {options.min_history}"
        )
    return options


def robust_spread(values: Sequence[float], centre: float) -> float:
    """The scaled median absolute deviation around ``centre``, mean deviation if it is 0."""
    deviations = [abs(value - centre) for value in values]
    mad = statistics.median(deviations)
    if mad > 0:
        return _MAD_SCALE * mad
    return _MEAN_AD_SCALE * statistics.fmean(deviations)


def training(
    history: Sequence[HistoryPoint], options: AnomalyOptions, *, now: datetime
) -> list[tuple[HistoryPoint, bool]]:
    """The points of the current level before ``now``, oldest first, with whether each trains.

    See :func:`since_level`; points at or after ``now`` are never among them.
    """
    earlier = [
        point for point in history if point.executed_at < now and math.isfinite(float(point.value))
    ]
    return since_level(earlier, options)


def since_level(
    points: Sequence[HistoryPoint], options: AnomalyOptions
) -> list[tuple[HistoryPoint, bool]]:
    """The points of the current level, each with whether it trains.

    The latest run of ``relearn_after`` or more flagged points starts a new level: the
    points before it are dropped, its own points train as normal; other flagged points
    never train.
    """
    start, run_end, run = 0, 0, 0
    for index, point in enumerate(points):
        run = run + 1 if point.flagged else 0
        if run >= options.relearn_after:
            if run == options.relearn_after:
                start = index - run + 1
            run_end = index + 1
    return [
        (point, index < run_end or not point.flagged)
        for index, point in enumerate(points[start:], start)
    ]


def band(points: Sequence[float], confidence: float) -> tuple[float, float, float]:
    """The median of ``points`` and the prediction band around it: expected, lower, upper."""
    expected = statistics.median(points)
    spread = robust_spread(points, expected)
    n = len(points)
    half = t_quantile((1 + confidence) / 2, n - 1) * spread * math.sqrt(1 + 1 / n)
    return expected, expected - half, expected + half


class _Weekdays:
    """The training points of one check seen by weekday, in the check's time zone."""

    def __init__(
        self, level: Sequence[tuple[HistoryPoint, bool]], options: AnomalyOptions, zone: ZoneInfo
    ) -> None:
        self.level = level
        self.options = options
        self.zone = zone

    def of(self, point: HistoryPoint) -> int:
        return point.executed_at.astimezone(self.zone).weekday()

    def own(self, weekday: int, *, rejudge: bool) -> list[float]:
        """The training values of ``weekday`` alone.

        A weekday relearns on its own runs of flagged points too (within the level of all
        days), so that a weekday whose band locked too narrow recovers. With ``rejudge``
        (``auto``), its flagged points that lie inside its own band train: they were
        flagged while compared with all days, for being a weekend.
        """
        same = [(point, trains) for point, trains in self.level if self.of(point) == weekday]
        own = since_level([point for point, _ in same], self.options)
        same = same[len(same) - len(own) :]
        pairs = [
            (float(point.value), trains or relearnt)
            for (point, trains), (_, relearnt) in zip(same, own, strict=True)
        ][-self.options.window :]
        if not rejudge or len(pairs) < _AUTO_MIN_WEEKDAYS:
            return [value for value, trains in pairs if trains]
        _, low, high = band([value for value, _ in pairs], self.options.confidence)
        return [value for value, trains in pairs if trains or low <= value <= high]

    def others(self, excluded: set[int]) -> list[float]:
        """The last ``window`` training values of every weekday but ``excluded``."""
        return [
            float(point.value)
            for point, trains in self.level
            if trains and self.of(point) not in excluded
        ][-self.options.window :]

    def with_own_level(self) -> set[int]:
        """``auto``: the weekdays with a level of their own (a weekend's, typically).

        Over the last ``window`` points of every day (flagged or not): the weekdays whose
        median is further from the median of all days than the band's half-width, the
        spread taken within weekdays (around each weekday's median), so that the weekend
        being tested does not widen the band that tests it.
        """
        recent = [point for point, _ in self.level[-self.options.window :]]
        if len(recent) < self.options.min_history:
            return set()
        by_day: dict[int, list[float]] = {}
        for point in recent:
            by_day.setdefault(self.of(point), []).append(float(point.value))
        medians = {day: statistics.median(values) for day, values in by_day.items()}
        within = [value - medians[day] for day, values in by_day.items() for value in values]
        spread = robust_spread(within, 0.0)
        n = len(recent)
        half = t_quantile((1 + self.options.confidence) / 2, n - 1) * spread * math.sqrt(1 + 1 / n)
        centre = statistics.median(float(point.value) for point in recent)
        return {
            day
            for day, values in by_day.items()
            if len(values) >= _AUTO_MIN_WEEKDAYS and abs(medians[day] - centre) > half
        }


def _utc(moment: datetime) -> datetime:
    """``moment``, a naive one read as UTC (what spine stores; SQLite drops the zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def detect(
    value: float,
    history: Sequence[HistoryPoint],
    options: AnomalyOptions,
    *,
    now: datetime,
    timezone: str | None = None,
) -> Band:
    """Judge ``value``, measured at ``now``, against the check's ``history``.

    Args:
        value: The value being judged.
        history: Earlier values, in any order (they are sorted by time); points at or
            after ``now`` are ignored, so the judged point never trains its band. With
            seasonality, pass ``window`` weeks of them.
        options: The check's options (:func:`parse_options`).
        now: When ``value`` was measured.
        timezone: The zone whose weekdays seasonality uses (the check's schedule zone).

    Returns:
        The band and whether ``value`` is outside it.
    """
    zone = ZoneInfo(timezone or "UTC")
    now = _utc(now)
    ordered = sorted(
        (replace(point, executed_at=_utc(point.executed_at)) for point in history),
        key=lambda point: point.executed_at,
    )
    weekdays = _Weekdays(training(ordered, options, now=now), options, zone)
    weekday = now.astimezone(zone).weekday()
    if options.seasonality == "day_of_week":
        points, compared_with = weekdays.own(weekday, rejudge=False), "same weekday"
    elif options.seasonality == "none":
        points, compared_with = weekdays.others(set()), "all days"
    else:
        special = weekdays.with_own_level()
        if weekday in special:
            points, compared_with = weekdays.own(weekday, rejudge=True), "same weekday"
        else:
            points, compared_with = weekdays.others(special), "all days"
    if len(points) < options.min_history:
        return Band(
            flagged=False,
            points=len(points),
            options=options,
            compared_with=compared_with,
            reason=f"learning: {len(points)} of {options.min_history} points",
        )
    expected, lower, upper = band(points, options.confidence)
    outside = (value > upper and options.direction != "down") or (
        value < lower and options.direction != "up"
    )
    large_enough = abs(value - expected) >= options.min_change_percent / 100 * abs(expected)
    return Band(
        flagged=outside and large_enough,
        points=len(points),
        expected=expected,
        lower=lower,
        upper=upper,
        options=options,
        compared_with=compared_with,
    )
