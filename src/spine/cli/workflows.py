"""``spine workflows list``: what ``--app`` registers, with each workflow's steps.

Reads the registry the app module fills in when imported; the database is not opened,
so it answers "what would `spine run` find?" on any machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from spine.cli.context import state
from spine.cli.output import console, print_json, print_table

if TYPE_CHECKING:
    from spine.orchestration.steps import Step
    from spine.orchestration.workflow import Workflow

app = typer.Typer(help="List the workflows the app module registers.", no_args_is_help=True)


def step_dict(step: Step, order: int) -> dict[str, Any]:
    """A step as JSON, with the field names of a run's steps (``step_name``, ``step_type``)."""
    return {
        "step_order": order,
        "step_name": step.name,
        "step_type": step.type.value,
        "max_attempts": step.retry.max_attempts,
        "timeout_seconds": step.timeout_seconds,
        "pipeline_name": step.pipeline_name,
        "child_workflow_name": step.workflow_name,
        "item_step": None if step.item_step is None else step_dict(step.item_step, 0),
    }


def workflow_dict(workflow: Workflow) -> dict[str, Any]:
    """A workflow as JSON, with the field names of its runs (``workflow_name``, ...)."""
    return {
        "workflow_name": workflow.name,
        "domain": workflow.domain,
        "workflow_version": workflow.version,
        "defined_at": workflow.defined_at,
        "steps": [step_dict(step, order) for order, step in enumerate(workflow.steps)],
    }


@app.command("list")
def list_workflows(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the registered workflows (--app / SPINE_APP) and their steps, by name."""
    from spine.cli.app_module import import_app
    from spine.config import load_settings
    from spine.orchestration.registry import workflows

    import_app(load_settings(app=state(ctx).app).app)
    registered = workflows.all()
    if as_json:
        print_json([workflow_dict(w) for w in registered])
        return
    if not registered:
        console.print("no workflows registered (pass --app MODULE or set SPINE_APP)")
        return
    print_table(
        "Workflows",
        ["workflow", "domain", "version", "steps"],
        [
            (
                w.name,
                w.domain or "",
                w.version,
                ", ".join(f"{s.name} ({s.type.value})" for s in w.steps),
            )
            for w in registered
        ],
    )
