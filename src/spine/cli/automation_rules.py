"""``spine automation apply|rules|templates|test``: rules as code, and trying them out.

``apply FILE.yaml`` prints the plan (``+`` create, ``~`` update with field old -> new,
``-`` delete with ``--prune``, ``=`` unchanged) and writes it in one transaction; a bad
file is one error line naming the file, the rule and the field (exit 2) and writes
nothing. ``test RULE --event JSON`` says whether the event would fire the rule,
condition by condition, and what its actions would be sent; it changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spine.cli.context import state
from spine.cli.output import console, print_json, print_table, when
from spine.cli.parsing import parse_json_object
from spine.core.errors import InvalidInput

if TYPE_CHECKING:
    from spine.automation.models import Rule
    from spine.automation.service import RuleService

rules_app = typer.Typer(help="The workspace's automation rules.", no_args_is_help=True)
templates_app = typer.Typer(help="Action templates (default configs).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArgument = Annotated[str, typer.Argument(help="The rule's name or id.")]
_MAX_BYTES = 10 * 1024 * 1024


def _rules(ctx: typer.Context) -> RuleService:
    return state(ctx).services().automation.rules


def apply_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A YAML file of rules and templates.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; write nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Also delete the workspace's rules and templates the file omits."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Bring the workspace's rules and templates to a YAML file (docs/automation.md).

    Prints the plan first. Everything is checked before anything is written; applying
    the same file again has nothing to do.
    """
    from spine.automation.declare import load_document

    document = load_document(_read(path), path.name)
    plan = _rules(ctx).apply(document, source=path.name, dry_run=dry_run, prune=prune)
    if as_json:
        print_json(plan.to_dict())
        return
    for line in plan.lines():
        typer.echo(line)
    if plan.empty:
        typer.echo("nothing to do")
    elif dry_run:
        typer.echo("dry run: nothing written")
    else:
        typer.echo(
            f"applied: {len(plan.create)} created, {len(plan.update)} updated, "
            f"{len(plan.delete)} deleted"
        )


@rules_app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The workspace's rules."""
    from spine.automation.service import rule_to_dict

    rules = _rules(ctx).rules()
    if as_json:
        print_json([rule_to_dict(rule) for rule in rules])
        return
    print_table(
        "Automation rules",
        ["name", "entity", "trigger", "conditions", "actions", "depends on", "active", "next fire"],
        (
            [
                rule.name,
                rule.entity,
                _trigger(rule),
                len(rule.conditions),
                len(rule.actions),
                ", ".join(rule.depends_on),
                "yes" if rule.is_active else "no",
                when(rule.next_fire_at),
            ]
            for rule in rules
        ),
    )


@rules_app.command("show")
def show_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """One rule: its trigger, conditions, parents and actions."""
    from spine.automation.service import rule_to_dict

    rule = _rules(ctx).rule(name)
    if as_json:
        print_json(rule_to_dict(rule))
        return
    _describe(rule)


@rules_app.command("enable")
def enable_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Make a rule active again."""
    _switched(_rules(ctx).enable(name), "enabled", as_json)


@rules_app.command("disable")
def disable_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Stop a rule answering changes (it is kept)."""
    _switched(_rules(ctx).disable(name), "disabled", as_json)


@rules_app.command("remove")
def remove_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Delete a rule with its actions, dependencies and executions."""
    _switched(_rules(ctx).remove(name), "removed", as_json)


@templates_app.command("list")
def templates_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The workspace's action templates."""
    from spine.automation.service import template_to_dict

    templates = _rules(ctx).templates()
    if as_json:
        print_json([template_to_dict(template) for template in templates])
        return
    print_table(
        "Action templates",
        ["name", "action type", "default config", "description"],
        (
            [t.name, t.action_type.value, _compact(t.default_config), t.description]
            for t in templates
        ),
    )


def test_command(
    ctx: typer.Context,
    rule: Annotated[str, typer.Argument(help="The rule's name or id.")],
    event: Annotated[
        str,
        typer.Option(
            "--event",
            help='The change: {"operation": "update", "old": {...}, "new": {...}}.',
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Would this event fire the rule? Each condition, then the actions' rendered configs.

    Nothing is written and no action runs.
    """
    parsed = parse_json_object(event, "--event")
    assert parsed is not None
    result = _rules(ctx).test(rule, parsed)
    if as_json:
        print_json(result.to_dict())
        return
    out = result.to_dict()
    verdict = "matches" if out["matched"] else "does not match"
    typer.echo(f"rule {out['rule']} {verdict} this {out['operation']} event")
    mark = "ok  " if out["trigger_matched"] else "FAIL"
    typer.echo(f"  {mark} trigger {out['trigger']} (event: {out['operation']})")
    for condition in out["conditions"]:
        mark = "ok  " if condition["matched"] else "FAIL"
        typer.echo(f"  {mark} {condition['reason']}")
    if not out["conditions"]:
        typer.echo("       no conditions: every event of the trigger matches")
    typer.echo("actions:" if out["actions"] else "actions: none")
    for action in out["actions"]:
        typer.echo(f"  {action['execution_order']}. {action['name']} ({action['action_type']})")
        if action.get("error"):
            typer.echo(f"       cannot render: {action['error']}")
        else:
            typer.echo(f"       {_compact(action['config'])}")


# -- printing -------------------------------------------------------------------------------


def _describe(rule: Rule) -> None:
    console.print(f"[bold]{rule.name}[/bold]  ({'active' if rule.is_active else 'disabled'})")
    if rule.description:
        typer.echo(rule.description)
    typer.echo(f"entity:     {rule.entity}")
    typer.echo(f"trigger:    {_trigger(rule)}")
    if rule.next_fire_at is not None:
        typer.echo(f"next fire:  {when(rule.next_fire_at)}")
    typer.echo(f"depends on: {', '.join(rule.depends_on) or '-'}")
    typer.echo("conditions:" if rule.conditions else "conditions: none (every event)")
    for condition in rule.conditions:
        shown = condition.to_dict()
        value = shown.get("value", shown.get("previous_value"))
        typer.echo(f"  {condition.field_name} {condition.operator.value} {json.dumps(value)}")
    typer.echo("actions:" if rule.actions else "actions: none")
    for action in rule.actions:
        template = f", template {action.template}" if action.template else ""
        typer.echo(
            f"  {action.execution_order}. {action.name} ({action.action_type.value}{template})"
        )
        typer.echo(f"       {_compact(action.config)}")


def _switched(rule: Rule, what: str, as_json: bool) -> None:
    from spine.automation.service import rule_to_dict

    if as_json:
        print_json(rule_to_dict(rule))
        return
    typer.echo(f"rule {rule.name} {what}")


def _trigger(rule: Rule) -> str:
    if rule.schedule is None:
        return rule.trigger.value
    return f"scheduled {rule.schedule.cron} ({rule.schedule.timezone})"


def _compact(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise InvalidInput(f"{path}: larger than {_MAX_BYTES // (1024 * 1024)} MiB")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror or error}") from None
