"""The example's data quality checks: its connection and ``quality.yaml``, set up on first use.

The checks look at the loaded table ``finra_otc_weekly``, which lives in spine's own
database; a check names a registered connection, so the example registers one,
``finra``, pointing at that same database (derived from the run's database URL: the
same SQLite file, or the same PostgreSQL database), unless a connection of that name
exists. Then it creates the checks of ``quality.yaml`` that the workspace does not have
(the format of ``spine checks apply``). Both are idempotent and leave alone what a user
changed: a changed connection or check is kept as it is (to stop a check, disable it;
a removed one comes back on the next run).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from spine.core.errors import ConfigurationError, Conflict
from spine.core.storage import Database
from spine.orchestration.context import StepContext
from spine.orchestration.errors import StepServiceMissing
from spine.sources.connections import ConnectionRegistry
from spine.sources.errors import ConnectionNotFound

if TYPE_CHECKING:
    from spine.quality.declare import CheckSpec
    from spine.quality.declare_plan import CheckWriter

#: The connection the checks name: spine's own database, where the example loads.
CONNECTION = "finra"
#: The loaded table the checks look at.
TABLE = "finra_otc_weekly"
#: The checks, as code (``spine checks apply`` reads the same file).
CHECKS_FILE = Path(__file__).with_name("quality.yaml")
_CREATED_BY = "spine.examples.finra"


def connection_settings(database: Database) -> dict[str, Any]:
    """The fields of a connection to spine's own database (no password: see below).

    SQLite: the database file, as an absolute path (a check may run from another
    directory, in ``spine worker`` or ``spine checks run``). PostgreSQL: host, port,
    database and user; the password is not stored (a connection holds a reference, and
    a URL is not one): libpq reads it from ``PGPASSWORD`` or ``~/.pgpass``, or give the
    connection a reference with ``spine connections update finra --password-ref``.

    Raises:
        ConfigurationError: For an in-memory SQLite database (no other connection can
            see it) or a database type the checks cannot reach.
    """
    url = database.url
    dialect = url.get_backend_name()
    if dialect == "sqlite":
        path = url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            raise ConfigurationError(
                "the FINRA example's checks need spine's SQLite database in a file "
                f"(the database URL names {path or 'memory'!r})"
            )
        return {"dialect": "sqlite", "database": str(Path(path).resolve())}
    if dialect == "postgresql":
        return {
            "dialect": "postgresql",
            "host": url.host,
            "port": url.port,
            "database": url.database,
            "username": url.username,
        }
    raise ConfigurationError(
        f"the FINRA example's checks cannot reach a {dialect} database: use SQLite or PostgreSQL"
    )


def ensure_connection(registry: ConnectionRegistry, database: Database) -> bool:
    """Register the connection ``finra`` to spine's database unless it exists.

    Returns:
        Whether it was registered now.
    """
    try:
        registry.get(CONNECTION)
        return False
    except ConnectionNotFound:
        pass
    settings = connection_settings(database)
    try:
        registry.add(CONNECTION, **settings, created_by=_CREATED_BY)
    except Conflict:  # another run of the workflow registered it meanwhile
        return False
    return True


def declared_checks() -> list[CheckSpec]:
    """The checks ``quality.yaml`` declares."""
    # YAML and the plan are imported when a step needs them, not by every command that
    # loads the example (`spine --app spine.examples.finra runs list`).
    from spine.quality.declare import parse_document

    return parse_document(CHECKS_FILE.read_text(encoding="utf-8"), str(CHECKS_FILE.name))


def ensure_checks(service: CheckWriter) -> list[str]:
    """Create the declared checks the workspace does not have; change no other.

    Returns:
        The names of the checks created now.
    """
    from spine.quality.declare_plan import Plan, apply_plan, make_plan

    plan = make_plan(declared_checks(), service.list_checks())
    if not plan.create:
        return []
    try:
        apply_plan(Plan(create=plan.create), service)
    except Conflict:  # another run created them meanwhile (its writes stand; ours undone)
        return []
    return [spec.name for spec in plan.create]


def password_warning(database: Database) -> str | None:
    """Where the registered connection finds its password, if spine's URL has one."""
    url = database.url
    if url.get_backend_name() == "postgresql" and url.password:
        return (
            f"spine's database URL has a password, the connection {CONNECTION!r} holds none: "
            "libpq reads PGPASSWORD or ~/.pgpass, or give it one with "
            f"`spine connections update {CONNECTION} --password-ref env:VAR`"
        )
    return None


def set_up_checks(ctx: StepContext) -> None:
    """Register the connection and create the missing checks, in the run's workspace."""
    if ensure_connection(ctx.sources.connections, ctx.database):
        ctx.log.info("registered the connection %r to spine's database", CONNECTION)
        warning = password_warning(ctx.database)
        if warning:
            ctx.log.warning("%s", warning)
    quality = ctx.services.quality
    if quality is None:
        raise StepServiceMissing("quality", ctx.step_name, ctx.workflow_name)
    created = ensure_checks(quality.service)
    if created:
        ctx.log.info(
            "created %d checks from %s (spine checks list)", len(created), CHECKS_FILE.name
        )
