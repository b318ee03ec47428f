"""The catalogue: the issue's type names, their descriptions, and config validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spine.core.errors import InvalidInput
from spine.quality.catalogue import CATALOGUE, FORMATS, check_type, validate_config, window_seconds
from spine.quality.models import TargetType

ISSUE_TABLE_TYPES = [
    "row_count",
    "row_count_change",
    "freshness",
    "column_exists",
    "column_count",
    "schema_change",
    "custom_sql",
    "failed_rows",
    "row_count_match",
]
ISSUE_COLUMN_TYPES = [
    "null_count",
    "null_percent",
    "empty_text_count",
    "distinct_count",
    "distinct_percent",
    "duplicate_count",
    "duplicate_percent",
    "min",
    "max",
    "mean",
    "sum",
    "median",
    "stddev",
    "percentile",
    "out_of_range_count",
    "out_of_range_percent",
    "not_in_set_count",
    "not_in_set_percent",
    "regex_mismatch_count",
    "regex_mismatch_percent",
    "invalid_format_count",
    "invalid_format_percent",
    "min_length",
    "max_length",
    "mean_length",
    "missing_reference_count",
]


def test_the_catalogue_is_exactly_the_issues_list() -> None:
    assert sorted(CATALOGUE) == sorted(ISSUE_TABLE_TYPES + ISSUE_COLUMN_TYPES)
    assert all(CATALOGUE[n].level is TargetType.TABLE for n in ISSUE_TABLE_TYPES)
    assert all(CATALOGUE[n].level is TargetType.COLUMN for n in ISSUE_COLUMN_TYPES)
    assert set(FORMATS) == {"email", "uuid", "ipv4", "ipv6", "iso_date", "e164_phone"}


def test_every_type_says_what_its_sensor_means_as_json() -> None:
    for kind in CATALOGUE.values():
        data = json.loads(json.dumps(kind.to_dict()))
        assert data["name"] == kind.name and data["level"] in ("table", "column")
        assert len(data["sensor"]) > 10
        assert set(data["required"]) <= set(data["config_keys"])
    assert CATALOGUE["percentile"].to_dict()["required"] == ["q"]
    assert CATALOGUE["failed_rows"].row_level and not CATALOGUE["mean"].row_level
    assert "count(col) - count(distinct" in CATALOGUE["duplicate_count"].sensor


def test_unknown_type_names_the_close_ones() -> None:
    with pytest.raises(InvalidInput, match="did you mean null_count") as error:
        check_type("nul_count")
    assert "\n" not in str(error.value)
    with pytest.raises(InvalidInput, match="unknown check type 'zzz'"):
        check_type("zzz")


@pytest.mark.parametrize(
    ("kind", "column", "config"),
    [
        ("row_count", None, {}),
        ("row_count", None, {"max": 5, "warning": {"min": 1}, "anomaly": {"x": 1}}),
        ("null_percent", "a", {"error": {"max": 5}, "filter": "b > 1"}),
        ("row_count", None, {"time_column": "ts", "window": "7d"}),
        ("freshness", "ts", {"max": 3600}),
        ("column_exists", "a", {}),
        ("duplicate_count", None, {"columns": ["a", "b"]}),
        ("duplicate_percent", "a", {}),
        ("percentile", "a", {"q": 0.95}),
        ("percentile", "a", {"q": 1}),
        ("regex_mismatch_count", "a", {"pattern": "^[A-Z]{3}$", "samples": 0}),
        ("invalid_format_percent", "a", {"format": "e164_phone"}),
        ("out_of_range_count", "a", {"min_value": 0}),
        ("not_in_set_count", "a", {"values": ["x", 1]}),
        ("custom_sql", None, {"sql": "SELECT count(*) FROM t WHERE a = ';'"}),
        ("custom_sql", None, {"sql": "SELECT 1;"}),
        ("failed_rows", None, {"condition": "a < 0"}),
        ("row_count_match", None, {"reference_table": "s.t"}),
        ("missing_reference_count", "a", {"reference_table": "t", "reference_column": "id"}),
    ],
)
def test_valid_configs_pass(kind: str, column: str | None, config: dict[str, Any]) -> None:
    validate_config(kind, column, config)


@pytest.mark.parametrize(
    ("kind", "column", "config", "message"),
    [
        ("row_count", None, {"colour": 1, "size": 2}, "takes no config key(s) colour, size"),
        ("row_count", "a", {}, "table-level check: it takes no --column"),
        ("freshness", None, {}, "freshness needs --column"),
        ("null_count", None, {}, "column-level check: it needs --column"),
        ("duplicate_count", "a", {"columns": ["a", "b"]}, "not both"),
        ("duplicate_count", None, {"columns": []}, "non-empty list"),
        ("null_count", "a", {"columns": ["a"]}, "takes no config key(s) columns"),
        ("regex_mismatch_count", "a", {"pattern": "(["}, "not a regular expression"),
        ("regex_mismatch_count", "a", {}, "needs config pattern"),
        ("percentile", "a", {"q": 1.5}, "between 0 and 1"),
        ("percentile", "a", {"q": "x"}, "between 0 and 1"),
        ("invalid_format_count", "a", {"format": "phone"}, "is not one of email"),
        ("out_of_range_count", "a", {}, "min_value, max_value or both"),
        ("not_in_set_count", "a", {"values": "x"}, "non-empty list"),
        ("custom_sql", None, {"sql": "SELECT 1; DELETE FROM t"}, "without ';'"),
        ("failed_rows", None, {"condition": "1=1; DROP TABLE t"}, "without ';'"),
        ("row_count", None, {"filter": "a = 1; DELETE FROM t"}, "without ';'"),
        ("row_count", None, {"window": "7d"}, "go together"),
        ("row_count", None, {"time_column": "ts", "window": "7 days"}, "not a positive number"),
        ("row_count", None, {"samples": -1}, "samples"),
        ("custom_sql", None, {}, "needs config sql"),
        ("nope", None, {}, "unknown check type"),
    ],
)
def test_bad_configs_are_refused_in_one_line(
    kind: str, column: str | None, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        validate_config(kind, column, config)
    assert "\n" not in str(e.value)


def test_windows() -> None:
    assert window_seconds("7d") == 604800
    assert window_seconds("24h") == 86400
    assert window_seconds("30m") == 1800
    assert window_seconds("2w") == 1209600
    for bad in ("0d", "d", "7y", "-1h"):
        with pytest.raises(InvalidInput):
            window_seconds(bad)
