"""``spine checks ...`` and ``spine quality summary`` through the real console script.

Spine's own database is SQLite or PostgreSQL (``db_url``); the checked data is a SQLite
file registered as connection ``warehouse``, its values known here so that every sensor
value printed can be compared with one computed independently.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.cli.spine_process import Completed, invoke_spine, run_spines

# orders: 8 rows; customer_id null in 1 (12.5 %); amount negative in 2.
ORDERS = [
    (1, "c1", 10.5),
    (2, "c2", 20.25),
    (3, None, 5.0),
    (4, "c4", -1.0),
    (5, "c5", 7.75),
    (6, "c6", -3.5),
    (7, "c7", 100.0),
    (8, "c8", 0.125),
]


@dataclass
class QualityCli:
    """Spine's database, the checked data file, and a way to run ``spine``."""

    cwd: Path
    env: dict[str, str]
    data: Path

    def __call__(self, *args: str) -> Completed:
        return invoke_spine(*args, cwd=self.cwd, env=self.env)

    def wide(self, *args: str) -> Completed:
        """Run ``spine ARGS`` on a terminal wide enough for its tables."""
        return invoke_spine(*args, cwd=self.cwd, env={**self.env, "COLUMNS": "200"})

    def many(self, *invocations: list[str]) -> list[Completed]:
        """Run independent invocations side by side."""
        return run_spines([(args, self.env, self.cwd) for args in invocations], in_process=True)

    def json(self, *args: str) -> Any:
        done = self(*args, "--json")
        assert (done.code, done.stderr) == (0, ""), done.stderr
        return json.loads(done.stdout)


def make_data(path: Path, rows: list[tuple[Any, ...]] = ORDERS) -> None:
    """Write the ``orders`` table into the SQLite file ``path``."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, customer_id TEXT, amount REAL)")
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?)", rows)
    conn.close()


@pytest.fixture
def quality_cli(db_url: str, tmp_path: Path) -> QualityCli:
    """A workspace with connection ``warehouse`` onto a SQLite file holding ``orders``."""
    data = tmp_path / "data.db"
    make_data(data)
    cli = QualityCli(
        cwd=tmp_path,
        env={"SPINE_DATABASE_URL": db_url, "SPINE_SECRET_KEY": Fernet.generate_key().decode()},
        data=data,
    )
    done = cli("connections", "add", "warehouse", "--dialect", "sqlite", "--database", str(data))
    assert done.code == 0, done.stderr
    return cli


def one_line_error(done: Completed, text: str) -> None:
    """Exit 2, nothing on stdout, one line on stderr holding ``text``."""
    assert done.code == 2, done
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert text in done.stderr, done.stderr


ADD_ROWS = ["checks", "add", "orders_rows", "--connection", "warehouse", "--type", "row_count"]


def test_a_check_is_added_listed_shown_disabled_enabled_and_removed(
    quality_cli: QualityCli,
) -> None:
    cli = quality_cli
    added = cli.json(
        *ADD_ROWS,
        "--table",
        "orders",
        "--config",
        '{"min": 1}',
        "--severity",
        "fatal",
        "--tag",
        "sales",
        "--tag",
        "daily",
        "--cron",
        "0 6 * * *",
        "--tz",
        "Europe/Zurich",
        "--description",
        "orders are loaded",
    )
    assert added["name"] == "orders_rows"
    assert (added["check_type"], added["target_table"], added["target_type"]) == (
        "row_count",
        "orders",
        "table",
    )
    assert (added["severity"], added["tags"], added["config"]) == (
        "fatal",
        ["sales", "daily"],
        {"min": 1},
    )
    assert (added["cron_expression"], added["timezone"]) == ("0 6 * * *", "Europe/Zurich")
    assert added["connection_name"] == "warehouse"

    listed, other_table, shown = (
        json.loads(d.stdout)
        for d in cli.many(
            ["checks", "list", "--json"],
            ["checks", "list", "--table", "items", "--json"],
            ["checks", "show", "orders_rows", "--json"],
        )
    )
    table_view = cli.wide("checks", "list").stdout
    assert [c["name"] for c in listed] == ["orders_rows"]
    assert listed[0] == added
    assert other_table == []
    assert shown["results"] == [] and shown["incident"] is None
    assert shown["id"] == added["id"]
    assert "orders_rows" in table_view and "0 6 * * *" in table_view

    assert cli.json("checks", "disable", "orders_rows")["enabled"] is False
    assert cli.json("checks", "enable", "orders_rows")["enabled"] is True
    assert cli("checks", "remove", "orders_rows").stdout == "check orders_rows removed\n"
    one_line_error(cli("checks", "show", "orders_rows"), "orders_rows")
    assert cli.json("checks", "list") == []


def test_bad_input_to_add_is_one_line_and_saves_nothing(quality_cli: QualityCli) -> None:
    cli = quality_cli
    cases = {
        "unknown type": (
            [*ADD_ROWS[:-1], "row_cont", "--table", "orders"],
            "row_cont",
        ),
        "bad config json": (
            [*ADD_ROWS, "--table", "orders", "--config", "{max: 1}"],
            "--config is not valid JSON",
        ),
        "bad severity": (
            [*ADD_ROWS, "--table", "orders", "--severity", "critical"],
            "critical",
        ),
        "tz without cron": (
            [*ADD_ROWS, "--table", "orders", "--tz", "UTC"],
            "--tz is the zone of --cron",
        ),
        "bad cron": (
            [*ADD_ROWS, "--table", "orders", "--cron", "61 * * * *"],
            "61",
        ),
        "missing table": ([*ADD_ROWS, "--table", "orderz"], "orderz"),
        "missing column": (
            [
                "checks",
                "add",
                "nulls",
                "--connection",
                "warehouse",
                "--type",
                "null_count",
                "--table",
                "orders",
                "--column",
                "customer",
            ],
            "customer",
        ),
        "unknown connection": (
            [
                "checks",
                "add",
                "x",
                "--connection",
                "nowhere",
                "--type",
                "row_count",
                "--table",
                "t",
            ],
            "nowhere",
        ),
    }
    outcomes = cli.many(*(args for args, _ in cases.values()))
    for (name, (_, text)), done in zip(cases.items(), outcomes, strict=True):
        assert done.code == 2, (name, done)
        one_line_error(done, text)
    assert cli.json("checks", "list") == []


def _add_orders_checks(cli: QualityCli) -> None:
    common = ["--connection", "warehouse", "--table", "orders"]
    outcomes = cli.many(
        ["checks", "add", "rows", *common, "--type", "row_count", "--config", '{"min": 1}'],
        [
            "checks",
            "add",
            "customer_nulls",
            *common,
            "--type",
            "null_percent",
            "--column",
            "customer_id",
            "--config",
            '{"max": 10}',
        ],
        [
            "checks",
            "add",
            "negative_amounts",
            *common,
            "--type",
            "failed_rows",
            "--config",
            '{"condition": "amount < 0", "max": 0}',
            "--severity",
            "warning",
        ],
    )
    assert [d.code for d in outcomes] == [0, 0, 0], [d.stderr for d in outcomes]


def test_run_prints_one_line_per_check_and_exits_1_on_an_error_failure(
    quality_cli: QualityCli,
) -> None:
    cli = quality_cli
    _add_orders_checks(cli)

    done = cli("checks", "run", "--table", "orders")

    assert done.code == 1, done.stderr
    lines = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line}
    assert set(lines) == {"rows", "customer_nulls", "negative_amounts"}
    assert lines["rows"][:3] == ["8", "passed", "-"]
    # 1 null in 8 rows: 12.5 %, over the max of 10 at the check's severity (error).
    assert lines["customer_nulls"][:3] == ["12.5", "FAILED", "error"]
    assert lines["negative_amounts"][:3] == ["2", "FAILED", "warning"]
    assert all(words[3].isdigit() and words[4] == "ms" for words in lines.values())


def test_run_json_and_exit_codes(quality_cli: QualityCli) -> None:
    cli = quality_cli
    _add_orders_checks(cli)
    nulls = sum(1 for row in ORDERS if row[1] is None) * 100 / len(ORDERS)

    warning_only, as_json, nothing, unknown, empty_table = cli.many(
        ["checks", "run", "negative_amounts", "rows"],
        ["checks", "run", "--all", "--json"],
        ["checks", "run"],
        ["checks", "run", "rows", "no_such_check"],
        ["checks", "run", "--table", "items"],
    )

    assert warning_only.code == 0, warning_only.stderr  # a warning does not fail the run
    assert as_json.code == 1, as_json.stderr
    outcomes = {o["check"]: o for o in json.loads(as_json.stdout)}
    assert set(outcomes["rows"]) >= {
        "check",
        "sensor_value",
        "rule_passed",
        "severity",
        "execution_time_ms",
        "error_message",
    }
    assert outcomes["rows"]["sensor_value"] == len(ORDERS)
    assert outcomes["customer_nulls"]["sensor_value"] == nulls
    assert (outcomes["customer_nulls"]["rule_passed"], outcomes["customer_nulls"]["severity"]) == (
        False,
        "error",
    )
    assert outcomes["rows"]["error_message"] is None
    one_line_error(nothing, "--all")
    one_line_error(unknown, "no_such_check")
    one_line_error(empty_table, "no enabled check")


def test_a_check_that_cannot_run_fails_at_its_severity_with_its_error(
    quality_cli: QualityCli,
) -> None:
    cli = quality_cli
    _add_orders_checks(cli)
    quality_cli.data.unlink()  # the database is gone

    done = cli("checks", "run", "rows", "--json")

    assert done.code == 1, done.stderr
    (outcome,) = json.loads(done.stdout)
    assert outcome["rule_passed"] is False
    assert outcome["severity"] == "error"
    assert outcome["error_message"]


def test_results_are_listed_newest_first_with_since_and_limit(quality_cli: QualityCli) -> None:
    cli = quality_cli
    _add_orders_checks(cli)
    for _ in range(3):
        assert cli("checks", "run", "rows").code == 0

    results = cli.json("checks", "results", "rows")
    limited, future = cli.many(
        ["checks", "results", "rows", "--limit", "2", "--json"],
        ["checks", "results", "rows", "--since", "2999-01-01T00:00:00Z", "--json"],
    )
    table = cli.wide("checks", "results", "rows")

    assert len(results) == 3
    times = [r["executed_at"] for r in results]
    assert times == sorted(times, reverse=True)
    assert [r["id"] for r in json.loads(limited.stdout)] == [r["id"] for r in results[:2]]
    assert json.loads(future.stdout) == []
    assert all(r["sensor_value"] == 8 and r["rule_passed"] for r in results)
    assert table.code == 0 and "Z" in table.stdout  # times shown with their zone
    one_line_error(cli("checks", "results", "rows", "--since", "yesterday"), "--since")


def test_show_has_recent_results_and_the_open_incident(quality_cli: QualityCli) -> None:
    cli = quality_cli
    _add_orders_checks(cli)
    assert cli("checks", "run", "customer_nulls").code == 1

    shown = cli.json("checks", "show", "customer_nulls")
    text = cli.wide("checks", "show", "customer_nulls").stdout

    assert len(shown["results"]) == 1
    assert shown["results"][0]["rule_passed"] is False
    assert shown["incident"]["status"] == "open"
    assert shown["incident"]["check_name"] == "customer_nulls"
    assert "Open incident" in text and "FAILED" in text


def test_types_lists_the_catalogue(quality_cli: QualityCli) -> None:
    types = {t["name"]: t for t in quality_cli.json("checks", "types")}
    table = quality_cli.wide("checks", "types").stdout

    for name in ("row_count", "null_percent", "duplicate_count", "freshness", "custom_sql"):
        assert name in types
    assert types["row_count"]["level"] == "table"
    assert types["null_percent"]["level"] == "column"
    assert "sql" in types["custom_sql"]["config_keys"]
    assert types["null_percent"]["sensor"]
    assert "duplicate_count" in table


def test_quality_summary_shows_the_four_queries(quality_cli: QualityCli) -> None:
    cli = quality_cli
    _add_orders_checks(cli)
    assert cli("checks", "run", "--all").code == 1

    summary = cli.json("quality", "summary")
    text = cli.wide("quality", "summary").stdout

    assert set(summary) == {"latest", "pass_rate_by_table", "open_incidents", "due"}
    latest = {row["name"]: row for row in summary["latest"]}
    assert latest["rows"]["last_passed"] is True and latest["rows"]["last_value"] == 8
    assert latest["customer_nulls"]["last_passed"] is False
    (rate,) = summary["pass_rate_by_table"]
    assert (rate["target_table"], rate["total_runs"], rate["passed"]) == ("orders", 3, 1)
    assert rate["pass_rate"] == pytest.approx(33.3)
    assert [i["check_name"] for i in summary["open_incidents"]] == [
        "customer_nulls",
        "negative_amounts",
    ]  # error before warning
    assert summary["due"] == []
    for title in ("Active checks", "Pass rate by table", "Open incidents", "Checks due"):
        assert title in text


DOCUMENT = """
defaults:
  connection: warehouse
  table: orders
checks:
  - name: rows
    type: row_count
    config: {min: 1}
  - name: customer_nulls
    type: null_percent
    column: customer_id
    config: {max: 10}
    cron: "0 6 * * *"
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], str]:
    """``write(text)``: the path of a YAML file holding ``text``."""

    def writer(text: str, name: str = "checks.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return writer


def test_apply_previews_writes_and_a_second_apply_has_nothing_to_do(
    quality_cli: QualityCli, write: Callable[[str], str]
) -> None:
    cli = quality_cli
    path = write(DOCUMENT)

    preview = cli("checks", "apply", path, "--dry-run")
    assert preview.code == 0, preview.stderr
    assert preview.stdout.splitlines() == [
        "+ rows (row_count on warehouse:orders)",
        "+ customer_nulls (null_percent on warehouse:orders.customer_id)",
        "= 0 unchanged",
        "dry run: nothing written",
    ]
    assert cli.json("checks", "list") == []

    applied = cli("checks", "apply", path)
    assert applied.code == 0, applied.stderr
    assert applied.stdout.splitlines()[-1] == "applied: 2 created, 0 updated, 0 deleted"
    saved = {c["name"]: c for c in cli.json("checks", "list")}
    assert set(saved) == {"rows", "customer_nulls"}
    assert saved["customer_nulls"]["cron_expression"] == "0 6 * * *"
    assert saved["customer_nulls"]["target_column"] == "customer_id"

    again = cli("checks", "apply", path)
    assert again.stdout.splitlines() == ["= 2 unchanged", "nothing to do"]
    assert {c["name"]: c for c in cli.json("checks", "list")} == saved


def test_apply_updates_changed_fields_and_prune_deletes_the_rest(
    quality_cli: QualityCli, write: Callable[[str], str]
) -> None:
    cli = quality_cli
    assert cli("checks", "apply", write(DOCUMENT)).code == 0
    assert (
        cli(
            "checks",
            "add",
            "stray",
            "--connection",
            "warehouse",
            "--type",
            "row_count",
            "--table",
            "orders",
        ).code
        == 0
    )
    changed = write(
        DOCUMENT.replace("{max: 10}", "{max: 20}").replace('cron: "0 6 * * *"', "severity: warning")
    )

    preview = cli("checks", "apply", changed, "--prune", "--dry-run")
    plan = cli.json("checks", "apply", changed, "--prune", "--dry-run")
    applied = cli("checks", "apply", changed, "--prune")

    assert preview.stdout.splitlines() == [
        '~ customer_nulls: config: {"max": 10} -> {"max": 20}; severity: error -> warning; '
        "cron: 0 6 * * * -> (none)",
        "- stray",
        "= 1 unchanged",
        "dry run: nothing written",
    ]
    assert plan["update"] == [
        {
            "name": "customer_nulls",
            "changes": {
                "config": {"old": {"max": 10}, "new": {"max": 20}},
                "severity": {"old": "error", "new": "warning"},
                "cron": {"old": "0 6 * * *", "new": None},
            },
        }
    ]
    assert (plan["delete"], plan["unchanged"], plan["applied"]) == (["stray"], ["rows"], False)
    assert applied.code == 0, applied.stderr
    assert applied.stdout.splitlines()[-1] == "applied: 0 created, 1 updated, 1 deleted"
    saved = {c["name"]: c for c in cli.json("checks", "list")}
    assert set(saved) == {"rows", "customer_nulls"}
    nulls = saved["customer_nulls"]
    assert (nulls["config"], nulls["severity"], nulls["cron_expression"]) == (
        {"max": 20},
        "warning",
        None,
    )
    assert cli("checks", "apply", changed, "--prune").stdout.splitlines()[-1] == "nothing to do"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("type: null_percent", "type: null_percents"), "check 'customer_nulls': field 'type'"),
        (("{max: 10}", "{max: ten}"), "check 'customer_nulls': field 'config'"),
        (("{max: 10}", "{maximum: 10}"), "check 'customer_nulls': field 'config'"),
        (('"0 6 * * *"', '"0 6 * *"'), "check 'customer_nulls': field 'cron'"),
        (("    column: customer_id", "    severity: bad"), "field 'severity'"),
        (
            ("    column: customer_id", "    column: customer_id\n    connection: nowhere"),
            "check 'customer_nulls': field 'connection'",
        ),
        # Only the database can tell: refused at the write, after `rows` was created.
        (("    column: customer_id", "    column: customer"), "check 'customer_nulls'"),
        (("    column: customer_id", "    column: customer_id\n    table: nothing"), "nothing"),
    ],
)
def test_a_bad_document_is_one_line_naming_the_check_and_writes_nothing(
    quality_cli: QualityCli,
    write: Callable[[str], str],
    change: tuple[str, str],
    message: str,
) -> None:
    path = write(DOCUMENT.replace(*change))

    done = quality_cli("checks", "apply", path)

    one_line_error(done, message)
    assert "checks.yaml" in done.stderr
    assert quality_cli.json("checks", "list") == []


def test_apply_of_a_missing_or_malformed_file_is_one_line(
    quality_cli: QualityCli, write: Callable[[str], str], tmp_path: Path
) -> None:
    missing, malformed = quality_cli.many(
        ["checks", "apply", str(tmp_path / "absent.yaml")],
        ["checks", "apply", write("checks: [\n", "broken.yaml")],
    )
    one_line_error(missing, "cannot read")
    one_line_error(malformed, "broken.yaml: not valid YAML")
