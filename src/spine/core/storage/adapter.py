"""The specification's database adapter (spec 002, "Usage Example").

``DatabaseConfig.from_env()`` → ``create_adapter(config)`` → ``adapter.connect()``, then
``adapter.execute(sql, params)`` (returns the row count, commits) and
``adapter.query(sql, params)`` (returns a :class:`QueryResult` with ``.rows`` and
``.records``). SQL uses ``?`` placeholders on every dialect, as the specification's
stores do; ``:name`` placeholders with a mapping work too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from spine.core.errors import ConfigurationError
from spine.core.storage.engine import Database, EngineOptions, create_database, redact

Params = Sequence[Any] | Mapping[str, Any] | None

#: Where spine keeps its state when nothing says otherwise (as ``spine.config`` does).
DEFAULT_URL = "sqlite:///spine.db"


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseConfig:
    """Where spine's database is and how to open it."""

    url: str = DEFAULT_URL
    options: EngineOptions = field(default_factory=EngineOptions)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DatabaseConfig:
        """Read ``SPINE_DATABASE_URL`` and ``SPINE_SQLITE_BUSY_TIMEOUT_MS`` from the environment.

        Args:
            environ: The variables to read (``os.environ`` when ``None``).

        Raises:
            ConfigurationError: If the busy timeout is not a non-negative integer.
        """
        # Core sits below `spine.config` and does not import it: the specification's
        # adapter reads its two variables itself, with the same names and defaults.
        env = os.environ if environ is None else environ
        url = env.get("SPINE_DATABASE_URL") or DEFAULT_URL
        raw = env.get("SPINE_SQLITE_BUSY_TIMEOUT_MS", "").strip()
        try:
            busy_timeout_ms = int(raw) if raw else EngineOptions().busy_timeout_ms
        except ValueError:
            busy_timeout_ms = -1
        if busy_timeout_ms < 0:
            raise ConfigurationError(
                f"SPINE_SQLITE_BUSY_TIMEOUT_MS must be a whole number of milliseconds >= 0, "
                f"not {raw!r}"
            )
        return cls.from_settings(url, busy_timeout_ms)

    @classmethod
    def from_settings(cls, url: str, busy_timeout_ms: int = 30_000) -> DatabaseConfig:
        """Build a config from a URL and SQLite's busy timeout."""
        return cls(url=url, options=EngineOptions(busy_timeout_ms=busy_timeout_ms))


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of a query: ``rows`` as tuples, ``records`` as dicts keyed by column name."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    @property
    def records(self) -> list[dict[str, Any]]:
        """Each row as a dict of column name to value."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.rows)


class DatabaseAdapter:
    """Runs plain SQL against spine's database on any dialect.

    Args:
        config: Where the database is.
    """

    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self._database: Database | None = None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.database.dialect

    @property
    def database(self) -> Database:
        """The underlying :class:`Database` (connecting on first use)."""
        if self._database is None:
            self.connect()
        assert self._database is not None
        return self._database

    def connect(self) -> DatabaseAdapter:
        """Open the database and check that it answers.

        Raises:
            ConfigurationError: If the URL is malformed.
            DatabaseUnavailable: If the server cannot be reached.
        """
        if self._database is None:
            database = create_database(self.config.url, self.config.options)
            database.ping()
            self._database = database
        return self

    def close(self) -> None:
        """Release every connection."""
        if self._database is not None:
            self._database.dispose()
            self._database = None

    def execute(self, sql: str, params: Params = None) -> int:
        """Run one statement in its own transaction and return the number of rows it changed."""
        statement, bound = to_statement(sql, params)
        return self.database.run_write(lambda conn: conn.execute(statement, bound).rowcount)

    def executemany(self, sql: str, seq_of_params: Sequence[Params]) -> int:
        """Run one statement for each parameter set in a single transaction."""
        if not seq_of_params:
            return 0
        statement, _ = to_statement(sql, seq_of_params[0])
        batch = [to_statement(sql, p)[1] for p in seq_of_params]
        return self.database.run_write(lambda conn: conn.execute(statement, batch).rowcount)

    def query(self, sql: str, params: Params = None) -> QueryResult:
        """Run a query and return all of its rows."""
        statement, bound = to_statement(sql, params)

        def work(conn: sa.Connection) -> QueryResult:
            result = conn.execute(statement, bound)
            return QueryResult(tuple(result.keys()), [tuple(row) for row in result])

        return self.database.run_read(work)

    def __repr__(self) -> str:
        return f"DatabaseAdapter({redact(self.config.url)})"


def create_adapter(config: DatabaseConfig | str | None = None) -> DatabaseAdapter:
    """Return an adapter for ``config`` (a config, a URL, or ``None`` for the environment)."""
    if config is None:
        config = DatabaseConfig.from_env()
    elif isinstance(config, str):
        config = DatabaseConfig(url=config)
    return DatabaseAdapter(config)


def to_statement(sql: str, params: Params) -> tuple[sa.TextClause, dict[str, Any]]:
    """Turn SQL with ``?`` or ``:name`` placeholders into a text clause and its bindings.

    ``?`` outside quotes and comments becomes ``:p0``, ``:p1`` ... so the same SQL runs on
    every driver whatever its own paramstyle.

    Raises:
        ConfigurationError: If the number of ``?`` and of values differ.
    """
    if params is None:
        params = ()
    if isinstance(params, Mapping):
        return sa.text(sql), dict(params)
    converted, count = _number_placeholders(sql)
    values = list(params)
    if count != len(values):
        raise ConfigurationError(
            f"the statement has {count} '?' placeholders but {len(values)} values were given"
        )
    return sa.text(converted), {f"p{i}": value for i, value in enumerate(values)}


def _number_placeholders(sql: str) -> tuple[str, int]:
    out: list[str] = []
    count = 0
    i = 0
    length = len(sql)
    while i < length:
        char = sql[i]
        if char in ("'", '"'):
            end = i + 1
            while end < length:
                if sql[end] == char:
                    if end + 1 < length and sql[end + 1] == char:
                        end += 2
                        continue
                    break
                end += 1
            out.append(_escape_colons(sql[i : end + 1]))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = length if end == -1 else end
            out.append(_escape_colons(sql[i:end]))
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = length if end == -1 else end + 2
            out.append(_escape_colons(sql[i:end]))
            i = end
        elif char == "?":
            out.append(f":p{count}")
            count += 1
            i += 1
        elif char == ":" and i + 1 < length and sql[i + 1] == ":":
            # PostgreSQL casts (`x::jsonb`) are not bind parameters.
            out.append("\\:\\:")
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out), count


def _escape_colons(quoted: str) -> str:
    # SQLAlchemy's text() reads `:word` as a bind parameter even inside quotes (a JSON
    # literal such as '{"a":1}' would ask for a parameter named "1"); `\:` is a colon.
    return quoted.replace(":", "\\:")
