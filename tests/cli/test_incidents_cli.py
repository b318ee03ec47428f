"""``spine incidents ...`` through the real console script: list, show, ack, resolve."""

from __future__ import annotations

import json

from tests.cli.test_checks_cli import QualityCli, one_line_error, quality_cli

__all__ = ["quality_cli"]  # the fixture, shared with the checks' tests


def _failing_checks(cli: QualityCli) -> None:
    common = ["--connection", "warehouse", "--table", "orders"]
    done = cli.many(
        [
            "checks",
            "add",
            "customer_nulls",
            *common,
            "--type",
            "null_count",
            "--column",
            "customer_id",
            "--config",
            '{"max": 0}',
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
            "fatal",
        ],
    )
    assert [d.code for d in done] == [0, 0], [d.stderr for d in done]
    assert cli("checks", "run", "--all").code == 1


def test_a_failing_check_opens_one_incident_that_repeat_failures_count(
    quality_cli: QualityCli,
) -> None:
    cli = quality_cli
    _failing_checks(cli)
    assert cli("checks", "run", "customer_nulls").code == 1

    incidents = cli.json("incidents", "list")
    table = cli.wide("incidents", "list").stdout

    # fatal before error; one incident per check, the repeat failure counted.
    assert [(i["check_name"], i["severity"], i["status"]) for i in incidents] == [
        ("negative_amounts", "fatal", "open"),
        ("customer_nulls", "error", "open"),
    ]
    assert [i["failure_count"] for i in incidents] == [1, 2]
    assert {
        "id",
        "check_id",
        "status",
        "severity",
        "failure_count",
        "first_seen",
        "last_seen",
        "resolved_at",
        "acknowledged_by",
        "resolution_notes",
    } <= set(incidents[0])
    assert "negative_amounts" in table and "customer_nulls" in table


def test_an_incident_is_shown_acknowledged_and_resolved(quality_cli: QualityCli) -> None:
    cli = quality_cli
    _failing_checks(cli)
    incident = next(i for i in cli.json("incidents", "list") if i["check_name"] == "customer_nulls")
    ident = incident["id"]

    shown = cli.json("incidents", "show", ident)
    acked = cli.json("incidents", "ack", ident, "--by", "ada")
    listed_acked = cli.json("incidents", "list", "--status", "acknowledged")
    resolved = cli.json("incidents", "resolve", ident, "--notes", "backfilled the customers")
    listed_open, listed_resolved = (
        json.loads(d.stdout)
        for d in cli.many(
            ["incidents", "list", "--status", "open", "--json"],
            ["incidents", "list", "--status", "resolved", "--json"],
        )
    )
    text = cli.wide("incidents", "show", ident).stdout

    assert shown == incident
    assert (acked["status"], acked["acknowledged_by"]) == ("acknowledged", "ada")
    assert acked["acknowledged_at"] is not None
    assert [i["id"] for i in listed_acked] == [ident]
    assert (resolved["status"], resolved["resolution_notes"]) == (
        "resolved",
        "backfilled the customers",
    )
    assert resolved["resolved_at"] is not None
    assert [i["check_name"] for i in listed_open] == ["negative_amounts"]
    assert [i["id"] for i in listed_resolved] == [ident]
    assert "backfilled the customers" in text and "resolved" in text


def test_bad_incident_input_is_one_line(quality_cli: QualityCli) -> None:
    cli = quality_cli
    _failing_checks(cli)
    ident = cli.json("incidents", "list")[0]["id"]
    assert cli("incidents", "resolve", ident).code == 0

    bad_status, unknown, not_an_id, no_by, again, ack_resolved = cli.many(
        ["incidents", "list", "--status", "closed"],
        ["incidents", "show", "00000000-0000-0000-0000-000000000000"],
        ["incidents", "show", "nope"],
        ["incidents", "ack", ident],
        ["incidents", "resolve", ident],
        ["incidents", "ack", ident, "--by", "ada"],
    )

    one_line_error(bad_status, "closed")
    one_line_error(unknown, "00000000-0000-0000-0000-000000000000")
    one_line_error(not_an_id, "nope")
    one_line_error(no_by, "--by")
    one_line_error(again, "resolved")
    one_line_error(ack_resolved, "resolved")
