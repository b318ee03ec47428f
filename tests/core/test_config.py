"""Settings: defaults, ``SPINE_*`` variables, ``spine.toml``, and which one wins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spine.config import DEFAULT_DATABASE_URL, Settings, load_settings
from spine.core.errors import ConfigurationError


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No SPINE_* variables, and an empty working directory (no spine.toml)."""
    for name in [n for n in os.environ if n.startswith("SPINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_database_url_defaults_to_spine_db_in_the_working_directory() -> None:
    settings = Settings()

    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///spine.db"
    assert settings.app is None


def test_environment_variable_sets_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINE_DATABASE_URL", "postgresql://spine@db.internal/spine")
    monkeypatch.setenv("SPINE_POOL_SIZE", "12")

    settings = Settings()

    assert settings.database_url == "postgresql://spine@db.internal/spine"
    assert settings.pool_size == 12


def test_spine_toml_in_the_working_directory_sets_values(clean_environment: Path) -> None:
    write_toml(
        clean_environment / "spine.toml",
        'database_url = "sqlite:///from-toml.db"\nlog_level = "INFO"\n',
    )

    settings = Settings()

    assert (settings.database_url, settings.log_level) == ("sqlite:///from-toml.db", "INFO")


def test_spine_config_names_the_toml_file_to_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    write_toml(clean_environment / "spine.toml", 'database_url = "sqlite:///ignored.db"\n')
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    named = write_toml(elsewhere / "prod.toml", 'database_url = "sqlite:///named.db"\n')
    monkeypatch.setenv("SPINE_CONFIG", str(named))

    assert Settings().database_url == "sqlite:///named.db"


def test_environment_wins_over_toml(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    write_toml(
        clean_environment / "spine.toml",
        'database_url = "sqlite:///from-toml.db"\nlog_level = "INFO"\n',
    )
    monkeypatch.setenv("SPINE_DATABASE_URL", "sqlite:///from-env.db")

    settings = Settings()

    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.log_level == "INFO"  # what the environment does not set still comes from toml


def test_explicit_overrides_win_and_none_overrides_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPINE_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("SPINE_APP", "finra.jobs")

    settings = load_settings(database_url="sqlite:///from-option.db", app=None)

    assert settings.database_url == "sqlite:///from-option.db"
    assert settings.app == "finra.jobs"


def test_invalid_value_is_a_configuration_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPINE_POOL_SIZE", "zero")

    with pytest.raises(ConfigurationError, match="pool_size"):
        load_settings()


def test_malformed_toml_is_a_configuration_error_naming_the_file(
    clean_environment: Path,
) -> None:
    write_toml(clean_environment / "spine.toml", "database_url = \n")

    with pytest.raises(ConfigurationError, match=r"spine\.toml"):
        load_settings()


def test_spine_config_naming_a_missing_file_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPINE_CONFIG", str(tmp_path / "typo.toml"))

    with pytest.raises(ConfigurationError, match=r"typo\.toml"):
        load_settings()
