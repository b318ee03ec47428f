"""Thresholds on a sensor value, and the verdict that joins them with anomaly detection.

A check's ``config`` holds its thresholds, ``min``, ``max`` and ``equals``, either flat
(they apply at the check's severity) or per severity, as DQOps gives them::

    {"max": 5}                                        # fails at the check's severity
    {"warning": {"max": 5}, "error": {"max": 50}}     # each at its own severity

Both forms may be mixed: the flat keys join the block of the check's severity. Every
failing threshold is reported and the highest failing severity is the verdict's, so a
value of 60 above is an ``error``, not a ``warning``.

Comparisons are exact: the sensor value and the limits are compared as
:class:`~decimal.Decimal` (a float limit by its shortest text, ``5.005`` is 5.005), so a
``null_percent`` of 5.0056 fails ``max: 5.005``, which a comparison in floats can get
wrong at the last digit.

Keys that are not :data:`RULE_KEYS` (the type's own ``min_value``, ``pattern`` ...) are
not this module's: the catalogue checks them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from spine.core.errors import InvalidInput
from spine.quality.anomaly import HistoryPoint, detect, parse_options
from spine.quality.models import CheckDefinition, CheckResult, SensorValue, Severity, Verdict

__all__ = [
    "BOUND_KEYS",
    "RULE_KEYS",
    "HistoryPoint",
    "Threshold",
    "history_from",
    "judge",
    "thresholds",
    "validate_rules",
]

#: The keys of a check's config that the rules read.
RULE_KEYS = frozenset({"min", "max", "equals", "warning", "error", "fatal", "anomaly"})
#: The keys of one threshold (flat, or inside a severity block).
BOUND_KEYS = ("min", "max", "equals")
_SEVERITY_KEYS = tuple(severity.value for severity in Severity)


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """One bound at one severity: ``value`` must be ``>= limit`` (min), ``<=`` (max), ``==``.

    ``given`` is the limit as the config holds it (a JSON value), kept for the verdict's
    details so that they read back as the user wrote them.
    """

    severity: Severity
    key: str
    limit: Decimal
    given: Any

    def holds(self, value: Decimal) -> bool:
        """Whether ``value`` satisfies this bound."""
        if self.key == "min":
            return value >= self.limit
        if self.key == "max":
            return value <= self.limit
        return value == self.limit


def exact(value: SensorValue, where: str = "value") -> Decimal:
    """``value`` as a Decimal: exact for Decimal and int, a float by its shortest text.

    Raises:
        InvalidInput: For a bool, text that is not a number, NaN or an infinity.
    """
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: {value!r} is not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # repr() is the shortest text that reads back as this float: what the user wrote.
        number = Decimal(repr(value)) if math.isfinite(value) else Decimal("NaN")
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidInput(f"{where}: {value!r} is not a number") from None
    else:
        raise InvalidInput(f"{where}: {value!r} is not a number")
    if not number.is_finite():
        raise InvalidInput(f"{where}: {value!r} is not a finite number")
    return number


def _as_json(limit: Any) -> Any:
    """A limit as the verdict's details keep it: as given when JSON holds it, else text."""
    if isinstance(limit, int | float | str) and not isinstance(limit, bool):
        return limit
    return str(limit)


def thresholds(config: Mapping[str, Any], severity: Severity) -> list[Threshold]:
    """The thresholds of ``config``, flat ones at ``severity``, in rising severity.

    Raises:
        InvalidInput: One line naming the first problem: a limit that is not a number,
            ``min`` above ``max`` at one severity, a severity block that is not an object
            or holds a key other than ``min``/``max``/``equals``.
    """
    found: list[Threshold] = []
    for level in Severity:
        block: dict[str, Any] = {}
        if level == severity:
            block.update({key: config[key] for key in BOUND_KEYS if key in config})
        nested = config.get(level.value)
        if nested is not None:
            if not isinstance(nested, Mapping):
                raise InvalidInput(
                    f"config.{level.value}: expected an object of min/max/equals, got {nested!r}"
                )
            unknown = sorted(str(key) for key in nested if key not in BOUND_KEYS)
            if unknown:
                raise InvalidInput(
                    f"config.{level.value}: unknown threshold {unknown[0]!r}"
                    " (expected min, max or equals)"
                )
            for key in BOUND_KEYS:
                if key in nested:
                    if key in block and level == severity:
                        raise InvalidInput(
                            f"config: {key!r} is given both flat and in {level.value!r}"
                        )
                    block[key] = nested[key]
        level_found = [
            Threshold(
                severity=level,
                key=key,
                limit=exact(block[key], f"config.{level.value}.{key}"),
                given=_as_json(block[key]),
            )
            for key in BOUND_KEYS
            if key in block
        ]
        limits = {threshold.key: threshold.limit for threshold in level_found}
        if "min" in limits and "max" in limits and limits["min"] > limits["max"]:
            raise InvalidInput(
                f"config.{level.value}: min {block['min']} is above max {block['max']}"
            )
        found.extend(level_found)
    return found


def validate_rules(config: Mapping[str, Any], severity: Severity) -> None:
    """Check the thresholds and the anomaly options of a check's ``config``.

    Keys outside :data:`RULE_KEYS` are ignored (the catalogue checks the type's keys).

    Raises:
        InvalidInput: One line naming the first problem (see :func:`thresholds` and
            :func:`spine.quality.anomaly.parse_options`).
    """
    thresholds(config, severity)
    if "anomaly" in config:
        parse_options(config["anomaly"])


def history_from(results: Iterable[CheckResult]) -> list[HistoryPoint]:
    """A check's stored results as the anomaly detector's history, oldest first.

    Results without a sensor value (errors, empty tables) are left out; a result whose
    ``details["anomaly"]["flagged"]`` is true is a flagged point, kept out of training.
    """
    points = [
        HistoryPoint(
            executed_at=result.executed_at,
            value=result.sensor_value,
            flagged=bool(((result.details or {}).get("anomaly") or {}).get("flagged", False)),
        )
        for result in results
        if result.sensor_value is not None and result.sensor_value.is_finite()
    ]
    return sorted(points, key=lambda point: point.executed_at)


def judge(
    check: CheckDefinition,
    value: SensorValue | None,
    history: Sequence[HistoryPoint],
    *,
    error: str | None = None,
    now: datetime | None = None,
) -> Verdict:
    """Judge one sensor value against the check's thresholds and its own history.

    Args:
        check: The check; its ``config`` holds the thresholds and ``anomaly``.
        value: The sensor value, ``None`` when there is none (an empty table's mean).
        history: The check's earlier values, oldest first; points at or after ``now``
            are not used, so the value being judged never trains its own band.
        error: Why the check could not run: the verdict is then failed at the check's
            severity, whatever the thresholds say.
        now: When the value was measured (the weekday for seasonality); now by default.

    Returns:
        A passed verdict with no severity, or a failed one at the highest failing
        severity. ``details`` holds ``error``, ``reason`` (``"no value"``), ``failed``
        (each failing threshold: severity, key, limit) and ``anomaly`` (the band, see
        :func:`spine.quality.anomaly.detect`), as they apply.
    """
    if error is not None:
        return Verdict(passed=False, severity=check.severity, details={"error": error})
    rules = thresholds(check.config, check.severity)
    options = parse_options(check.config["anomaly"]) if "anomaly" in check.config else None
    if value is None:
        details: dict[str, Any] = {"reason": "no value"}
        if options is not None:
            details["anomaly"] = {"flagged": False, "reason": "no value"}
        if rules:
            return Verdict(passed=False, severity=check.severity, details=details)
        return Verdict(passed=True, details=details)

    try:
        number = exact(value, "sensor value")
    except InvalidInput as bad:
        return Verdict(passed=False, severity=check.severity, details={"error": str(bad)})
    failing: list[Severity] = []
    details = {}
    failed = [rule for rule in rules if not rule.holds(number)]
    if failed:
        details["failed"] = [
            {"severity": rule.severity.value, "key": rule.key, "limit": rule.given}
            for rule in failed
        ]
        failing.extend(rule.severity for rule in failed)
    if options is not None:
        when = now if now is not None else datetime.now(UTC)
        band = detect(float(number), history, options, now=when, timezone=check.timezone)
        details["anomaly"] = band.details()
        if band.flagged:
            failing.append(Severity(options.severity) if options.severity else check.severity)
    if not failing:
        return Verdict(passed=True, details=details)
    return Verdict(passed=False, severity=max(failing, key=lambda s: s.rank), details=details)
