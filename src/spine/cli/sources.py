"""``spine sources ...``: register sources, fetch them, read their history, manage the cache."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spine.cli.context import state
from spine.cli.output import print_json, print_table, when
from spine.cli.parsing import parse_params

if TYPE_CHECKING:
    from spine.sources import SourceService

app = typer.Typer(help="Register, fetch and inspect data sources.", no_args_is_help=True)
cache_app = typer.Typer(help="The content cache of fetched sources.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArgument = Annotated[str, typer.Argument(help="The source's name.")]


def _service(ctx: typer.Context) -> SourceService:
    return state(ctx).services().sources


def _config(raw: str) -> dict[str, Any]:
    from spine.core.errors import InvalidInput

    try:
        value = json.loads(raw)
    except ValueError as error:
        raise InvalidInput(f"--config is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise InvalidInput('--config must be a JSON object, e.g. \'{"path": "data/*.psv"}\'')
    return value


@app.command("add")
def add_command(
    ctx: typer.Context,
    name: NameArgument,
    source_type: Annotated[str, typer.Option("--type", help="file, http, database, s3 or sftp.")],
    config: Annotated[str, typer.Option("--config", help="The type's config, as JSON.")],
    domain: Annotated[str | None, typer.Option("--domain", help="Domain of the data.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a source."""
    source = _service(ctx).add(name, source_type, _config(config), domain=domain)
    if as_json:
        print_json(source.to_dict())
    else:
        typer.echo(f"source {source.name} ({source.source_type.value}) added")


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List sources."""
    sources = _service(ctx).list_sources()
    if as_json:
        print_json([s.to_dict() for s in sources])
        return
    print_table(
        "Sources",
        ["name", "type", "domain", "enabled", "config"],
        [
            (
                s.name,
                s.source_type.value,
                s.domain,
                s.enabled,
                json.dumps(s.to_dict()["config_json"]),
            )
            for s in sources
        ],
    )


@app.command("show")
def show_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Show a source and its latest fetches."""
    service = _service(ctx)
    source = service.get(name)
    fetches = service.fetches(name, 5)
    if as_json:
        print_json({**source.to_dict(), "fetches": fetches})
        return
    data = source.to_dict()
    print_table(
        f"Source {source.name}",
        ["type", "domain", "enabled", "created", "config"],
        [
            (
                data["source_type"],
                source.domain,
                source.enabled,
                when(source.created_at),
                json.dumps(data["config_json"]),
            )
        ],
    )
    _print_fetches(fetches)


@app.command("enable")
def enable_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Enable a source."""
    source = _service(ctx).set_enabled(name, True)
    print_json(source.to_dict()) if as_json else typer.echo(f"source {name} enabled")


@app.command("disable")
def disable_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Disable a source: fetches are refused until it is enabled."""
    source = _service(ctx).set_enabled(name, False)
    print_json(source.to_dict()) if as_json else typer.echo(f"source {name} disabled")


@app.command("remove")
def remove_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Remove a source (its fetch history stays)."""
    _service(ctx).remove(name)
    if as_json:
        print_json({"name": name, "removed": True})
    else:
        typer.echo(f"source {name} removed")


@app.command("fetch")
def fetch_command(
    ctx: typer.Context,
    name: NameArgument,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="A placeholder value, key=value.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Fetch even if unchanged.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Fetch a source now: status, record count, byte count, content hash.

    Exit 0 on SUCCESS or UNCHANGED; on FAILED or NOT_FOUND one error line and exit 2.
    """
    from spine.sources import FetchFailed
    from spine.sources.service import failure_category

    result = _service(ctx).fetch(name, parse_params(param), force=force)
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(
            f"{result.status.value}  records={_n(result.record_count)}  "
            f"bytes={_n(result.byte_count)}  hash={result.content_hash or '-'}"
        )
        typer.echo(f"fetch {result.fetch_id}  {result.locator}")
    if not result.ok:
        raise FetchFailed(name, result.status.value, result.error or "", failure_category(result))


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value}"


@app.command("fetches")
def fetches_command(
    ctx: typer.Context,
    name: NameArgument,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The fetch history of a source, newest first."""
    fetches = _service(ctx).fetches(name, limit)
    if as_json:
        print_json(fetches)
    else:
        _print_fetches(fetches)


def _print_fetches(fetches: list[dict[str, Any]]) -> None:
    print_table(
        "Fetches",
        ["started", "status", "records", "bytes", "hash", "ms", "retries", "run", "error"],
        [
            (
                when(f["started_at"]),
                f["status"],
                f["record_count"],
                f["byte_count"],
                (f["content_hash"] or "")[:12],
                f["duration_ms"],
                f["retry_count"],
                f["run_id"],
                f"{f['error_category']}: {f['error']}"[:80] if f["error"] else "",
            )
            for f in fetches
        ],
    )


@cache_app.command("list")
def cache_list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Cached content, least recently used first."""
    entries = _service(ctx).cache.entries()
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    print_table(
        "Source cache",
        ["key", "type", "locator", "size", "where", "fetched", "expires", "last used"],
        [
            (
                e.cache_key[:12],
                e.source_type,
                e.source_locator,
                e.content_size,
                "inline" if e.content_blob is not None else e.content_path,
                when(e.fetched_at),
                when(e.expires_at),
                when(e.last_accessed_at),
            )
            for e in entries
        ],
    )


@cache_app.command("evict")
def cache_evict_command(
    ctx: typer.Context,
    evict_all: Annotated[bool, typer.Option("--all", help="Remove every entry.")] = False,
    older_than_days: Annotated[
        float | None,
        typer.Option("--older-than-days", min=0, help="Remove entries unused for N days."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Evict cached content: all, unused for N days, or (by default) the expired.

    Then the cache is trimmed to its size budget.
    """
    from datetime import timedelta

    from spine.core.errors import InvalidInput

    if evict_all and older_than_days is not None:
        raise InvalidInput("give --all or --older-than-days, not both")
    older = timedelta(days=older_than_days) if older_than_days is not None else None
    report = _service(ctx).cache.evict(everything=evict_all, older_than=older)
    if as_json:
        print_json({"evicted": report.entries, "bytes": report.bytes})
    else:
        typer.echo(f"evicted {report.entries} entries ({report.bytes} bytes)")
