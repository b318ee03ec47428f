"""``spine db``: apply, remove, inspect and print the schema, by tier."""

from __future__ import annotations

from typing import Annotated

import typer

from spine.cli.confirm import YesOption, confirm, plural
from spine.cli.context import state
from spine.cli.output import console, print_json, print_table

app = typer.Typer(help="Create and migrate spine's database schema, by tier.", no_args_is_help=True)

TierOption = Annotated[
    str | None,
    typer.Option("--tier", help="basic, intermediate or advanced (default: every tier)."),
]


def _print_status(statuses: list[object], as_json: bool) -> None:
    from spine.core.storage.migrator import TierStatus

    rows = [s for s in statuses if isinstance(s, TierStatus)]
    if as_json:
        print_json({"tiers": [s.to_dict() for s in rows]})
        return
    print_table(
        "Schema tiers",
        ["tier", "applied", "revision", "head", "pending"],
        [
            (
                s.tier.value,
                "yes" if s.applied else "no",
                s.current or "-",
                s.head,
                ", ".join(s.pending) or "-",
            )
            for s in rows
        ],
    )


@app.command()
def upgrade(
    ctx: typer.Context,
    tier: TierOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Apply a tier and the tiers below it (default: every tier)."""
    from spine.core.storage.migrator import parse_tier

    target = parse_tier(tier) if tier else None
    statuses = state(ctx).services().migrator.upgrade(target)
    _print_status(list(statuses), as_json)


@app.command()
def downgrade(
    ctx: typer.Context,
    tier: Annotated[
        str,
        typer.Option("--tier", help="The tier to remove, with the tiers above it, or 'base'."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    yes: YesOption = False,
) -> None:
    """Remove a tier and every tier that depends on it ('base' removes everything).

    Drops tables and their rows: prints the migrations it would revert and asks first
    (--yes does not ask; without a terminal, --yes is needed).
    """
    from spine.core.storage.migrator import parse_tier

    target = None if tier.strip().lower() == "base" else parse_tier(tier)
    migrator = state(ctx).services().migrator
    plan = migrator.downgrade_plan(target)
    if plan:
        revisions = [revision for revision, _ in plan]
        confirm(
            f"db downgrade --tier {target.value if target else 'base'}",
            f"the tables and rows of {plural(len(plan), 'migration')} ({', '.join(revisions)})",
            [f"{revision}: {doc.strip()}" if doc.strip() else revision for revision, doc in plan],
            yes=yes,
        )
    statuses = migrator.downgrade(target)
    _print_status(list(statuses), as_json)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show which tiers are applied and what is pending."""
    statuses = state(ctx).services().migrator.status()
    _print_status(list(statuses), as_json)


@app.command()
def sql(
    dialect: Annotated[str, typer.Option("--dialect", help="sqlite, postgresql or db2.")],
    tier: TierOption = None,
) -> None:
    """Print the complete DDL for a dialect, without a database."""
    from spine.core.storage.migrator import offline_sql, parse_tier

    target = parse_tier(tier) if tier else None
    text = offline_sql(dialect, target)
    typer.echo(text, nl=False)


@app.command()
def partitions(
    ctx: typer.Context,
    months_ahead: Annotated[
        int, typer.Option("--months-ahead", help="Months after the current one to create.")
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Create monthly partitions of check_results and audit_log (PostgreSQL)."""
    created = state(ctx).services().migrator.create_partitions(months_ahead)
    if as_json:
        print_json({"created": created})
    elif created:
        for name in created:
            console.print(f"created partition {name}")
    else:
        console.print("all partitions already exist")
