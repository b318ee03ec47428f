"""``spine alerts ...`` (with ``alerts channels``), ``spine dlq ...`` and ``spine breakers ...``."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Annotated

import typer

from spine.cli.context import state
from spine.cli.output import console, print_json, print_table, when
from spine.cli.parsing import parse_json_object, parse_time
from spine.cli.stopping import StopSignals

if TYPE_CHECKING:
    from spine.alerting import AlertService

app = typer.Typer(help="Alert channels, alerts and the delivery worker.", no_args_is_help=True)
channels_app = typer.Typer(
    help="Add, inspect, update, test and remove alert channels.", no_args_is_help=True
)
dlq_app = typer.Typer(help="Alert deliveries that ran out of attempts.", no_args_is_help=True)
breakers_app = typer.Typer(help="Circuit breakers of alert channels.", no_args_is_help=True)
app.add_typer(channels_app, name="channels")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArg = Annotated[str, typer.Argument(help="Channel name.")]


def _alerting(ctx: typer.Context) -> AlertService:
    return state(ctx).services().alerting()


@channels_app.command("add")
def add_channel(
    ctx: typer.Context,
    name: NameArg,
    channel_type: Annotated[
        str, typer.Option("--type", help="webhook, email, slack, servicenow or apprise.")
    ],
    config: Annotated[str, typer.Option("--config", help="Channel config as a JSON object.")],
    min_severity: Annotated[
        str, typer.Option("--min-severity", help="INFO, WARNING, ERROR or CRITICAL.")
    ] = "INFO",
    domains: Annotated[
        str | None,
        typer.Option("--domains", help="Domain globs, comma-separated: 'finra.*,sec.*'."),
    ] = None,
    throttle_minutes: Annotated[
        int, typer.Option("--throttle-minutes", help="Send one alert per dedup key per N minutes.")
    ] = 0,
    as_json: JsonOption = False,
) -> None:
    """Add a channel; credentials go in as references (env:VAR, file:PATH) or are sealed."""
    import getpass

    from spine.core.errors import InvalidInput

    parsed = parse_json_object(config, "--config")
    if parsed is None:
        raise InvalidInput("--config is required")
    alerting = _alerting(ctx)
    kind = channel_type.strip().lower()
    generated: str | None = None
    if kind == "webhook" and not (parsed.get("secret") or parsed.get("secret_ref")):
        # As Svix and Stripe do: the sender makes the signing secret and shows it once.
        from spine.alerting import generate_secret

        generated = parsed["secret"] = generate_secret()
    try:
        user: str | None = getpass.getuser()
    except (KeyError, OSError):
        user = None
    channel = alerting.add_channel(
        name,
        kind,
        parsed,
        min_severity=min_severity,
        domains=domains,
        throttle_minutes=throttle_minutes,
        created_by=user,
    )
    if as_json:
        print_json(alerting.channel_view(channel))
    else:
        typer.echo(f"channel {channel.name} added ({channel.channel_type}, id {channel.id})")
    if generated is not None:
        # On stderr, so that `--json` output stays one document; shown this once only.
        typer.echo(
            f"signing secret (give it to the receiver; it is not shown again): {generated}",
            err=True,
        )


@channels_app.command("update")
def update_channel(
    ctx: typer.Context,
    name: NameArg,
    config: Annotated[
        str | None,
        typer.Option("--config", help="Config keys to replace, as a JSON object (null removes)."),
    ] = None,
    min_severity: Annotated[
        str | None, typer.Option("--min-severity", help="INFO, WARNING, ERROR or CRITICAL.")
    ] = None,
    domains: Annotated[
        str | None,
        typer.Option("--domains", help="Domain globs, comma-separated ('' for every domain)."),
    ] = None,
    throttle_minutes: Annotated[
        int | None,
        typer.Option("--throttle-minutes", help="Send one alert per dedup key per N minutes."),
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Enable or disable the channel.")
    ] = None,
    rotate_secret: Annotated[
        bool,
        typer.Option("--rotate-secret", help="Webhook: make a new signing secret (shown once)."),
    ] = False,
    overlap_hours: Annotated[
        float,
        typer.Option(
            "--overlap-hours", help="With --rotate-secret: hours the old secret signs too."
        ),
    ] = 24.0,
    as_json: JsonOption = False,
) -> None:
    """Change a channel in place (one transaction); what is not given is kept."""
    parsed = parse_json_object(config, "--config")
    alerting = _alerting(ctx)
    channel, generated = alerting.update_channel(
        name,
        config=parsed,
        min_severity=min_severity,
        domains=domains,
        throttle_minutes=throttle_minutes,
        enabled=enabled,
        rotate_secret=rotate_secret,
        overlap_hours=overlap_hours,
    )
    if as_json:
        print_json(alerting.channel_view(channel))
    else:
        typer.echo(f"channel {channel.name} updated")
    if generated is not None:
        until = channel.config.get("overlap_until")
        overlap = f"; the previous secret signs too until {until}" if until else ""
        typer.echo(
            f"new signing secret (give it to the receiver; it is not shown again{overlap}): "
            f"{generated}",
            err=True,
        )


@channels_app.command("list")
def list_channels(
    ctx: typer.Context,
    webhooks: Annotated[
        bool,
        typer.Option("--webhooks", help="Also the channels that deliver `spine webhooks`."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List channels (credentials masked)."""
    alerting = _alerting(ctx)
    views = [alerting.channel_view(c) for c in alerting.store.list_channels(webhooks=webhooks)]
    if as_json:
        print_json(views)
        return
    print_table(
        "Alert channels",
        [
            "name",
            "type",
            "enabled",
            "min_severity",
            "domains",
            "throttle",
            "failures",
            "last success",
        ],
        [
            (
                v["name"],
                v["channel_type"],
                "yes" if v["enabled"] else "no",
                v["min_severity"],
                ",".join(v["domains"]) or "*",
                f"{v['throttle_minutes']}m" if v["throttle_minutes"] else "",
                v["consecutive_failures"],
                when(v["last_success_at"]),
            )
            for v in views
        ],
    )


@channels_app.command("show")
def show_channel(ctx: typer.Context, name: NameArg, as_json: JsonOption = False) -> None:
    """Show one channel (credentials masked)."""
    alerting = _alerting(ctx)
    view = alerting.channel_view(alerting.store.get_channel(name))
    if as_json:
        print_json(view)
        return
    print_table(
        f"Channel {name}",
        ["field", "value"],
        [(k, when(v) if k.endswith("_at") else v) for k, v in view.items()],
    )


@channels_app.command("enable")
def enable_channel(ctx: typer.Context, name: NameArg) -> None:
    """Enable a channel: new alerts route to it, its waiting deliveries are sent."""
    _alerting(ctx).store.set_enabled(name, True)
    typer.echo(f"channel {name} enabled")


@channels_app.command("disable")
def disable_channel(ctx: typer.Context, name: NameArg) -> None:
    """Disable a channel: no new alerts route to it; its waiting deliveries wait."""
    _alerting(ctx).store.set_enabled(name, False)
    typer.echo(f"channel {name} disabled")


@channels_app.command("remove")
def remove_channel(ctx: typer.Context, name: NameArg) -> None:
    """Remove a channel; its delivery history stays."""
    closed = _alerting(ctx).store.remove_channel(name)
    suffix = f" ({closed} waiting deliveries closed as FAILED)" if closed else ""
    typer.echo(f"channel {name} removed{suffix}")


@channels_app.command("test")
def test_channel(ctx: typer.Context, name: NameArg, as_json: JsonOption = False) -> None:
    """Send a test message to a channel now; exit 2 with the reason if it fails."""
    response = _alerting(ctx).test_channel(name)
    if as_json:
        print_json(response)
    else:
        typer.echo(f"test message sent to {name}")


@app.command("send")
def send_command(
    ctx: typer.Context,
    severity: Annotated[str, typer.Option("--severity", help="INFO, WARNING, ERROR or CRITICAL.")],
    title: Annotated[str, typer.Option("--title", help="Short summary.")],
    message: Annotated[str, typer.Option("--message", help="Detailed message.")],
    source: Annotated[str, typer.Option("--source", help="Pipeline or workflow raising it.")],
    domain: Annotated[str | None, typer.Option("--domain", help="Domain (routing).")] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="Extra context as a JSON object.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record an alert and its deliveries; print its id (`alerts deliver` sends them)."""
    extra = parse_json_object(metadata, "--metadata")
    alert_id = _alerting(ctx).send(
        severity, title, message, source=source, domain=domain, metadata=extra
    )
    if as_json:
        print_json({"id": alert_id})
    else:
        typer.echo(alert_id)


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    severity: Annotated[str | None, typer.Option("--severity", help="Only this severity.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Created at or after (ISO).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Most rows.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List alerts, newest first."""
    from spine.alerting import Severity

    level = Severity.parse(severity, "--severity") if severity is not None else None
    rows = _alerting(ctx).store.list_alerts(
        severity=level, since=parse_time(since, "--since"), limit=limit
    )
    if as_json:
        print_json(rows)
        return
    print_table(
        "Alerts",
        ["id", "created", "severity", "source", "domain", "title"],
        [
            (r["id"], when(r["created_at"]), r["severity"], r["source"], r["domain"], r["title"])
            for r in rows
        ],
    )


@app.command("show")
def show_alert(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help="Alert id.")],
    as_json: JsonOption = False,
) -> None:
    """Show an alert and every delivery attempt."""
    alert, deliveries = _alerting(ctx).store.show_alert(alert_id)
    if as_json:
        print_json({**alert, "deliveries": deliveries})
        return
    print_table(
        f"Alert {alert_id}",
        ["field", "value"],
        [(k, when(v) if k.endswith("_at") else v) for k, v in alert.items()],
    )
    print_table(
        "Deliveries",
        ["channel", "attempt", "status", "attempted", "delivered", "next retry", "error"],
        [
            (
                d["channel_name"],
                d["attempt"],
                d["status"],
                when(d["attempted_at"]),
                when(d["delivered_at"]),
                when(d["next_retry_at"]),
                (d["error"] or "")[:80],
            )
            for d in deliveries
        ],
    )


@app.command("deliver")
def deliver_command(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            max=64,
            help="Deliveries sent at once (default: SPINE_ALERTING_DELIVERY_CONCURRENCY, 4).",
            show_default=False,
        ),
    ] = None,
    poll_seconds: Annotated[
        float, typer.Option("--poll-seconds", min=0.05, help="Idle wait between looks.")
    ] = 1.0,
) -> None:
    """Run the delivery worker until stopped (SIGTERM/SIGINT), or once with --once.

    With --once, exit 1 if deliveries were attempted and every attempt failed.
    """
    worker = _alerting(ctx).worker(concurrency=concurrency, poll_seconds=poll_seconds)

    def stop(received: signal.Signals) -> str:
        worker.stop()
        return (
            "stopping: finishing the sends in progress (unsent claims are handed back); "
            "Ctrl-C again to stop now"
        )

    with StopSignals(stop):
        attempted = worker.run(once=once)
    console.print(f"delivery worker stopped after {attempted} attempts", highlight=False)
    if once and attempted and not worker.outcomes["sent"]:
        typer.echo(
            f"error: all {attempted} delivery attempts failed; "
            "see `spine dlq list` and `spine breakers list`",
            err=True,
        )
        raise typer.Exit(1)


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, retrying, exhausted or resolved.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List alert deliveries in the dead-letter queue."""
    rows = _alerting(ctx).store.list_dead_letters(status.strip().lower() if status else None)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Dead letters",
        ["dlq_id", "status", "channel", "alert", "retries", "last failed", "error"],
        [
            (
                r["dlq_id"],
                r["status"],
                (r["payload"] or {}).get("channel_name"),
                (r["payload"] or {}).get("alert_id"),
                r["retry_count"],
                when(r["last_failed_at"]),
                (r["error"] or "")[:60],
            )
            for r in rows
        ],
    )


@dlq_app.command("retry")
def dlq_retry(ctx: typer.Context, dlq_id: Annotated[str, typer.Argument(help="dlq_id.")]) -> None:
    """Queue a dead-lettered delivery again (a new round of attempts, due now)."""
    requeued = _alerting(ctx).store.retry_dead_letter(dlq_id)
    typer.echo(f"dead letter {dlq_id} queued again as delivery {requeued.delivery_id}")
    if requeued.breaker != "closed":
        name = requeued.channel_name
        probe = f" (a probe may go from {when(requeued.probe_from)})" if requeued.probe_from else ""
        typer.echo(
            f"note: the circuit breaker of channel {name} is {requeued.breaker}: the delivery "
            f"waits until a probe gets through{probe}; to send it now, run "
            f"`spine breakers reset {name}`"
        )


@dlq_app.command("resolve")
def dlq_resolve(ctx: typer.Context, dlq_id: Annotated[str, typer.Argument(help="dlq_id.")]) -> None:
    """Mark a dead letter resolved (handled; it will not be retried)."""
    _alerting(ctx).store.resolve_dead_letter(dlq_id)
    typer.echo(f"dead letter {dlq_id} resolved")


@breakers_app.command("list")
def breakers_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List circuit breakers."""
    rows = _alerting(ctx).store.list_breakers()
    if as_json:
        print_json(rows)
        return
    print_table(
        "Circuit breakers",
        ["channel", "state", "failures", "last failure", "opened", "half opened"],
        [
            (
                r["channel_name"],
                r["state"],
                r["failure_count"],
                when(r["last_failure_at"]),
                when(r["opened_at"]),
                when(r["half_opened_at"]),
            )
            for r in rows
        ],
    )


@breakers_app.command("reset")
def breakers_reset(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Breaker name (or the channel's name).")],
) -> None:
    """Close a breaker by hand: its channel's waiting deliveries go out again."""
    _alerting(ctx).store.reset_breaker(name)
    typer.echo(f"breaker {name} closed")
