"""Formats against Python's own validators, exact precision, samples, describe_table."""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from spine.core.errors import InvalidInput
from spine.quality.sql import count_statements, describe_table, measure, sample_rows
from tests.quality.sql.conftest import NOW, TARGETS, Target, make_check, open_target


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _is_ipv6(text: str) -> bool:
    # The format is the textual IPv6 address without an embedded IPv4 or a zone.
    if "." in text or "%" in text:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower() and len(text) == 36
    except ValueError:
        return False


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _is_e164(text: str) -> bool:
    return text.startswith("+") and text[1:].isdigit() and text[1] != "0" and 2 <= len(text) <= 16


def _is_email(text: str) -> bool:
    local, at, domain = text.partition("@")
    labels = domain.split(".")
    return bool(
        at
        and local
        and re.fullmatch(r"[A-Za-z0-9._%+-]+", local)
        and len(labels) >= 2
        and all(re.fullmatch(r"[A-Za-z0-9-]+", label) for label in labels)
        and re.fullmatch(r"[A-Za-z]{2,}", labels[-1])
    )


VALIDATORS = {
    "uuid": _is_uuid,
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
    "iso_date": _is_iso_date,
    "e164_phone": _is_e164,
    "email": _is_email,
}


def test_every_format_matches_the_python_validator(target: Target) -> None:
    checks = [make_check("invalid_format_count", "code", format=name) for name in VALIDATORS]
    checks.append(make_check("invalid_format_percent", "email", format="email"))
    measured = measure(target.engine, checks, previous={}, now=NOW, timeout_seconds=30)
    codes = [r["code"] for r in target.rows]
    for (name, valid), result in zip(VALIDATORS.items(), measured, strict=False):
        expected = sum(not valid(code) for code in codes)
        assert result.error is None, result.error
        assert result.sensor_value == expected, (target.name, name)
        if name != "email":
            assert 0 < expected < len(codes)  # the data has both kinds
    emails = [r["email"] for r in target.rows if r["email"] is not None]
    bad = sum(not _is_email(e) for e in emails)
    assert measured[-1].sensor_value == Decimal(bad) * 100 / Decimal(len(emails))


FILL = {
    "sqlite": "INSERT INTO p (v) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
    "FROM c WHERE i < 125000) SELECT CASE WHEN i <= 6257 THEN NULL ELSE i END FROM c",
    "duckdb": "INSERT INTO p SELECT CASE WHEN i <= 6257 THEN NULL ELSE i END "
    "FROM range(1, 125001) t(i)",
    "postgresql": "INSERT INTO p SELECT CASE WHEN i <= 6257 THEN NULL ELSE i END "
    "FROM generate_series(1, 125000) i",
    "mariadb": "INSERT INTO p SELECT CASE WHEN seq <= 6257 THEN NULL ELSE seq END "
    "FROM seq_1_to_125000",
}


@pytest.mark.parametrize("name", TARGETS)
def test_full_precision_null_percent(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with open_target(name, request, tmp_path, []) as target:
        with target.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE p (v INTEGER)"))
            conn.execute(sa.text(FILL[name]))
        check = make_check("null_percent", "v", table="p")
        mean = make_check("mean", "v", table="p")
        result, average = measure(
            target.engine, [check, mean], previous={}, now=NOW, timeout_seconds=30
        )
    assert result.sensor_value == Decimal("5.0056")
    assert str(result.sensor_value) == "5.0056"
    # mean of 6258..125000: exact, where MySQL's AVG would keep four decimals.
    assert average.sensor_value == Decimal(6258 + 125000) / 2


def test_samples_are_offending_rows_bounded_by_limit(target: Target) -> None:
    cases = [
        (make_check("null_count", "grp"), lambda r: r["grp"] is None),
        (
            make_check("out_of_range_percent", "qty", min_value=0),
            lambda r: r["qty"] is not None and r["qty"] < 0,
        ),
        (
            make_check("invalid_format_count", "code", format="ipv4"),
            lambda r: not _is_ipv4(r["code"]),
        ),
        (
            make_check("failed_rows", condition="amount > 400"),
            lambda r: r["amount"] is not None and r["amount"] > 400,
        ),
        (
            make_check(
                "missing_reference_count", "site_id", reference_table="sites", reference_column="id"
            ),
            lambda r: r["site_id"] is not None and r["site_id"] > 20,
        ),
        (
            make_check("not_in_set_count", "label", values=["a"], filter="qty > 50"),
            lambda r: r["label"] not in (None, "a") and r["qty"] is not None and r["qty"] > 50,
        ),
    ]
    by_id = {r["id"]: r for r in target.rows}
    for check, offending in cases:
        with count_statements(target.engine) as statements:
            rows = sample_rows(target.engine, check, limit=3, timeout_seconds=30)
        assert len(rows) == 3, check.check_type
        assert len(statements) == 1 and "LIMIT" in statements[0].upper()
        for row in rows:
            assert offending(by_id[row["id"]]), (check.check_type, row)
            assert isinstance(row["ts"], str | None)
            assert isinstance(row["price"], str | float | None)  # SQLite keeps REAL


def test_samples_are_empty_for_aggregate_types_and_limit_zero(target: Target) -> None:
    assert sample_rows(target.engine, make_check("mean", "qty"), limit=5, timeout_seconds=5) == []
    assert (
        sample_rows(target.engine, make_check("null_count", "grp"), limit=0, timeout_seconds=5)
        == []
    )


def test_describe_table(target: Target) -> None:
    columns = describe_table(target.engine, None, "readings")
    assert list(columns) == [
        "id",
        "site_id",
        "grp",
        "amount",
        "qty",
        "price",
        "email",
        "code",
        "ts",
        "label",
    ]
    assert all(isinstance(t, str) and t for t in columns.values())
    with pytest.raises(InvalidInput, match="table 'nope' not found in connection"):
        describe_table(target.engine, None, "nope")
