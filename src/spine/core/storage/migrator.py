"""Schema migrations by tier: upgrade, downgrade, status, offline DDL, partitions.

Alembic keeps one branch per tier (``basic``, ``intermediate``, ``advanced``); each
branch depends on the one below, so upgrading a tier applies the tiers it needs and
downgrading a tier removes the tiers that need it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from spine.core.errors import ConfigurationError, InvalidInput
from spine.core.storage.engine import Database, translate_error
from spine.core.storage.migrations.support import VERSION_TABLE
from spine.core.storage.schema import Tier
from spine.core.storage.schema.dq_platform import PARTITIONED_TABLES

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQL_DIALECTS = ("sqlite", "postgresql", "db2")


@dataclass(frozen=True, slots=True, kw_only=True)
class TierStatus:
    """Whether a tier is applied, and at which revision."""

    tier: Tier
    applied: bool
    current: str | None
    head: str
    pending: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "tier": self.tier.value,
            "applied": self.applied,
            "current": self.current,
            "head": self.head,
            "pending": list(self.pending),
            "up_to_date": self.current == self.head,
        }


def parse_tier(value: str) -> Tier:
    """Return the tier named ``value``.

    Raises:
        InvalidInput: If no tier has that name.
    """
    try:
        return Tier(value.strip().lower())
    except ValueError:
        names = ", ".join(t.value for t in Tier)
        raise InvalidInput(f"unknown tier {value!r}: expected one of {names}") from None


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _tier_revisions() -> dict[Tier, list[str]]:
    """Each tier's revisions, oldest first."""
    script = _script()
    out: dict[Tier, list[str]] = {}
    for tier in Tier:
        head = script.get_revision(f"{tier.value}@head")
        assert head is not None
        chain = [head.revision]
        rev = head
        while rev.down_revision:
            down = rev.down_revision
            assert isinstance(down, str), "tier branches are linear"
            parent = script.get_revision(down)
            assert parent is not None
            chain.append(parent.revision)
            rev = parent
        out[tier] = list(reversed(chain))
    return out


class Migrator:
    """Applies and inspects spine's schema in a database.

    Args:
        database: The database to migrate.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    def upgrade(self, tier: Tier | None = None) -> list[TierStatus]:
        """Apply ``tier`` and the tiers below it (all tiers when ``None``); return the status."""
        target = "heads" if tier is None else f"{tier.value}@head"
        self._run(lambda cfg: command.upgrade(cfg, target))
        if self.database.dialect == "postgresql" and self._has_table("check_results"):
            self.create_partitions(months_ahead=3)
        return self.status()

    def downgrade(self, tier: Tier | None) -> list[TierStatus]:
        """Remove ``tier`` and the tiers above it (everything when ``None``, i.e. base)."""
        target = "base" if tier is None else f"{tier.value}@base"
        self._run(lambda cfg: command.downgrade(cfg, target))
        return self.status()

    def downgrade_plan(self, tier: Tier | None) -> list[tuple[str, str]]:
        """Return what :meth:`downgrade` with ``tier`` would revert, last applied first.

        Each entry is a revision id and its message: the applied revisions of ``tier``
        and the tiers above it (of every tier when ``None``). Empty when nothing is
        applied there.
        """
        script = _script()
        by_tier = _tier_revisions()
        plan: list[tuple[str, str]] = []
        for status in reversed(self.status()):
            if tier is not None and status.tier.rank < tier.rank:
                continue
            applied = [r for r in by_tier[status.tier] if r not in status.pending]
            for revision in reversed(applied):
                found = script.get_revision(revision)
                plan.append((revision, (found.doc if found else "") or ""))
        return plan

    def status(self) -> list[TierStatus]:
        """Return, per tier, whether it is applied and what is pending."""

        def work(conn: sa.Connection) -> set[str]:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return set(context.get_current_heads())

        current_heads = self.database.run_read(work)
        script = _script()
        applied: set[str] = set()
        for head in current_heads:
            for rev in script.iterate_revisions(head, "base"):
                applied.add(rev.revision)
        result = []
        for tier, revisions in _tier_revisions().items():
            done = [r for r in revisions if r in applied]
            result.append(
                TierStatus(
                    tier=tier,
                    applied=bool(done),
                    current=done[-1] if done else None,
                    head=revisions[-1],
                    pending=tuple(r for r in revisions if r not in applied),
                )
            )
        return result

    def missing_tiers(self) -> list[Tier]:
        """Return the tiers not fully applied."""
        return [s.tier for s in self.status() if s.pending]

    def create_partitions(self, months_ahead: int, start: date | None = None) -> list[str]:
        """Create monthly partitions of ``check_results`` and ``audit_log`` (PostgreSQL).

        Covers the current month and ``months_ahead`` months after it. Rows already in the
        DEFAULT partition for a new month are moved into it. Returns the partitions
        created (existing ones are left alone).

        Raises:
            ConfigurationError: On a database other than PostgreSQL.
            InvalidInput: If ``months_ahead`` is negative.
        """
        if self.database.dialect != "postgresql":
            raise ConfigurationError(
                "partitions exist only on PostgreSQL; SQLite keeps check_results and "
                "audit_log as plain tables"
            )
        if months_ahead < 0:
            raise InvalidInput("--months-ahead must be 0 or more")
        first = (start or datetime.now(UTC).date()).replace(day=1)
        months = [_add_months(first, n) for n in range(months_ahead + 1)]
        created: list[str] = []

        def work(conn: sa.Connection) -> None:
            existing = set(
                conn.execute(
                    sa.text(
                        "SELECT c.relname FROM pg_inherits i "
                        "JOIN pg_class c ON c.oid = i.inhrelid "
                        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(:parents)"
                    ),
                    {"parents": list(PARTITIONED_TABLES)},
                ).scalars()
            )
            for parent, column in PARTITIONED_TABLES.items():
                for month in months:
                    name = f"{parent}_{month:%Y_%m}"
                    if name in existing:
                        continue
                    _create_month(conn, parent, column, name, month, _add_months(month, 1))
                    created.append(name)

        self.database.run_write(work)
        return created

    def _run(self, action: object) -> None:
        config = _config()

        def work(conn: sa.Connection) -> None:
            config.attributes["connection"] = conn
            action(config)  # type: ignore[operator]

        # Migrations manage their own transactions per revision.
        try:
            with self.database.engine.connect() as conn:
                if conn.dialect.name != "sqlite":
                    work(conn)
                    conn.commit()
                    return
                # SQLite alters a table by copying it and dropping the old one; with
                # foreign keys on, that DROP would cascade to the rows referring to it.
                # The pragmas work only outside a transaction, so they are set on the
                # driver's connection before the first statement begins one.
                _sqlite_foreign_keys(conn, on=False)
                try:
                    work(conn)
                    conn.commit()
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    conn.rollback()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
                finally:
                    _sqlite_foreign_keys(conn, on=True)
        except sa.exc.DBAPIError as error:
            translated = translate_error(error, self.database.url)
            if translated is error:
                raise
            raise translated from error

    def _has_table(self, name: str) -> bool:
        return self.database.run_read(lambda conn: sa.inspect(conn).has_table(name))


def _sqlite_foreign_keys(conn: sa.Connection, *, on: bool) -> None:
    driver = conn.connection.dbapi_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    # The copy is renamed to the table's name: without the legacy rule SQLite checks
    # every view on the way and refuses while a view names the table being replaced.
    driver.execute(f"PRAGMA legacy_alter_table={'OFF' if on else 'ON'}")


def offline_sql(dialect: str, tier: Tier | None = None) -> str:
    """Return the complete DDL that upgrading to ``tier`` (default: all) runs on ``dialect``.

    Raises:
        InvalidInput: If the dialect is not one of sqlite, postgresql, db2.
        ConfigurationError: If the DB2 dialect package is not installed.
    """
    name = dialect.strip().lower()
    if name not in SQL_DIALECTS:
        raise InvalidInput(
            f"unknown dialect {dialect!r}: expected one of {', '.join(SQL_DIALECTS)}"
        )
    if name == "db2":
        try:
            _register_db2_alembic_impl()
        except ImportError:
            raise ConfigurationError(
                "DB2 DDL needs the ibm_db_sa package: install spine-core[db2]"
            ) from None
        name = "ibm_db_sa"
    buffer = io.StringIO()
    config = Config(output_buffer=buffer)
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["dialect"] = name
    target = "heads" if tier is None else f"{tier.value}@head"
    command.upgrade(config, target, sql=True)
    return buffer.getvalue()


def _register_db2_alembic_impl() -> None:
    """Teach Alembic the DB2 dialect, for which it ships no implementation."""
    import logging

    import ibm_db_sa  # noqa: F401  (registers the SQLAlchemy dialect)
    from alembic.ddl.impl import DefaultImpl

    # ibm_db_sa logs a warning per constraint when no server is connected, through
    # Python's last-resort handler; offline DDL has no server by design.
    logging.getLogger("ibm_db_sa").disabled = True

    from alembic.ddl import impl as alembic_impl

    if "ibm_db_sa" not in alembic_impl._impls:

        class DB2Impl(DefaultImpl):
            __dialect__ = "ibm_db_sa"
            transactional_ddl = True


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


def _create_month(
    conn: sa.Connection, parent: str, column: str, name: str, low: date, high: date
) -> None:
    default = f"{parent}_default"
    # Months are UTC months: a bare date would be read in the session's TimeZone, and a
    # server set to, say, America/New_York would file a UTC midnight into the month before.
    low_utc = datetime(low.year, low.month, low.day, tzinfo=UTC)
    high_utc = datetime(high.year, high.month, high.day, tzinfo=UTC)
    bounds = {"low": low_utc, "high": high_utc}
    values = f"FOR VALUES FROM ('{low_utc.isoformat()}') TO ('{high_utc.isoformat()}')"
    moving = conn.execute(
        sa.text(f"SELECT count(*) FROM {default} WHERE {column} >= :low AND {column} < :high"),
        bounds,
    ).scalar_one()
    if not moving:
        conn.execute(sa.text(f"CREATE TABLE {name} PARTITION OF {parent} {values}"))
        return
    # Rows for this month already sit in the default partition: PostgreSQL refuses a new
    # partition that would overlap them, so detach the default, move the rows, reattach.
    conn.execute(sa.text(f"ALTER TABLE {parent} DETACH PARTITION {default}"))
    conn.execute(sa.text(f"CREATE TABLE {name} PARTITION OF {parent} {values}"))
    conn.execute(
        sa.text(
            f"INSERT INTO {parent} OVERRIDING SYSTEM VALUE SELECT * FROM {default} "
            f"WHERE {column} >= :low AND {column} < :high"
        ),
        bounds,
    )
    conn.execute(
        sa.text(f"DELETE FROM {default} WHERE {column} >= :low AND {column} < :high"), bounds
    )
    conn.execute(sa.text(f"ALTER TABLE {parent} ATTACH PARTITION {default} DEFAULT"))
