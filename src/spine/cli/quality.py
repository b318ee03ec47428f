"""``spine quality summary``: spec 004's four useful queries, for the workspace.

The latest result of each enabled check, the pass rate by table over 7 days, the open
incidents by severity, and the checks due to run.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spine.cli.checks import print_whole_ids, sensor_text
from spine.cli.context import state
from spine.cli.output import print_json, print_table, when

app = typer.Typer(help="Data quality across the workspace.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("summary")
def summary_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Latest result per active check, pass rate by table (7 days), open incidents, checks due."""
    summary = state(ctx).services().quality.summary()
    if as_json:
        print_json(summary.to_dict())
        return
    print_table(
        "Active checks with latest results",
        ["name", "table", "type", "last run", "passed", "value"],
        [
            (
                row["name"],
                row["target_table"],
                row["check_type"],
                when(row["last_run"]),
                _passed(row["last_passed"]),
                sensor_text(row["last_value"]),
            )
            for row in summary.latest
        ],
    )
    print_table(
        "Pass rate by table (last 7 days)",
        ["table", "runs", "passed", "pass rate %"],
        [
            (row["target_table"], row["total_runs"], row["passed"], row["pass_rate"])
            for row in summary.pass_rate_by_table
        ],
    )
    print_whole_ids(
        "Open incidents",
        ["id", "severity", "failures", "last seen", "check", "table", "connection"],
        [
            (
                row["incident_id"],
                row["severity"],
                row["failure_count"],
                when(row["last_seen"]),
                row["check_name"],
                row["target_table"],
                row["connection_name"],
            )
            for row in summary.open_incidents
        ],
    )
    print_table(
        "Checks due",
        ["schedule", "check", "cron", "next run"],
        [
            (row["schedule_id"], row["name"], row["cron_expression"], when(row["next_run_at"]))
            for row in summary.due
        ],
    )


def _passed(value: object) -> str:
    if value is None:
        return ""
    return "yes" if value else "FAILED"
