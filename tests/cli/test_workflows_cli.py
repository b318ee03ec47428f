"""``spine workflows list``: what ``--app`` registers, with each workflow's steps."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.spine_process import invoke_spine

APP = """\
from spine import RetryPolicy, Step, Workflow


def noop(ctx):
    return None


Workflow("demo.child", [Step.lambda_("only", noop)])
Workflow(
    "demo.etl",
    [
        Step.lambda_("extract", noop, retry=RetryPolicy(max_attempts=3), timeout_seconds=60),
        Step.wait("settle", seconds=1),
        Step.workflow("sub", "demo.child"),
    ],
    domain="demo",
    version=2,
)
"""


def test_workflows_list_shows_the_app_workflows_and_their_steps(tmp_path: Path) -> None:
    (tmp_path / "pipelines.py").write_text(APP)

    as_json = invoke_spine("--app", "pipelines", "workflows", "list", "--json", cwd=tmp_path)
    table = invoke_spine(
        "workflows", "list", cwd=tmp_path, env={"SPINE_APP": "pipelines", "COLUMNS": "200"}
    )

    assert (as_json.code, as_json.stderr) == (0, "")
    listed = json.loads(as_json.stdout)
    assert [w["workflow_name"] for w in listed] == ["demo.child", "demo.etl"]
    etl = listed[1]
    assert {k: v for k, v in etl.items() if k != "steps"} == {
        "workflow_name": "demo.etl",
        "domain": "demo",
        "workflow_version": 2,
        "defined_at": f"{tmp_path / 'pipelines.py'}:9",
    }
    assert [(s["step_order"], s["step_name"], s["step_type"]) for s in etl["steps"]] == [
        (0, "extract", "lambda"),
        (1, "settle", "wait"),
        (2, "sub", "workflow"),
    ]
    assert (etl["steps"][0]["max_attempts"], etl["steps"][0]["timeout_seconds"]) == (3, 60)
    assert etl["steps"][2]["child_workflow_name"] == "demo.child"
    assert table.code == 0, table.stderr
    assert "demo.etl" in table.stdout and "extract (lambda), settle (wait)" in table.stdout
    assert not (tmp_path / "spine.db").exists()  # the database is not opened


def test_workflows_list_without_an_app_says_how_to_give_one(tmp_path: Path) -> None:
    done = invoke_spine("workflows", "list", cwd=tmp_path)

    assert (done.code, done.stderr) == (0, "")
    assert "no workflows registered (pass --app MODULE or set SPINE_APP)" in done.stdout


def test_an_app_defining_a_name_twice_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "twice.py").write_text(
        APP + 'Workflow("demo.etl", [Step.lambda_("again", noop)])\n'
    )

    done = invoke_spine("--app", "twice", "workflows", "list", cwd=tmp_path)

    assert done.code == 2
    where = tmp_path / "twice.py"
    assert done.stderr.replace("\n", "") == (
        "error: app module 'twice' failed on import: WorkflowDefinedTwice: workflow "
        f"'demo.etl' is defined twice (at {where}:9 and at {where}:19): give each "
        "workflow its own name"
    )
