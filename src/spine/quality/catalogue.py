"""The check types a user can choose from: their level, config keys and sensor meaning.

The names are the contract of issue 14 (``spine checks types`` lists them). A type says
what number its sensor measures; thresholds (``min``/``max``/``equals``, flat or per
severity) and ``anomaly`` are judged by :mod:`spine.quality.rules`, not here, so
:func:`validate_config` ignores those keys.

Percent sensors of column checks are taken over the column's non-null values (nulls are
``null_count``'s business), except ``null_percent``, which is over all rows in scope.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spine.core.errors import InvalidInput
from spine.quality.models import TargetType

#: Keys owned by the rules (thresholds and anomaly): accepted on every type, checked there.
RULE_KEYS = frozenset({"min", "max", "equals", "warning", "error", "fatal", "anomaly"})

#: Keys any type may take: the scope of rows measured, and the sample settings.
SCOPE_KEYS: Mapping[str, str] = {
    "filter": "a SQL row condition: only rows where it holds are measured",
    "time_column": "a timestamp column; with `window`, only recent rows are measured",
    "window": 'how recent, with `time_column`: a number and a unit s, m, h, d or w ("7d")',
    "samples": "how many failed rows to keep (row-level types; 0 turns sampling off)",
}

#: Built-in formats of ``invalid_format_*``: anchored patterns in the regex subset that
#: PostgreSQL (ARE), MySQL (ICU), MariaDB (PCRE), DuckDB (RE2) and Python all read alike:
#: no ``\d``, no look-around, no non-capturing groups.
FORMATS: Mapping[str, str] = {
    "email": r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$",
    "uuid": (r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"),
    "ipv4": (
        r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
        r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"
    ),
    "ipv6": (
        r"^(([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
        r"|([0-9A-Fa-f]{1,4}:){1,7}:"
        r"|([0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}"
        r"|([0-9A-Fa-f]{1,4}:){1,5}(:[0-9A-Fa-f]{1,4}){1,2}"
        r"|([0-9A-Fa-f]{1,4}:){1,4}(:[0-9A-Fa-f]{1,4}){1,3}"
        r"|([0-9A-Fa-f]{1,4}:){1,3}(:[0-9A-Fa-f]{1,4}){1,4}"
        r"|([0-9A-Fa-f]{1,4}:){1,2}(:[0-9A-Fa-f]{1,4}){1,5}"
        r"|[0-9A-Fa-f]{1,4}:(:[0-9A-Fa-f]{1,4}){1,6}"
        r"|:((:[0-9A-Fa-f]{1,4}){1,7}|:))$"
    ),
    "iso_date": r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
    "e164_phone": r"^\+[1-9][0-9]{1,14}$",
}

_WINDOW = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_WINDOW_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckType:
    """One type of the catalogue.

    Attributes:
        name: The type's name, as ``--type`` takes it.
        level: Table or column (``check_definitions.target_type``).
        sensor: What the sensor value means.
        config_keys: The type's own config keys and what each means.
        required: The config keys that must be given.
        row_level: Whether failed rows exist (and are sampled when the check fails).
        column: For table-level types, whether ``--column`` is ``"required"`` (freshness,
            column_exists) or ``"none"``; column-level types always need one (or
            ``columns`` where the type takes it).
    """

    name: str
    level: TargetType
    sensor: str
    config_keys: Mapping[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    row_level: bool = False
    column: str = "none"

    def to_dict(self) -> dict[str, Any]:
        """The type as ``spine checks types --json`` prints it."""
        return {
            "name": self.name,
            "level": self.level.value,
            "sensor": self.sensor,
            "config_keys": dict(self.config_keys),
            "required": list(self.required),
            "row_level": self.row_level,
            "column": "required" if self.level is TargetType.COLUMN else self.column,
        }


def _table(name: str, sensor: str, **kwargs: Any) -> CheckType:
    return CheckType(name=name, level=TargetType.TABLE, sensor=sensor, **kwargs)


def _column(name: str, sensor: str, **kwargs: Any) -> CheckType:
    return CheckType(name=name, level=TargetType.COLUMN, sensor=sensor, **kwargs)


_REFERENCE = {
    "reference_table": "the other table, [SCHEMA.]TABLE, on the same connection",
}
_RANGE = {
    "min_value": "the lowest allowed value (inclusive)",
    "max_value": "the highest allowed value (inclusive)",
}
_SET = {"values": "the allowed values (a list)"}
_PATTERN = {"pattern": "a regular expression a value must contain a match of (anchor with ^$)"}
_FORMAT = {"format": "one of " + ", ".join(FORMATS)}
_COLUMNS = {"columns": "a list of columns: duplicates of the combination (instead of --column)"}
_PER = "per cent of the non-null values"


def _pair(
    stem: str, what: str, keys: Mapping[str, str], required: tuple[str, ...]
) -> list[CheckType]:
    return [
        _column(
            f"{stem}_count",
            f"the number of non-null values that {what}",
            config_keys=keys,
            required=required,
            row_level=True,
        ),
        _column(
            f"{stem}_percent",
            f"{_PER} that {what}",
            config_keys=keys,
            required=required,
            row_level=True,
        ),
    ]


_TYPES: list[CheckType] = [
    _table("row_count", "the number of rows in scope"),
    _table(
        "row_count_change",
        "per cent change of the row count against the previous result "
        "(+10 = ten per cent more rows); none on the first run",
    ),
    _table(
        "freshness",
        "seconds since the newest value of --column (a timestamp or date)",
        column="required",
    ),
    _table("column_exists", "1 when --column exists in the table, else 0", column="required"),
    _table("column_count", "the number of columns of the table"),
    _table(
        "schema_change",
        "the number of columns added, removed or retyped since the previous run (0 on the "
        "first run)",
    ),
    _table(
        "custom_sql",
        "the first value of the first row the query returns",
        config_keys={"sql": "a SELECT returning one number"},
        required=("sql",),
    ),
    _table(
        "failed_rows",
        "the number of rows in scope for which the condition holds (bad rows)",
        config_keys={"condition": "a SQL row condition that is true for a bad row"},
        required=("condition",),
        row_level=True,
    ),
    _table(
        "row_count_match",
        "absolute per cent difference between the row count and the reference table's "
        "(|rows - reference| / reference * 100)",
        config_keys=_REFERENCE,
        required=("reference_table",),
    ),
    _column("null_count", "the number of rows in scope where the column is null", row_level=True),
    _column(
        "null_percent", "per cent of the rows in scope where the column is null", row_level=True
    ),
    _column("empty_text_count", "the number of values equal to '' (empty text)", row_level=True),
    _column("distinct_count", "the number of distinct non-null values"),
    _column("distinct_percent", f"distinct values, {_PER}"),
    _column(
        "duplicate_count",
        "rows whose value already occurred in an earlier row: count(col) - count(distinct "
        "col), nulls excluded (with `columns`: rows whose combination already occurred, rows "
        "with a null in any of them excluded)",
        config_keys=_COLUMNS,
    ),
    _column(
        "duplicate_percent",
        f"duplicate_count, {_PER} (with `columns`: of the rows without nulls in them)",
        config_keys=_COLUMNS,
    ),
    _column("min", "the smallest value"),
    _column("max", "the largest value"),
    _column("mean", "the average of the non-null values"),
    _column("sum", "the sum of the non-null values"),
    _column("median", "the median (continuous: the mean of the two middle values)"),
    _column("stddev", "the sample standard deviation of the non-null values"),
    _column(
        "percentile",
        "the continuous percentile q of the non-null values (linear interpolation)",
        config_keys={"q": "the fraction, between 0 and 1 (0.95)"},
        required=("q",),
    ),
    *_pair("out_of_range", "fall outside [min_value, max_value]", _RANGE, ()),
    *_pair("not_in_set", "are not among `values`", _SET, ("values",)),
    *_pair("regex_mismatch", "do not match `pattern`", _PATTERN, ("pattern",)),
    *_pair("invalid_format", "do not have the `format`", _FORMAT, ("format",)),
    _column("min_length", "the shortest text length, in characters"),
    _column("max_length", "the longest text length, in characters"),
    _column("mean_length", "the average text length, in characters"),
    _column(
        "missing_reference_count",
        "the number of non-null values not found in reference_table.reference_column",
        config_keys={**_REFERENCE, "reference_column": "the column of the reference table"},
        required=("reference_table", "reference_column"),
        row_level=True,
    ),
]

CATALOGUE: Mapping[str, CheckType] = {t.name: t for t in _TYPES}


def check_type(name: str) -> CheckType:
    """The type called ``name``.

    Raises:
        InvalidInput: If there is none, naming the closest names.
    """
    found = CATALOGUE.get(name)
    if found is None:
        close = difflib.get_close_matches(name, list(CATALOGUE), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InvalidInput(f"unknown check type {name!r}{hint}; `spine checks types` lists them")
    return found


def window_seconds(window: str) -> int:
    """The seconds of a ``window`` such as ``"7d"`` or ``"24h"``.

    Raises:
        InvalidInput: If the text is not a positive number and a unit s, m, h, d or w.
    """
    match = _WINDOW.match(str(window))
    if match is None or int(match.group(1)) <= 0:
        raise InvalidInput(
            f'window {window!r} is not a positive number and a unit s, m, h, d or w ("7d")'
        )
    return int(match.group(1)) * _WINDOW_SECONDS[match.group(2)]


def refuse_statement_breaks(key: str, sql: str) -> None:
    """Refuse user SQL that holds a ``;`` outside quotes (a second statement).

    The read-only, timed session is the real barrier; this refusal keeps a ``filter`` or
    ``custom_sql`` from even reaching a driver that would run two statements.

    Raises:
        InvalidInput: If ``sql`` holds a statement break.
    """
    text = re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "''", sql).strip()
    if text.endswith(";") and key == "sql":
        text = text[:-1]
    if ";" in text:
        raise InvalidInput(f"config {key!r} must be one SQL expression, without ';'")


def validate_config(check_type_name: str, column: str | None, config: Mapping[str, Any]) -> None:
    """Check a check's type, column and config keys before it is stored or run.

    The rules' keys (:data:`RULE_KEYS`) are left to the rules.

    Raises:
        InvalidInput: One line naming what is wrong: an unknown type or key, a column
            where the type takes none or none where it needs one, a missing or bad value.
    """
    kind = check_type(check_type_name)
    unknown = sorted(set(config) - set(kind.config_keys) - set(SCOPE_KEYS) - RULE_KEYS)
    if unknown:
        allowed = ", ".join([*kind.config_keys, *SCOPE_KEYS]) or "none"
        raise InvalidInput(
            f"{kind.name} takes no config key(s) {', '.join(unknown)} (its keys: {allowed}, "
            "plus thresholds min/max/equals and anomaly)"
        )
    missing = [key for key in kind.required if config.get(key) in (None, "", [])]
    if missing:
        raise InvalidInput(f"{kind.name} needs config {', '.join(missing)}")
    _check_column(kind, column, config)
    _check_values(kind, config)
    _check_scope(config)


def _check_column(kind: CheckType, column: str | None, config: Mapping[str, Any]) -> None:
    if kind.level is TargetType.TABLE:
        if kind.column == "required" and not column:
            raise InvalidInput(f"{kind.name} needs --column")
        if kind.column == "none" and column:
            raise InvalidInput(f"{kind.name} is a table-level check: it takes no --column")
        return
    columns = config.get("columns")
    if columns is not None:
        if (
            not isinstance(columns, list)
            or not columns
            or not all(isinstance(c, str) and c for c in columns)
        ):
            raise InvalidInput("config 'columns' must be a non-empty list of column names")
        if column:
            raise InvalidInput(f"{kind.name} takes --column or config 'columns', not both")
        return
    if not column:
        raise InvalidInput(f"{kind.name} is a column-level check: it needs --column")


def _check_values(kind: CheckType, config: Mapping[str, Any]) -> None:
    if "pattern" in config:
        pattern = config["pattern"]
        if not isinstance(pattern, str):
            raise InvalidInput("config 'pattern' must be text")
        try:
            re.compile(pattern)
        except re.error as error:
            raise InvalidInput(f"config 'pattern' is not a regular expression: {error}") from None
    if "format" in config and config["format"] not in FORMATS:
        raise InvalidInput(
            f"config 'format' {config['format']!r} is not one of {', '.join(FORMATS)}"
        )
    if "q" in config:
        q = config["q"]
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
            raise InvalidInput(f"config 'q' must be a number between 0 and 1, not {q!r}")
    if "values" in config and (not isinstance(config["values"], list) or not config["values"]):
        raise InvalidInput("config 'values' must be a non-empty list")
    if (
        kind.name.startswith("out_of_range")
        and "min_value" not in config
        and ("max_value" not in config)
    ):
        raise InvalidInput(f"{kind.name} needs config min_value, max_value or both")
    for key in ("sql", "condition", "reference_table", "reference_column"):
        if key in config and (not isinstance(config[key], str) or not config[key].strip()):
            raise InvalidInput(f"config {key!r} must be non-empty text")
    for key in ("sql", "condition"):
        if key in config:
            refuse_statement_breaks(key, config[key])


def _check_scope(config: Mapping[str, Any]) -> None:
    if "filter" in config:
        if not isinstance(config["filter"], str) or not config["filter"].strip():
            raise InvalidInput("config 'filter' must be a non-empty SQL condition")
        refuse_statement_breaks("filter", config["filter"])
    has_time, has_window = "time_column" in config, "window" in config
    if has_time != has_window:
        raise InvalidInput("config 'time_column' and 'window' go together")
    if has_window:
        if not isinstance(config["time_column"], str) or not config["time_column"]:
            raise InvalidInput("config 'time_column' must be a column name")
        window_seconds(config["window"])
    if "samples" in config:
        samples = config["samples"]
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
            raise InvalidInput("config 'samples' must be a whole number, 0 or more")
