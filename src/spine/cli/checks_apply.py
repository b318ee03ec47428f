"""``spine checks apply FILE.yaml``: checks as code, with a diff preview.

Reading and planning are :mod:`spine.quality.declare` and
:mod:`spine.quality.declare_plan`; here the plan is checked against what the
workspace has (connections, check types, thresholds, schedules), printed, and written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from spine.cli.output import print_json
from spine.core.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from spine.bootstrap import Services
    from spine.quality.declare import CheckSpec

_MAX_BYTES = 10 * 1024 * 1024


def read_document(path: Path) -> str:
    """The text of the YAML file ``path``.

    Raises:
        InvalidInput: If it cannot be read, is too large, or is not UTF-8.
    """
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise InvalidInput(f"{path}: larger than {_MAX_BYTES // (1024 * 1024)} MiB")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror or error}") from None


def spec_checker(services: Services) -> Callable[[CheckSpec], None]:
    """A function refusing a spec the service would refuse, before anything is written.

    It checks the type, its config and thresholds (the catalogue and the rules), the
    connection (registered in the workspace), and the schedule (cron and zone). Only
    what needs the user's database (the table, the column) is left to the write.
    """
    from spine.quality.catalogue import check_type, validate_config
    from spine.quality.models import Severity
    from spine.quality.rules import validate_rules
    from spine.scheduling.cron import CronExpression, zone

    registry = services.sources.connections
    known: dict[str, bool] = {}

    def check(spec: CheckSpec) -> None:
        where = "field"
        try:
            where = "field 'type'"
            check_type(spec.check_type)
            where = "field 'config'"
            validate_config(spec.check_type, spec.column, spec.config)
            validate_rules(spec.config, Severity(spec.severity))
            if spec.cron is not None:
                where = "field 'cron'"
                CronExpression.parse(spec.cron)
                where = "field 'timezone'"
                zone(spec.timezone)
        except InvalidInput as error:
            raise InvalidInput(f"{where}: {error}") from None
        if spec.connection not in known:
            try:
                registry.get(spec.connection)
                known[spec.connection] = True
            except NotFound:
                known[spec.connection] = False
        if not known[spec.connection]:
            raise InvalidInput(
                f"field 'connection': no connection {spec.connection!r} in this workspace "
                "(see `spine connections list`)"
            )

    return check


def apply_file(
    services: Services, path: Path, *, dry_run: bool, prune: bool, as_json: bool
) -> None:
    """Read, check, plan, print and (unless ``dry_run``) write the checks of ``path``.

    Raises:
        InvalidInput: One line naming the file, the check and the field; nothing written.
    """
    from spine.quality.declare import parse_document
    from spine.quality.declare_plan import apply_plan, make_plan, validate_specs

    specs = parse_document(read_document(path), path.name)
    service = services.quality
    plan = make_plan(specs, service.list_checks(), prune=prune)
    checked = [*plan.create, *(u.spec for u in plan.update)]
    try:
        validate_specs(checked, spec_checker(services))
        if not dry_run and not plan.empty:
            apply_plan(plan, service)
    except InvalidInput as error:
        raise InvalidInput(f"{path.name}: {error}") from None
    written = not dry_run and not plan.empty
    if as_json:
        print_json({**plan.to_dict(), "dry_run": dry_run, "applied": written})
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
