"""``spine automation dispatch|executions|replay``: run the dispatcher, read what it did.

``dispatch`` runs until stopped (SIGTERM/SIGINT), as the leader among dispatchers; with
``--once`` it handles what is in the change log now and exits. ``executions`` lists the
workspace's executions, newest first; ``replay --from POSITION`` has the dispatcher
handle the changes from that position on again (actions already done are not repeated).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from spine.cli.context import state
from spine.cli.output import console, err_console, print_json, print_table, when
from spine.cli.stopping import StopSignals

if TYPE_CHECKING:
    import signal

    from spine.automation.models import Execution

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def dispatch_command(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Handle the changes recorded now, then exit.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run rules for the changes of watched tables until stopped (SIGTERM/SIGINT)."""
    services = state(ctx).services()
    dispatcher = services.automation.dispatcher()
    if once:
        report = dispatcher.drain()
    else:

        def stop(received: signal.Signals) -> str:
            dispatcher.stop()
            return "stopping: finishing the change in progress; Ctrl-C again to stop now"

        if not as_json:
            err_console.print(
                f"dispatching (poll every {dispatcher.poll_seconds:g} s); Ctrl-C to stop",
                highlight=False,
            )
        with StopSignals(stop):
            report = dispatcher.run()
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"dispatched {report.changes} changes: {report.executions} executions "
        f"({report.failed} failed or partial, {report.too_deep} past the depth limit), "
        f"{report.resolved_alerts} expired alerts resolved; position {report.position}",
        highlight=False,
        soft_wrap=True,
    )


def executions_command(
    ctx: typer.Context,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule's.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="success, failed or partial.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Most rows.")] = 50,
    after: Annotated[
        str | None, typer.Option("--after", help="The last id of the previous page.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the workspace's rule executions, newest first."""
    from spine.automation.executions import execution_to_dict

    found = (
        state(ctx)
        .services()
        .automation.executions.executions(rule=rule, status=status, limit=limit, after=after)
    )
    if as_json:
        print_json([execution_to_dict(e) for e in found])
        return
    print_table(
        "Executions",
        ["id", "rule", "position", "status", "actions", "ms", "executed", "error"],
        [_row(e) for e in found],
    )


def _row(execution: Execution) -> tuple[str, ...]:
    actions = execution.actions_executed
    done = sum(1 for a in actions if a.get("status") != "failed")
    return (
        str(execution.id),
        execution.rule_name,
        str(execution.change_position or ""),
        execution.status.value,
        f"{done}/{len(actions)}",
        str(execution.execution_time_ms or 0),
        when(execution.executed_at),
        escape((execution.error_message or "")[:60]),
    )


def replay_command(
    ctx: typer.Context,
    from_position: Annotated[
        int, typer.Option("--from", help="The first position to handle again.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Handle the change log again from a position (actions already done are kept)."""
    report = state(ctx).services().automation.executions.replay(from_position)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"cursor moved from {report.previous_position} to {report.from_position - 1}: "
        f"{report.changes} changes will be handled again by the dispatcher "
        "(`spine automation dispatch --once`, or a running one); actions already done are "
        "not repeated",
        highlight=False,
        soft_wrap=True,
    )
