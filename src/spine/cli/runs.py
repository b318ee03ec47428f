"""``spine run``, ``spine worker`` and ``spine runs ...``: start, execute and inspect runs."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from spine.cli.confirm import YesOption, confirm, plural
from spine.cli.context import state
from spine.cli.output import console, err_console, print_json, print_table, when
from spine.cli.parsing import parse_json_object, parse_param_text, parse_time
from spine.cli.run_interrupt import RunInterrupt
from spine.cli.run_view import (
    duration,
    print_events,
    print_logs,
    print_steps,
    print_tracebacks,
    streamed_step_logs,
)
from spine.cli.stopping import StopSignals

if TYPE_CHECKING:
    from spine.orchestration.history import WorkflowRun
    from spine.quality.jobs import JobWorker

app = typer.Typer(help="Inspect, cancel and prune workflow runs.", no_args_is_help=True)

# How often `runs logs --follow` looks for the lines of attempts that ended.
_FOLLOW_POLL_SECONDS = 0.5

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AllStepsOption = Annotated[
    bool,
    typer.Option("--all-steps", help="Print every step attempt, not a summary of a long run."),
]


def _status(value: str | None) -> str | None:
    from spine.core.errors import InvalidInput
    from spine.orchestration.history import WorkflowStatus

    if value is None:
        return None
    try:
        return WorkflowStatus(value.strip().upper()).value
    except ValueError:
        names = ", ".join(s.value for s in WorkflowStatus)
        raise InvalidInput(f"unknown status {value!r}: expected one of {names}") from None


def print_run(run: WorkflowRun) -> None:
    """Print one run as a short table of its fields."""
    print_table(
        f"Run {run.run_id}",
        ["workflow", "status", "started", "duration", "steps", "error"],
        [
            (
                run.workflow_name,
                run.status.value,
                when(run.started_at),
                duration(run),
                f"{run.completed_steps} done, {run.failed_steps} failed, {run.skipped_steps} "
                f"skipped of {run.total_steps}",
                (run.error or "")[:100],
            )
        ],
    )


def run_command(
    ctx: typer.Context,
    workflow: Annotated[str, typer.Argument(help="Name of a registered workflow.")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="A run parameter, key=value: read as the workflow declares it; else JSON"
            " if it reads back as written (10, true, [1, 2]), else text (1.10).",
        ),
    ] = None,
    partition_key: Annotated[
        str | None, typer.Option("--partition-key", help="JSON partition key of the run.")
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Only record the run; a worker executes it.")
    ] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="Start the workflow once per key: if a run of it has this key, use that run.",
        ),
    ] = None,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach", help="On Ctrl-C, hand the run back to the workers instead of cancelling it."
        ),
    ] = False,
    as_json: JsonOption = False,
    all_steps: AllStepsOption = False,
) -> None:
    """Run a workflow: print its run id, execute it here, exit 0 if it COMPLETED.

    The steps' ctx.log lines are printed on stderr as they are logged.

    With --idempotency-key, a run of the workflow that already has the key is used
    instead of a new one: followed here if it is not finished, and the exit code is
    its status's. Ctrl-C (or SIGTERM) cancels the run, or with --detach hands it back to
    the workers, and exits 130.
    """
    from spine.orchestration.params import params_from_text

    raw_params = parse_param_text(param)
    partition = parse_json_object(partition_key, "--partition-key")
    cli = state(ctx)
    cli.load_app()
    services = cli.services()
    runner = services.runner()
    params = params_from_text(runner.workflows.get(workflow).params, raw_params)
    run = runner.submit(workflow, params, partition_key=partition, idempotency_key=idempotency_key)
    if no_wait:
        if as_json:
            print_json(
                {
                    "run_id": run.run_id,
                    "status": run.status.value,
                    "idempotency_key": run.idempotency_key,
                }
            )
        else:
            typer.echo(run.run_id)
        # A run found by its key may have finished already: exit by its outcome.
        if run.is_terminal and run.status.value != "COMPLETED":
            raise typer.Exit(1)
        return
    if not as_json:
        typer.echo(run.run_id)
    interrupt = RunInterrupt(runner, run.run_id, detach=detach)
    with StopSignals(interrupt.stop), streamed_step_logs(services.settings.log_format):
        final = runner.drive(run.run_id)
    if interrupt.received is not None:
        interrupt.finish(as_json=as_json)
    steps = services.runs.get_step_runs(run.run_id)
    completed = final.status.value == "COMPLETED"
    if as_json:
        print_json({"run": final.to_dict(), "steps": [s.to_dict() for s in steps]})
    else:
        print_run(final)
        print_steps(steps, all_steps=all_steps)
        summary = f"run {final.run_id} {final.status.value}"
        if completed:
            typer.echo(f"{summary} in {duration(final)}")
        else:
            # One line, whatever the terminal's width, naming what went wrong.
            reason = f": {final.error}" if final.error else ""
            err_console.print(escape(summary + reason), highlight=False, soft_wrap=True)
    if not completed:
        raise typer.Exit(1)


def run_check_jobs(checks: JobWorker, once: bool) -> None:
    """The check-job loop of ``spine worker`` and ``spine standalone``: a failure is one line."""
    try:
        checks.run(once=once)
    except Exception as error:  # --once during an outage: the jobs stay queued
        err_console.print(f"check jobs: {escape(str(error).splitlines()[0])}", highlight=False)


def worker_command(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, help="Runs executed at once.")
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Execute what is due now (through parks of up to 10 s), say what is left, exit.",
        ),
    ] = False,
    no_dispatch: Annotated[
        bool,
        typer.Option("--no-dispatch", help="Do not run the automation dispatcher in this worker."),
    ] = False,
) -> None:
    """Execute PENDING and resumable runs until stopped (SIGTERM/SIGINT; twice: at once)."""
    from spine.cli.automation_worker import AutomationLoops
    from spine.orchestration.worker import Worker

    cli = state(ctx)
    cli.load_app()
    services = cli.services()
    runner = services.runner()
    worker = Worker(
        runner,
        concurrency=concurrency or services.settings.worker_concurrency,
        poll_seconds=services.settings.worker_poll_seconds,
    )
    grace = services.settings.worker_stop_grace_seconds
    # Queued check jobs (spine.quality) run beside the workflow runs, in a thread.
    # One outage back-off for both loops: an outage is reported once per process.
    checks = services.check_worker(database_wait=runner.database_wait)
    check_thread = threading.Thread(
        target=run_check_jobs, args=(checks, once), name="spine-check-jobs", daemon=True
    )
    check_thread.start()
    # Automation rules' dispatcher (a stand-by while another process leads).
    automation = (
        None
        if no_dispatch
        else AutomationLoops(services, once=once, database_wait=runner.database_wait)
    )
    if automation is not None:
        automation.start()

    def stop(received: signal.Signals) -> str:
        worker.stop()
        checks.stop()
        if automation is not None:
            automation.stop()
        runs = "run" if worker.in_progress == 1 else "runs"
        return (
            f"stopping: finishing {worker.in_progress} {runs} in progress (a step gets up to "
            f"{grace:g} s); Ctrl-C again to stop now"
        )

    with StopSignals(stop):
        executed = worker.run(once=once)
        if not once:
            checks.stop()
        check_thread.join()
        if automation is not None:
            if not once:
                automation.stop()
            automation.join()
    console.print(
        f"worker stopped after {executed} run executions and {checks.executed} check jobs",
        highlight=False,
    )
    if once:
        console.print(f"left: {worker.left()}", highlight=False, soft_wrap=True)


@app.command("list")
def list_runs(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="PENDING, RUNNING, ...")] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", help="Workflow name.")] = None,
    domain: Annotated[str | None, typer.Option("--domain", help="Domain.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Started at or after (ISO).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Most rows.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first."""
    status_value = _status(status)
    since_value = parse_time(since, "--since")
    runs = (
        state(ctx)
        .services()
        .runs.list_workflow_runs(
            workflow_name=workflow,
            domain=domain,
            status=status_value,
            since=since_value,
            limit=limit,
        )
    )
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    print_table(
        "Runs",
        ["run_id", "workflow", "status", "created", "duration", "steps", "error"],
        [
            (
                r.run_id,
                r.workflow_name,
                r.status.value,
                when(r.created_at),
                duration(r),
                f"{r.completed_steps}/{r.total_steps}",
                (r.error or "")[:60],
            )
            for r in runs
        ],
    )


@app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    as_json: JsonOption = False,
    all_steps: AllStepsOption = False,
) -> None:
    """Show a run with its steps, the tracebacks of failed attempts, and its events."""
    store = state(ctx).services().runs
    run = store.run_row(run_id)
    steps = store.get_step_runs(run_id)
    events = store.get_events(run_id)
    if as_json:
        print_json(
            {
                "run": run.to_dict(),
                "steps": [s.to_dict() for s in steps],
                "events": [e.to_dict() for e in events],
            }
        )
        return
    print_run(run)
    print_steps(steps, all_steps=all_steps)
    print_tracebacks(steps)
    print_events(events, steps, all_steps=all_steps)


@app.command("logs")
def run_logs(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    step: Annotated[
        str | None, typer.Option("--step", help="Only this step's attempts (and map items).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the run has finished.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (one object per attempt and line).")
    ] = False,
) -> None:
    """Print the ctx.log lines of a run's step attempts: time level step[attempt] message.

    An attempt's lines are stored when it ends; --follow polls for them until the run is
    COMPLETED, FAILED or CANCELLED.
    """
    store = state(ctx).services().runs
    printed: set[str] = set()
    while True:
        # The status first: once it is terminal, every attempt's lines are stored.
        finished = store.run_row(run_id).is_terminal
        fresh = [log for log in store.get_step_logs(run_id, step) if log.step_id not in printed]
        printed.update(log.step_id for log in fresh)
        if as_json and not follow:
            print_json([log.to_dict() for log in fresh])
        elif as_json:
            for log in fresh:
                sys.stdout.write(json.dumps(log.to_dict()) + "\n")
            sys.stdout.flush()
        else:
            print_logs(fresh)
        if finished or not follow:
            return
        time.sleep(_FOLLOW_POLL_SECONDS)


@app.command("cancel")
def cancel_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    as_json: JsonOption = False,
) -> None:
    """Cancel a run (and its child runs): at once if no worker holds it, else at its next step."""
    run = state(ctx).services().runs.request_cancel(run_id)
    if as_json:
        print_json(run.to_dict())
    elif run.status.value == "CANCELLED":
        typer.echo(f"run {run_id} CANCELLED")
    else:
        typer.echo(f"run {run_id} will be cancelled at its next step")


@app.command("stats")
def run_stats(
    ctx: typer.Context,
    workflow: Annotated[str | None, typer.Option("--workflow", help="Workflow name.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Started at or after (ISO).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Counts per status, success rate and mean duration."""
    since_value = parse_time(since, "--since")
    stats = state(ctx).services().runs.get_run_statistics(workflow_name=workflow, since=since_value)
    if as_json:
        print_json(stats)
        return
    print_table("Run statistics", ["metric", "value"], list(stats.items()))


@app.command("prune")
def prune_runs(
    ctx: typer.Context,
    older_than_days: Annotated[
        int, typer.Option("--older-than-days", min=0, help="Delete finished runs older than this.")
    ],
    as_json: JsonOption = False,
    yes: YesOption = False,
) -> None:
    """Delete finished runs (with steps and events) older than N days; active runs stay.

    Prints what it would delete and asks first (--yes does not ask; without a terminal,
    --yes is needed).
    """
    runs = state(ctx).services().runs
    # With --yes nothing is shown, so nothing is counted (a cron job's prune of a large
    # history skips three counts). Otherwise nothing counted means nothing deleted: a run
    # that qualifies a moment later waits for the next prune rather than going unannounced.
    counts = None if yes else runs.count_old_runs(older_than_days)
    if counts is not None and counts["runs"]:
        confirm(
            f"runs prune --older-than-days {older_than_days}",
            f"{plural(counts['runs'], 'finished run')} created more than "
            f"{plural(older_than_days, 'day')} ago, with their "
            f"{plural(counts['steps'], 'step attempt')} and {plural(counts['events'], 'event')}",
            yes=yes,
        )
    deleted = (
        0 if counts is not None and not counts["runs"] else runs.delete_old_runs(older_than_days)
    )
    if as_json:
        print_json({"deleted": deleted})
    else:
        typer.echo(f"deleted {deleted} runs")
