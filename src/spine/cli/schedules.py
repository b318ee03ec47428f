"""``spine schedules ...`` (define and inspect schedules) and ``spine scheduler`` (fire them)."""

from __future__ import annotations

import signal
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from spine.cli.context import state
from spine.cli.output import console, err_console, print_json, print_table
from spine.cli.output import when as zoned_time
from spine.cli.parsing import parse_params, parse_time
from spine.cli.stopping import StopSignals

if TYPE_CHECKING:
    from spine.scheduling import Schedule

app = typer.Typer(help="Define, inspect, pause and remove schedules.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArgument = Annotated[str, typer.Argument(help="The schedule's name.")]


def _when(value: datetime | None, tz: str = "UTC") -> str:
    from spine.scheduling.cron import zone

    return zoned_time(value, zone(tz))


def _trigger_text(schedule: Schedule) -> str:
    if schedule.cron_expression:
        return f"cron {schedule.cron_expression}"
    if schedule.interval_seconds:
        return f"every {schedule.interval_seconds}s"
    return f"at {_when(schedule.run_at, schedule.timezone)}"


def _local_time(raw: str | None, tz: str, option: str) -> datetime | None:
    """An ISO time; one without an offset is read on the wall clock of ``tz``."""
    from spine.scheduling.cron import zone

    return parse_time(raw, option, naive_in=zone(tz))


def _print_times(times: list[datetime], as_json: bool) -> None:
    if as_json:
        print_json([t.isoformat() for t in times])
        return
    for when in times:
        typer.echo(when.isoformat())


@app.command("add")
def add_schedule(
    ctx: typer.Context,
    name: NameArgument,
    workflow: Annotated[str, typer.Option("--workflow", help="Workflow to run.")],
    cron: Annotated[
        str | None, typer.Option("--cron", help="5-field cron expression or @daily etc.")
    ] = None,
    every: Annotated[int | None, typer.Option("--every", help="Interval in seconds.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="One-off time (ISO-8601).")] = None,
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone of the schedule.")] = "UTC",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="A run parameter, key=value.")
    ] = None,
    max_instances: Annotated[
        int, typer.Option("--max-instances", help="Most active runs of this schedule.")
    ] = 1,
    misfire_grace: Annotated[
        int | None,
        typer.Option("--misfire-grace", help="Seconds a fire may be late; later is MISSED."),
    ] = None,
    catchup: Annotated[
        str, typer.Option("--catchup", help="After downtime: coalesce, all or none.")
    ] = "coalesce",
    dst_gap: Annotated[
        str | None,
        typer.Option("--dst-gap", help="Times in a DST gap: end (run at its end) or skip."),
    ] = None,
    dst_fold: Annotated[
        str | None,
        typer.Option("--dst-fold", help="Times in a repeated hour: first or both."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Save a schedule (checked first: nothing is saved if anything is wrong)."""
    from spine.orchestration.registry import workflows
    from spine.scheduling import DstPolicy, new_schedule

    params = parse_params(param)
    at_time = _local_time(at, tz, "--at")
    policy = None
    if dst_gap is not None or dst_fold is not None:
        parts = [f"gap={dst_gap}" if dst_gap else "", f"fold={dst_fold}" if dst_fold else ""]
        policy = DstPolicy.parse(",".join(p for p in parts if p))
    cli = state(ctx)
    cli.load_app()
    services = cli.services()
    schedule = new_schedule(
        name,
        workflow=workflow,
        now=services.clock.now(),
        registry=workflows,
        cron=cron,
        every=every,
        at=at_time,
        timezone=tz,
        params=params,
        max_instances=max_instances,
        misfire_grace_seconds=misfire_grace,
        catchup=catchup,
        dst_policy=policy,
    )
    services.schedules.add(schedule)
    if as_json:
        print_json(schedule.to_dict())
    else:
        typer.echo(
            f"schedule {schedule.name} saved; next run "
            f"{_when(schedule.next_run_at, schedule.timezone) or 'never'}"
        )


@app.command("list")
def list_schedules(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List schedules by name."""
    schedules = state(ctx).services().schedules.list_schedules()
    if as_json:
        print_json([s.to_dict() for s in schedules])
        return
    print_table(
        "Schedules",
        ["name", "workflow", "trigger", "tz", "enabled", "next run", "last run", "last status"],
        [
            (
                s.name,
                s.target_name,
                _trigger_text(s),
                s.timezone,
                "yes" if s.enabled else "paused",
                _when(s.next_run_at, s.timezone),
                _when(s.last_run_at, s.timezone),
                s.last_run_status,
            )
            for s in schedules
        ],
    )


@app.command("show")
def show_schedule(
    ctx: typer.Context,
    name: NameArgument,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Recent fires.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show a schedule with its recent fires (schedule runs), newest first."""
    store = state(ctx).services().schedules
    schedule = store.get(name)
    runs = store.runs(schedule.id, limit)
    if as_json:
        print_json({**schedule.to_dict(), "runs": [r.to_dict() for r in runs]})
        return
    print_table(
        f"Schedule {schedule.name}",
        ["field", "value"],
        [(k, v) for k, v in schedule.to_dict().items()],
    )
    print_table(
        "Recent fires",
        ["scheduled_at", "status", "run_id", "started_at", "completed_at", "reason"],
        [
            (
                _when(r.scheduled_at, schedule.timezone),
                r.status.value,
                r.run_id,
                _when(r.started_at, schedule.timezone),
                _when(r.completed_at, schedule.timezone),
                (r.error or r.skip_reason or "")[:80],
            )
            for r in runs
        ],
    )


@app.command("pause")
def pause_schedule(ctx: typer.Context, name: NameArgument) -> None:
    """Stop a schedule from firing (its definition and history stay)."""
    state(ctx).services().schedules.set_enabled(name, False, None)
    typer.echo(f"schedule {name} paused")


@app.command("resume")
def resume_schedule(ctx: typer.Context, name: NameArgument) -> None:
    """Resume a paused schedule from now on (fires it missed while paused are not run)."""
    from spine.scheduling.triggers import trigger_for

    services = state(ctx).services()
    schedule = services.schedules.get(name)
    following = trigger_for(schedule).next_after(services.clock.now())
    services.schedules.set_enabled(name, True, following)
    typer.echo(
        f"schedule {name} resumed; next run {_when(following, schedule.timezone) or 'never'}"
    )


@app.command("remove")
def remove_schedule(ctx: typer.Context, name: NameArgument) -> None:
    """Delete a schedule and its fire history (the workflow runs it started stay)."""
    state(ctx).services().schedules.remove(name)
    typer.echo(f"schedule {name} removed")


@app.command("next")
def next_times(
    ctx: typer.Context,
    name: NameArgument,
    count: Annotated[int, typer.Option("--count", min=1, max=10_000, help="How many.")] = 5,
    after: Annotated[str | None, typer.Option("--after", help="Start after (ISO).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Print a saved schedule's next fire times (ISO-8601, in its zone)."""
    from spine.scheduling import upcoming

    services = state(ctx).services()
    schedule = services.schedules.get(name)
    start = parse_time(after, "--after") or services.clock.now()
    _print_times(upcoming(schedule, start, count), as_json)


@app.command("preview")
def preview(
    ctx: typer.Context,
    cron: Annotated[str, typer.Option("--cron", help="5-field cron expression or @daily etc.")],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone.")] = "UTC",
    after: Annotated[str | None, typer.Option("--after", help="Start after (ISO).")] = None,
    count: Annotated[int, typer.Option("--count", min=1, max=10_000, help="How many.")] = 5,
    dst_gap: Annotated[str | None, typer.Option("--dst-gap", help="Override: end or skip.")] = None,
    dst_fold: Annotated[
        str | None, typer.Option("--dst-fold", help="Override: first or both.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print the next fire times of an expression that is not saved (ISO-8601, in --tz)."""
    from spine.core.clock import SystemClock
    from spine.scheduling import next_fire_times

    start = parse_time(after, "--after") or SystemClock().now()
    parts = [f"gap={dst_gap}" if dst_gap else "", f"fold={dst_fold}" if dst_fold else ""]
    policy = ",".join(p for p in parts if p) or None
    _print_times(next_fire_times(cron, tz, start, count, dst_policy=policy), as_json)


@app.command("trigger")
def trigger_schedule(
    ctx: typer.Context,
    name: NameArgument,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Logical time (ISO; no offset: the schedule's zone)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fire a schedule now, or for the logical time --at; print the run's id.

    The run gets the data interval of that logical time and the params rendered for it,
    PENDING for a worker. A run of this schedule for the same logical time (made by the
    scheduler, a backfill or an earlier trigger --at) is reused, not made twice.
    """
    from spine.scheduling.data_runs import new_schedule_run

    cli = state(ctx)
    cli.load_app()
    services = cli.services()
    schedule = services.schedules.get(name)
    logical_time = _local_time(at, schedule.timezone, "--at") or services.clock.now()
    runner = services.runner()
    new, planned = new_schedule_run(runner, schedule, logical_time, manual=True)
    run = runner.store.create_run(new)
    created = run.run_id == new.run_id
    if as_json:
        print_json({**run.to_dict(), **planned.interval.to_dict(), "created": created})
    elif created:
        typer.echo(run.run_id)
    else:
        typer.echo(run.run_id)
        err_console.print(
            f"run {run.run_id} ({run.status.value}) already covers this logical time",
            highlight=False,
            soft_wrap=True,
        )


def scheduler_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Fire what is due now, then exit.")] = False,
) -> None:
    """Fire due schedules until stopped (SIGTERM/SIGINT); workers execute the runs."""
    from spine.core.errors import ConfigurationError

    cli = state(ctx)
    cli.load_app()
    services = cli.services()
    scheduler = services.scheduler()
    # Scheduled checks (spine.quality) need no workflow; a scheduler with neither has
    # nothing to do, and is most likely missing its --app.
    if not scheduler.runner.workflows.names() and not (
        services.quality_store().installed() and services.quality_store().next_due()
    ):
        raise ConfigurationError(
            "no workflow is registered: pass --app MODULE or set SPINE_APP so that the "
            "scheduler knows what it may fire"
        )

    def stop(received: signal.Signals) -> str:
        scheduler.stop()
        return "stopping: finishing this pass over the due schedules; Ctrl-C again to stop now"

    with StopSignals(stop):
        fired = scheduler.run(once=once)
    console.print(f"scheduler stopped after {fired} fires", highlight=False)
