"""``spine backfill``: one run per logical time of a past range, made once, executed here.

The logical times are a schedule's fire times in ``[--from, --to]`` (``--schedule``) or
``--from``, ``--from + every``, ... (``--every``). Each run is keyed by its logical time
(``spine.scheduling.data_runs``), so running the command again makes nothing new, an
interrupted backfill continues where it stopped, and a backfill never makes a second run
for a logical time the scheduler (or ``schedules trigger``) already made. As Airflow's
backfill does, the runs are then executed here, ``--concurrency`` at a time, in logical
time order; ``--no-wait`` leaves them PENDING for ``spine worker``.
"""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spine.cli.context import state
from spine.cli.output import print_json
from spine.cli.parsing import parse_params, parse_time
from spine.core.errors import InvalidInput

if TYPE_CHECKING:
    from spine.bootstrap import Services
    from spine.orchestration.history.types import WorkflowRun
    from spine.orchestration.runner import WorkflowRunner
    from spine.scheduling.data_runs import PlannedRun


def backfill_command(
    ctx: typer.Context,
    workflow: Annotated[str, typer.Argument(help="Name of a registered workflow.")],
    start: Annotated[str, typer.Option("--from", help="First logical time (ISO).")],
    end: Annotated[str, typer.Option("--to", help="Last logical time (ISO, inclusive).")],
    schedule_name: Annotated[
        str | None, typer.Option("--schedule", help="Use this schedule's times and params.")
    ] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="Span between logical times: 1d, 7d, 6h, 90.")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="With --every: a param, key=value or a template."),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="Zone of times without offset and of templates (--every)."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Runs executed here at once.")
    ] = 1,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Only make the runs; workers execute them.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the runs it would make; write nothing.")
    ] = False,
    max_runs: Annotated[
        int, typer.Option("--max-runs", min=1, help="Refuse more logical times than this.")
    ] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make one run per logical time in [--from, --to] and execute them; exit 0 if all COMPLETED.

    Resumable: a run that exists for the same workflow and logical time is used, never
    made again (a finished one is not run again).
    """
    from spine.orchestration.registry import workflows

    if (schedule_name is None) == (every is None):
        raise InvalidInput("give exactly one of --schedule and --every")
    if schedule_name is not None and param:
        raise InvalidInput("--param goes with --every; --schedule uses the schedule's params")
    cli = state(ctx)
    cli.load_app()
    services = cli.services()
    workflows.get(workflow)
    plans = _plans(services, workflow, schedule_name, every, param, tz, start, end, max_runs)
    runner = services.runner()
    existing = _existing(runner, workflow, plans)
    if dry_run:
        _dry_run(plans, existing, as_json)
        return
    schedule_id = services.schedules.get(schedule_name).id if schedule_name else None
    made: list[WorkflowRun] = []
    created: list[bool] = []
    for plan in plans:
        run, new = _make(runner, workflow, plan, schedule_id, as_json, existing.get(plan.key))
        made.append(run)
        created.append(new)
    finals = made if no_wait else _execute(runner, made, concurrency, as_json)
    _report(plans, finals, created, as_json, executed=not no_wait)
    if not no_wait and any(run.status.value != "COMPLETED" for run in finals):
        raise typer.Exit(1)


def _plans(
    services: Services,
    workflow: str,
    schedule_name: str | None,
    every: str | None,
    param: list[str] | None,
    tz: str | None,
    start: str,
    end: str,
    max_runs: int,
) -> list[PlannedRun]:
    from spine.scheduling.cron import zone
    from spine.scheduling.data_runs import every_backfill, schedule_backfill
    from spine.scheduling.intervals import parse_every

    if schedule_name is not None:
        schedule = services.schedules.get(schedule_name)
        if schedule.target_name != workflow:
            raise InvalidInput(
                f"schedule {schedule_name!r} runs {schedule.target_name!r}, not {workflow!r}"
            )
        where = zone(tz or schedule.timezone)
        first, last = _range(start, end, where)
        return schedule_backfill(schedule, first, last, max_runs=max_runs)
    assert every is not None
    seconds = parse_every(every)
    where = zone(tz or "UTC")
    first, last = _range(start, end, where)
    params = parse_params(param)
    return every_backfill(seconds, params, tz or "UTC", first, last, max_runs=max_runs)


def _range(start: str, end: str, where: Any) -> tuple[Any, Any]:
    first = parse_time(start, "--from", naive_in=where)
    last = parse_time(end, "--to", naive_in=where)
    assert first is not None and last is not None
    return first, last


def _dry_run(plans: list[PlannedRun], existing: dict[str, WorkflowRun], as_json: bool) -> None:
    rows = []
    for plan in plans:
        run = existing.get(plan.key)
        rows.append(
            {
                **plan.to_dict(),
                "run_id": run.run_id if run else None,
                "status": run.status.value if run else None,
                "action": "exists" if run else "create",
            }
        )
    if as_json:
        print_json({"dry_run": True, "runs": rows})
        return
    for row in rows:
        what = f"exists {row['run_id']} {row['status']}" if row["run_id"] else "would create"
        typer.echo(f"{_span(row)}  {what}  params={_params(row['params'])}")
    creating = sum(1 for row in rows if not row["run_id"])
    typer.echo(f"dry run: {len(rows)} logical times, {creating} runs would be created")


def _existing(
    runner: WorkflowRunner, workflow: str, plans: list[PlannedRun]
) -> dict[str, WorkflowRun]:
    """The runs that already cover ``plans``, by plan key.

    A run covers a plan when it holds the plan's key, or when it has the plan's data
    interval (partition key) and params, whoever made it: so ``--every`` does not redo
    what a schedule's fires or ``--schedule`` made for the same data, and vice versa.
    """
    found = runner.store.runs_with_keys(workflow, [p.key for p in plans])
    missing = {p.interval.partition_key(): p for p in plans if p.key not in found}
    if missing:
        for run in runner.store.runs_with_partitions(workflow, list(missing)):
            plan = missing.get(run.partition_key or "")
            if plan is not None and plan.key not in found and run.params == plan.params:
                found[plan.key] = run
    return found


def _make(
    runner: WorkflowRunner,
    workflow: str,
    plan: PlannedRun,
    schedule_id: str | None,
    as_json: bool,
    existing: WorkflowRun | None,
) -> tuple[WorkflowRun, bool]:
    """Make ``plan``'s run unless ``existing`` covers it; return the run and if it is new."""
    new = runner.new_run(
        workflow,
        plan.params,
        partition_key=plan.interval.partition_key(),
        idempotency_key=plan.key,
        triggered_by="backfill",
        schedule_id=schedule_id,
        created_by="backfill",
    )
    run = existing or runner.store.create_run(new)
    if not as_json:
        what = "created" if run.run_id == new.run_id else f"exists ({run.status.value})"
        typer.echo(f"{_span(plan.to_dict())}  {what}  {run.run_id}")
    return run, run.run_id == new.run_id


def _execute(
    runner: WorkflowRunner, made: list[WorkflowRun], concurrency: int, as_json: bool
) -> list[WorkflowRun]:
    """Drive the unfinished runs here, ``concurrency`` at a time; SIGTERM/SIGINT stop it."""

    def drive(run: WorkflowRun) -> WorkflowRun:
        if run.is_terminal or runner.stopping.is_set():
            return run
        final = runner.drive(run.run_id)
        if not as_json and final.is_terminal:
            typer.echo(f"run {final.run_id} {final.status.value}")
        return final

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in handlers:
        signal.signal(sig, lambda *_: runner.stopping.set())
    try:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="spine-backfill") as pool:
            finals = list(pool.map(drive, made))
    finally:
        for sig, previous in handlers.items():
            signal.signal(sig, previous)
    if runner.stopping.is_set():
        typer.echo("backfill stopped; run the same command again to continue", err=True)
        raise typer.Exit(1)
    return finals


def _report(
    plans: list[PlannedRun],
    finals: list[WorkflowRun],
    made_here: list[bool],
    as_json: bool,
    *,
    executed: bool,
) -> None:
    created = sum(made_here)
    if as_json:
        print_json(
            {
                "created": created,
                "existing": len(plans) - created,
                "runs": [
                    {
                        **plan.to_dict(),
                        "run_id": run.run_id,
                        "status": run.status.value,
                        "created": new,
                    }
                    for plan, run, new in zip(plans, finals, made_here, strict=True)
                ],
            }
        )
        return
    counts: dict[str, int] = {}
    for run in finals:
        counts[run.status.value] = counts.get(run.status.value, 0) + 1
    states = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    verb = "" if executed else " (PENDING runs are for spine worker)"
    typer.echo(
        f"backfill: {len(plans)} logical times, {created} runs created, "
        f"{len(plans) - created} existed; {states}{verb}"
    )


def _span(row: dict[str, Any]) -> str:
    return f"{row['logical_time']}  [{row['data_interval_start']}, {row['data_interval_end']})"


def _params(params: dict[str, Any]) -> str:
    import json

    return json.dumps(params, sort_keys=True, separators=(",", ":"))
