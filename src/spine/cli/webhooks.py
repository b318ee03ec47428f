"""``spine webhooks ...``: spec 004 webhooks for data-quality events.

Deliveries go through the alerting outbox (`spine alerts deliver` or the worker sends
them), signed the Standard Webhooks way with the webhook's ``whsec_`` secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from spine.cli.context import state
from spine.cli.output import print_json, print_table, when

if TYPE_CHECKING:
    from spine.alerting.webhooks import WebhookService

app = typer.Typer(
    help="Webhooks for data-quality events (check.failed, incident.created, "
    "incident.acknowledged, incident.resolved).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArg = Annotated[str, typer.Argument(help="The webhook's name.")]


def _webhooks(ctx: typer.Context) -> WebhookService:
    return state(ctx).services().alerting().webhooks


@app.command("add")
def add_command(
    ctx: typer.Context,
    name: NameArg,
    url: Annotated[str, typer.Option("--url", help="Where to POST the events.")],
    events: Annotated[
        str,
        typer.Option(
            "--events",
            help="Comma-separated: check.failed, incident.created, incident.acknowledged, "
            "incident.resolved.",
        ),
    ],
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            help="whsec_... or env:VAR / file:PATH; without it one is made and shown once.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a webhook; its deliveries are signed and retried through the alerting outbox."""
    hook, generated = _webhooks(ctx).add(name, url=url, events=events, secret=secret)
    if as_json:
        print_json(hook.to_dict())
    else:
        typer.echo(f"webhook {hook.name} added ({', '.join(hook.events)})")
    if generated:
        typer.echo(
            f"signing secret (give it to the receiver; it is not shown again): {generated}",
            err=True,
        )


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List webhooks (never their secrets)."""
    hooks = _webhooks(ctx).list_webhooks()
    if as_json:
        print_json([hook.to_dict() for hook in hooks])
        return
    print_table(
        "Webhooks",
        ["name", "url", "events", "enabled", "last triggered", "last code", "failures"],
        [
            (
                h.name,
                h.url,
                ",".join(h.events),
                "yes" if h.enabled else "no",
                when(h.last_triggered_at),
                "" if h.last_response_code is None else h.last_response_code,
                h.failure_count,
            )
            for h in hooks
        ],
    )


@app.command("enable")
def enable_command(ctx: typer.Context, name: NameArg) -> None:
    """Enable a webhook: new events reach it, its waiting deliveries are sent."""
    _webhooks(ctx).set_enabled(name, True)
    typer.echo(f"webhook {name} enabled")


@app.command("disable")
def disable_command(ctx: typer.Context, name: NameArg) -> None:
    """Disable a webhook: no new events reach it; its waiting deliveries wait."""
    _webhooks(ctx).set_enabled(name, False)
    typer.echo(f"webhook {name} disabled")


@app.command("remove")
def remove_command(ctx: typer.Context, name: NameArg, as_json: JsonOption = False) -> None:
    """Remove a webhook; deliveries still waiting are closed, history stays."""
    hook, closed = _webhooks(ctx).remove(name)
    if as_json:
        print_json({"name": hook.name, "removed": True, "deliveries_closed": closed})
        return
    suffix = f" ({closed} waiting deliveries closed)" if closed else ""
    typer.echo(f"webhook {hook.name} removed{suffix}")


@app.command("test")
def test_command(ctx: typer.Context, name: NameArg, as_json: JsonOption = False) -> None:
    """Send a signed webhook.test event now and print the response code (exit 2 if not 2xx)."""
    from spine.alerting.channels import DeliveryError
    from spine.alerting.webhooks import response_code
    from spine.core.errors import SpineError

    try:
        response = _webhooks(ctx).test(name)
    except DeliveryError as error:
        code = response_code(error)
        if code is None:
            raise
        raise SpineError(f"webhook {name} answered {code}: {error}") from None
    if as_json:
        print_json({"name": name, "response_code": response_code(response), "response": response})
    else:
        typer.echo(f"webhook {name} answered {response_code(response)}")
