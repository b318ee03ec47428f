"""The SQL for SQL Server, Snowflake, BigQuery, Redshift and Databricks, compiled offline."""

from __future__ import annotations

import pytest

from spine.quality.sql.offline import compile_checks, offline_dialect
from tests.quality.sql.conftest import NOW, make_check

DIALECTS = ("mssql", "snowflake", "bigquery", "redshift", "databricks")


def _checks() -> list:  # type: ignore[type-arg]
    return [
        make_check("row_count"),
        make_check("null_percent", "Weird Col"),
        make_check("regex_mismatch_count", "email", pattern="^a"),
        make_check("invalid_format_percent", "code", format="e164_phone"),
        make_check("median", "qty"),
        make_check("percentile", "amount", q=0.9),
        make_check("stddev", "amount"),
        make_check("max_length", "email"),
        make_check("mean", "qty"),
        make_check("duplicate_count", "grp"),
        make_check("not_in_set_count", "label", values=["o'brien", "b"]),
        make_check("failed_rows", condition="qty < 0"),
        make_check("custom_sql", sql="SELECT count(*) FROM readings"),
        make_check(
            "missing_reference_count",
            "site_id",
            reference_table="ref.sites",
            reference_column="id",
        ),
    ]


EXPECTED = {
    "mssql": [
        "NOT regexp_like(email, '^a')",
        "stdev(amount)",
        "max(len(email))",
        "[Weird Col]",
        "ROW_NUMBER() OVER (ORDER BY qty)",
        "SELECT TOP 1 *",
    ],
    "snowflake": [
        "regexp_instr(email, '^a') <= 0",
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY qty)",
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY amount)",
        "stddev_samp(amount)",
        "max(length(email))",
        '"Weird Col"',
    ],
    "bigquery": [
        "NOT regexp_contains(email, '^a')",
        "stddev_samp(amount)",
        "`Weird Col`",
        "ORDER BY qty\n LIMIT 2 OFFSET",
        "max(length(email))",
    ],
    "redshift": [
        "NOT (email ~ '^a')",
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY qty)",
        "stddev_samp(amount)",
        '"Weird Col"',
    ],
    "databricks": [
        "NOT (email RLIKE '^a')",
        "percentile(qty, 0.5)",
        "percentile(amount, 0.9)",
        "stddev_samp(amount)",
        "`Weird Col`",
    ],
}

WITHOUT_PERCENTILE = {"mssql", "bigquery"}


@pytest.mark.parametrize("name", DIALECTS)
def test_checks_compile_offline_with_the_dialects_pieces(name: str) -> None:
    statements = compile_checks(_checks(), offline_dialect(name), now=NOW)
    scan = statements[0]
    everything = "\n".join(statements)
    for piece in EXPECTED[name]:
        assert piece in everything, (name, piece, everything)
    # One scan answers every aggregate; separate statements are the custom SQL, the
    # anti-join and (without a percentile aggregate) the two ordered reads.
    separate = 2 + (2 if name in WITHOUT_PERCENTILE else 0)
    assert len(statements) == 1 + separate, everything
    assert scan.count(" AS m") == len(set(scan.split(" AS m")[1:]))
    assert "count(DISTINCT grp)" in scan
    assert "'o''brien'" in scan  # a value is a value, escaped by the dialect
    assert "(qty < 0)" in scan and "= 1" not in scan
    assert "percentile" not in scan.lower() or name not in WITHOUT_PERCENTILE
    assert "ref.sites AS spine_ref" in everything


def test_an_identifier_with_a_quote_is_escaped() -> None:
    check = make_check("null_count", 'a"b`c]d', table='t"x')
    sql = {name: compile_checks([check], offline_dialect(name), now=NOW)[0] for name in DIALECTS}
    assert '"a""b`c]d"' in sql["snowflake"] and '"t""x"' in sql["redshift"]
    assert '`a"b``c]d`' in sql["bigquery"] and '`a"b``c]d`' in sql["databricks"]
    assert '[a"b`c]]d]' in sql["mssql"]
