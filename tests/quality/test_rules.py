"""Thresholds: parsing, validation and the verdict (spine.quality.rules).

Property tests state the rules a reader of docs/quality.md relies on: the highest failing
severity wins, a flat threshold is the same as one in the block of the check's severity,
and values are compared exactly.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spine.core.errors import InvalidInput
from spine.core.jsonsafe import json_object
from spine.quality.models import CheckDefinition, CheckResult, Severity, TargetType
from spine.quality.rules import HistoryPoint, history_from, judge, validate_rules

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def check(config: dict[str, Any], severity: Severity = Severity.ERROR) -> CheckDefinition:
    return CheckDefinition(
        id=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        connection_id=uuid.uuid4(),
        connection_name="warehouse",
        name="orders_nulls",
        check_type="null_percent",
        target_type=TargetType.COLUMN,
        target_table="orders",
        target_column="customer_id",
        config=config,
        severity=severity,
        created_at=NOW,
        updated_at=NOW,
    )


# --- examples -------------------------------------------------------------------------


def test_no_threshold_and_no_anomaly_passes() -> None:
    verdict = judge(check({"min_value": 3}), Decimal(7), [])
    assert verdict.passed and verdict.severity is None


def test_flat_threshold_fails_at_the_check_severity() -> None:
    verdict = judge(check({"max": 5}, Severity.WARNING), 6, [])
    assert not verdict.passed
    assert verdict.severity is Severity.WARNING
    assert verdict.details["failed"] == [{"severity": "warning", "key": "max", "limit": 5}]


def test_the_highest_failing_severity_wins() -> None:
    config = {"warning": {"max": 5}, "error": {"max": 50}, "fatal": {"max": 500}}
    assert judge(check(config), 4, []).passed
    assert judge(check(config), 6, []).severity is Severity.WARNING
    assert judge(check(config), 60, []).severity is Severity.ERROR
    verdict = judge(check(config), 600, [])
    assert verdict.severity is Severity.FATAL
    assert [f["severity"] for f in verdict.details["failed"]] == ["warning", "error", "fatal"]


def test_min_and_equals() -> None:
    assert not judge(check({"min": 10}), 9, []).passed
    assert judge(check({"min": 10}), 10, []).passed
    assert judge(check({"equals": 0}), 0, []).passed
    assert not judge(check({"equals": 0}), Decimal("0.0001"), []).passed


def test_decimal_comparisons_are_exact() -> None:
    # A float comparison after rounding to two places would let 5.0056 through as 5.01 > 5.005
    # only by luck; the rule must see every digit.
    assert not judge(check({"max": 5.005}), Decimal("5.0056"), []).passed
    assert judge(check({"max": 5.005}), Decimal("5.005"), []).passed
    assert judge(check({"max": 5.005}), 5.005, []).passed
    assert not judge(check({"max": "5.005"}), Decimal("5.00500000000000000001"), []).passed
    assert not judge(
        check({"equals": 0.1}), Decimal("0.1000000000000000055511151231257827"), []
    ).passed


def test_an_error_fails_at_the_check_severity_whatever_the_thresholds() -> None:
    verdict = judge(check({}, Severity.FATAL), None, [], error="timeout after 30 s")
    assert not verdict.passed
    assert verdict.severity is Severity.FATAL
    assert verdict.details == {"error": "timeout after 30 s"}


def test_no_value_fails_only_when_a_threshold_applies() -> None:
    verdict = judge(check({"warning": {"min": 1}}, Severity.ERROR), None, [])
    assert not verdict.passed and verdict.severity is Severity.ERROR
    assert verdict.details["reason"] == "no value"
    assert judge(check({}), None, []).passed


def test_a_non_finite_value_is_an_error() -> None:
    verdict = judge(check({"max": 1}), float("nan"), [])
    assert not verdict.passed and "not a finite number" in verdict.details["error"]


def test_anomaly_severity_and_threshold_severity_combine() -> None:
    start = NOW - timedelta(days=30)
    history = [
        HistoryPoint(executed_at=start + timedelta(days=i), value=100 + i % 3) for i in range(30)
    ]
    config = {"warning": {"max": 1000}, "anomaly": {"severity": "fatal"}}
    verdict = judge(check(config), 5000, history, now=NOW)
    assert verdict.severity is Severity.FATAL
    assert verdict.details["anomaly"]["flagged"] is True
    # anomaly without its own severity fails at the check's
    verdict = judge(check({"anomaly": {}}, Severity.WARNING), 5000, history, now=NOW)
    assert verdict.severity is Severity.WARNING
    assert judge(check({"anomaly": True}), 101, history, now=NOW).passed


def test_details_are_json_whatever_the_config_holds() -> None:
    start = NOW - timedelta(days=30)
    history = [
        HistoryPoint(executed_at=start + timedelta(days=i), value=Decimal(100 + i % 3))
        for i in range(30)
    ]
    config = {"max": Decimal("5.005"), "anomaly": {}}
    verdict = judge(check(config), Decimal("5.0056"), history, now=NOW)
    details = json_object(verdict.details, "details")
    assert details["failed"] == [{"severity": "error", "key": "max", "limit": "5.005"}]
    assert details["anomaly"]["flagged"] is True


def test_now_defaults_to_the_present() -> None:
    past = [
        HistoryPoint(executed_at=datetime.now(UTC) - timedelta(days=30 - i), value=50 + i % 2)
        for i in range(30)
    ]
    verdict = judge(check({"anomaly": {"seasonality": "none"}}), 5000, past)
    assert verdict.details["anomaly"]["flagged"] is True
    assert verdict.details["anomaly"]["points"] == 28


def test_history_from_results_keeps_flags_and_skips_missing_values() -> None:
    def result(day: int, value: str | None, details: dict[str, Any] | None) -> CheckResult:
        return CheckResult(
            id=day,
            check_id=uuid.uuid4(),
            executed_at=NOW + timedelta(days=day),
            execution_time_ms=3,
            sensor_value=None if value is None else Decimal(value),
            rule_passed=True,
            details=details,
        )

    points = history_from(
        [
            result(2, "7", {"anomaly": {"flagged": True}}),
            result(0, "5.5", None),
            result(1, None, {"error": "timeout"}),
            result(3, "6", {"anomaly": {"flagged": False}}),
        ]
    )
    assert [(p.value, p.flagged) for p in points] == [
        (Decimal("5.5"), False),
        (Decimal("7"), True),
        (Decimal("6"), False),
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"max": "lots"}, "config.error.max: 'lots' is not a number"),
        ({"max": True}, "is not a number"),
        ({"max": float("inf")}, "not a finite number"),
        ({"min": 10, "max": 5}, "config.error: min 10 is above max 5"),
        ({"warning": {"min": 3, "max": 2}}, "config.warning: min 3 is above max 2"),
        ({"warning": {"maximum": 3}}, "config.warning: unknown threshold 'maximum'"),
        ({"fatal": 3}, "config.fatal: expected an object"),
        ({"max": 3, "error": {"max": 4}}, "given both flat and in 'error'"),
        ({"anomaly": {"window": 3, "min_history": 7}}, "window 3 is smaller than min_history 7"),
        ({"anomaly": {"methd": "robust"}}, "unknown option 'methd'"),
        ({"anomaly": {"method": "prophet"}}, "config.anomaly.method: 'prophet' is not one of"),
        ({"anomaly": {"direction": "sideways"}}, "config.anomaly.direction"),
        ({"anomaly": {"seasonality": "hourly"}}, "config.anomaly.seasonality"),
        ({"anomaly": {"confidence": 1.5}}, "config.anomaly.confidence"),
        ({"anomaly": {"sensitivity": "extreme"}}, "config.anomaly.sensitivity"),
        ({"anomaly": {"sensitivity": "low", "confidence": 0.9}}, "not both"),
        ({"anomaly": {"min_history": 2}}, "config.anomaly.min_history"),
        ({"anomaly": {"min_change_percent": -1}}, "config.anomaly.min_change_percent"),
        ({"anomaly": {"severity": "critical"}}, "config.anomaly.severity"),
        ({"anomaly": "yes"}, "config.anomaly: expected an object"),
    ],
)
def test_validate_rules_refuses_bad_config_in_one_line(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=None) as raised:
        validate_rules(config, Severity.ERROR)
    text = str(raised.value)
    assert message in text and "\n" not in text


def test_validate_rules_accepts_good_config_and_ignores_other_keys() -> None:
    validate_rules(
        {
            "min_value": "not mine",
            "max": 5,
            "warning": {"max": 3},
            "fatal": {"min": 0, "max": "10.5", "equals": 7},
            "anomaly": {
                "method": "robust",
                "sensitivity": "high",
                "min_history": 7,
                "window": 28,
                "seasonality": "day_of_week",
                "min_change_percent": 5,
                "direction": "down",
                "severity": "warning",
                "relearn_after": 3,
            },
        },
        Severity.ERROR,
    )
    validate_rules({"anomaly": True, "min": 1, "max": 1}, Severity.WARNING)


# --- properties -----------------------------------------------------------------------

limits = st.decimals(min_value=-(10**6), max_value=10**6, allow_nan=False, places=4)
severities = st.sampled_from(list(Severity))


@given(
    value=limits,
    bounds=st.dictionaries(severities, limits, min_size=1),
    kind=st.sampled_from(["max", "min"]),
)
def test_the_verdict_is_the_highest_severity_whose_bound_fails(
    value: Decimal, bounds: dict[Severity, Decimal], kind: str
) -> None:
    config = {severity.value: {kind: str(limit)} for severity, limit in bounds.items()}
    verdict = judge(check(config), value, [])
    failing = [
        severity
        for severity, limit in bounds.items()
        if (value > limit if kind == "max" else value < limit)
    ]
    if failing:
        assert verdict.severity is max(failing, key=lambda s: s.rank)
        assert not verdict.passed
    else:
        assert verdict.passed and verdict.severity is None


@given(value=limits, limit=limits, other=limits, severity=severities)
def test_a_larger_value_never_fails_a_max_at_a_lower_severity(
    value: Decimal, limit: Decimal, other: Decimal, severity: Severity
) -> None:
    # monotone: raising the value can only keep or raise the severity of a max rule
    config = {"warning": {"max": str(min(limit, other))}, "fatal": {"max": str(max(limit, other))}}
    low, high = sorted([value, value + abs(other - limit)])
    a, b = judge(check(config, severity), low, []), judge(check(config, severity), high, [])
    rank_a = -1 if a.severity is None else a.severity.rank
    rank_b = -1 if b.severity is None else b.severity.rank
    assert rank_b >= rank_a


@given(
    value=limits,
    bound=st.dictionaries(st.sampled_from(["min", "max", "equals"]), limits, min_size=1),
    severity=severities,
)
def test_flat_thresholds_equal_the_block_of_the_check_severity(
    value: Decimal, bound: dict[str, Decimal], severity: Severity
) -> None:
    config = {key: str(limit) for key, limit in bound.items()}
    if "min" in config and "max" in config and bound["min"] > bound["max"]:
        return
    flat = judge(check(config, severity), value, [])
    nested = judge(check({severity.value: config}, severity), value, [])
    assert (flat.passed, flat.severity) == (nested.passed, nested.severity)


@given(
    limit=st.decimals(min_value=-1000, max_value=1000, allow_nan=False, places=6),
    step=st.integers(min_value=1, max_value=10**6),
)
def test_a_value_just_above_a_max_fails_and_the_max_itself_passes(
    limit: Decimal, step: int
) -> None:
    # 28 significant digits (the default context) hold 4 + 20 of them exactly
    above = limit + Decimal(step).scaleb(-20)
    assert judge(check({"max": str(limit)}), limit, []).passed
    assert not judge(check({"max": str(limit)}), above, []).passed
