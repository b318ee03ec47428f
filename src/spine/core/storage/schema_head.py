"""Whether a database's schema is behind spine's, known without importing Alembic.

The embedded SQLite default creates and upgrades its schema on the first command that
needs it (``spine.cli.context``); every command asks first, so the question must cost
next to nothing: one ``SELECT`` on the version table and one listing of the migrations
folder. Alembic (a sixth of a second to import) is loaded only when there is something to
apply. Revisions follow ``<tier>_<NNNN>_<what>.py`` with ``revision = "<tier>_<NNNN>"``
(CONTRIBUTING), which is what lets the heads be read from the file names;
``tests/core/storage/test_schema_head.py`` checks that they are Alembic's heads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from spine.core.storage.engine import Database
from spine.core.storage.schema import Tier

VERSION_TABLE = "spine_schema_version"
VERSIONS_DIR = Path(__file__).with_name("migrations") / "versions"
_REVISION_FILE = re.compile(r"^([a-z]+)_(\d{4})_\w*\.py$")
_TIERS = {tier.value for tier in Tier}


def tier_heads() -> dict[Tier, str]:
    """Each tier's newest revision, read from the migration files' names."""
    newest: dict[Tier, int] = {}
    for path in VERSIONS_DIR.iterdir():
        match = _REVISION_FILE.match(path.name)
        if match is None or match.group(1) not in _TIERS:
            continue
        tier = Tier(match.group(1))
        newest[tier] = max(newest.get(tier, 0), int(match.group(2)))
    return {tier: f"{tier.value}_{number:04d}" for tier, number in newest.items()}


@dataclass(frozen=True, slots=True)
class SchemaBehind:
    """What is missing: nothing applied at all, or tiers behind their heads."""

    #: No spine schema at all (no version table, or an empty one).
    empty: bool
    #: The applied tiers, lowest first, when one of them is behind: upgrading each to
    #: its head (a tier's head does not bring a lower tier's later revisions along).
    tiers: tuple[Tier, ...] = ()


def schema_behind(database: Database) -> SchemaBehind | None:
    """Return what is behind in ``database``'s schema, or ``None`` when it is current.

    Only the tiers already applied count: a database given the basic tier alone is
    current when the basic tier is at its head.
    """

    def work(conn: sa.Connection) -> list[str] | None:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return None
        return list(conn.scalars(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")))

    rows = database.run_read(work)
    if not rows:
        return SchemaBehind(empty=True)
    heads = tier_heads()
    applied: set[Tier] = set()
    behind = False
    for revision in rows:
        name = revision.partition("_")[0]
        if name not in _TIERS:
            continue
        tier = Tier(name)
        applied.add(tier)
        behind = behind or revision < heads.get(tier, revision)
    if not behind:
        return None
    return SchemaBehind(empty=False, tiers=tuple(sorted(applied, key=lambda t: t.rank)))
