"""The specification's adapter API works as its usage example shows, on both dialects."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from spine.core.errors import ConfigurationError, SpineError
from spine.core.storage import DatabaseAdapter, DatabaseConfig, create_adapter


@pytest.fixture
def adapter(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DatabaseAdapter]:
    """The spec's setup: DatabaseConfig.from_env() -> create_adapter(config) -> connect()."""
    for name in [n for n in os.environ if n.startswith("SPINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray spine.toml
    monkeypatch.setenv("SPINE_DATABASE_URL", db_url)
    config = DatabaseConfig.from_env()
    adapter = create_adapter(config)
    adapter.connect()
    adapter.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, name VARCHAR(50), note TEXT)")
    yield adapter
    adapter.close()


def test_from_env_reads_spine_database_url(adapter: DatabaseAdapter, db_url: str) -> None:
    assert adapter.config.url == db_url


def test_dialect_names_the_backend(adapter: DatabaseAdapter, backend: str) -> None:
    assert adapter.dialect == backend


def test_execute_returns_the_number_of_rows_changed(adapter: DatabaseAdapter) -> None:
    inserted = adapter.execute("INSERT INTO probe (id, name) VALUES (?, ?)", (1, "AAPL"))
    adapter.execute("INSERT INTO probe (id, name) VALUES (?, ?)", [2, "MSFT"])
    adapter.execute("INSERT INTO probe (id, name) VALUES (?, ?)", [3, "TSLA"])

    updated = adapter.execute("UPDATE probe SET note = ? WHERE id >= ?", ("checked", 2))
    untouched = adapter.execute("DELETE FROM probe WHERE id > ?", (99,))

    assert (inserted, updated, untouched) == (1, 2, 0)


def test_query_returns_rows_as_tuples_and_records_as_dicts(adapter: DatabaseAdapter) -> None:
    adapter.execute("INSERT INTO probe (id, name, note) VALUES (?, ?, ?)", (1, "AAPL", None))
    adapter.execute("INSERT INTO probe (id, name, note) VALUES (?, ?, ?)", (2, "MSFT", "x"))

    result = adapter.query("SELECT id, name, note FROM probe WHERE id <= ? ORDER BY id", (5,))

    assert result.rows == [(1, "AAPL", None), (2, "MSFT", "x")]
    assert result.records == [
        {"id": 1, "name": "AAPL", "note": None},
        {"id": 2, "name": "MSFT", "note": "x"},
    ]
    assert list(result) == result.records
    assert len(result) == 2


def test_query_with_no_rows_is_empty(adapter: DatabaseAdapter) -> None:
    result = adapter.query("SELECT id FROM probe WHERE name = ?", ("nobody",))

    assert (result.rows, result.records, list(result)) == ([], [], [])


def test_question_mark_inside_a_string_literal_is_not_a_placeholder(
    adapter: DatabaseAdapter,
) -> None:
    adapter.execute("INSERT INTO probe (id, name, note) VALUES (?, 'what?', 'it''s ?')", (1,))

    result = adapter.query("SELECT name, note FROM probe WHERE name = 'what?' AND id = ?", (1,))

    assert result.rows == [("what?", "it's ?")]


def test_colons_inside_a_string_literal_are_not_parameters(adapter: DatabaseAdapter) -> None:
    adapter.execute(
        "INSERT INTO probe (id, name, note) VALUES (?, 'at 12:30 :sharp', '{\"a\":1}')", (1,)
    )

    result = adapter.query("SELECT name, note FROM probe WHERE note = '{\"a\":1}'")

    assert result.rows == [("at 12:30 :sharp", '{"a":1}')]


def test_wrong_number_of_values_is_a_clear_configuration_error(
    adapter: DatabaseAdapter,
) -> None:
    for values in [(), (1,), (1, 2, 3)]:
        with pytest.raises(SpineError) as caught:
            adapter.query("SELECT id FROM probe WHERE id = ? OR id = ?", values)

        assert isinstance(caught.value, ConfigurationError)
        assert str(caught.value) == (
            f"the statement has 2 '?' placeholders but {len(values)} values were given"
        )


def test_from_env_reads_the_busy_timeout_and_defaults_to_spine_db() -> None:
    assert DatabaseConfig.from_env({}).url == "sqlite:///spine.db"
    config = DatabaseConfig.from_env(
        {"SPINE_DATABASE_URL": "sqlite:///x.db", "SPINE_SQLITE_BUSY_TIMEOUT_MS": "1500"}
    )
    assert (config.url, config.options.busy_timeout_ms) == ("sqlite:///x.db", 1500)


@pytest.mark.parametrize("raw", ["soon", "-1", "1.5"])
def test_from_env_refuses_a_bad_busy_timeout(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="SPINE_SQLITE_BUSY_TIMEOUT_MS"):
        DatabaseConfig.from_env({"SPINE_SQLITE_BUSY_TIMEOUT_MS": raw})
