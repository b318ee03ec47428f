"""``spine automation ...``: watched tables, rules, the dispatcher, executions and alerts.

The commands live in one module per concern (each registers on :data:`app` here):
``automation_capture`` (watch, unwatch, entities), ``automation_rules`` (apply, rules,
templates, test), ``automation_dispatch`` (dispatch, executions, replay) and
``automation_alerts`` (alerts; ``spine roles``). See docs/automation.md.
"""

from __future__ import annotations

import typer

from spine.cli import automation_alerts, automation_capture, automation_dispatch, automation_rules

app = typer.Typer(
    help="Automation rules: watch tables, apply rules, dispatch changes, alerts for people.",
    no_args_is_help=True,
)

app.command("watch")(automation_capture.watch_command)
app.command("unwatch")(automation_capture.unwatch_command)
app.command("entities")(automation_capture.entities_command)
app.command("apply")(automation_rules.apply_command)
app.add_typer(automation_rules.rules_app, name="rules")
app.add_typer(automation_rules.templates_app, name="templates")
app.command("test")(automation_rules.test_command)
app.command("dispatch")(automation_dispatch.dispatch_command)
app.command("executions")(automation_dispatch.executions_command)
app.command("replay")(automation_dispatch.replay_command)
app.add_typer(automation_alerts.alerts_app, name="alerts")
