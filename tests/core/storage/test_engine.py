"""Database URLs: parsed with spine's drivers, refused clearly, printed without secrets."""

from __future__ import annotations

import pytest

from spine.core.errors import ConfigurationError
from spine.core.storage import normalize_url, redact


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("sqlite:///spine.db", "sqlite"),
        ("postgresql://spine@db/spine", "postgresql+psycopg"),
        ("postgres://spine@db/spine", "postgresql+psycopg"),
        ("postgresql+psycopg://spine@db/spine", "postgresql+psycopg"),
    ],
)
def test_urls_get_spine_drivers(raw: str, driver: str) -> None:
    assert normalize_url(raw).drivername == driver


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ("not-a-url", "malformed database URL"),
        ("postgresql://bob:pw@db:54x/spine", "malformed database URL"),
        ("mysql://bob@db/spine", "unsupported database 'mysql'"),
        ("oracle+cx_oracle://bob@db/spine", "unsupported database 'oracle'"),
    ],
)
def test_bad_urls_are_configuration_errors(raw: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        normalize_url(raw)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bob:s3cret@db:5432/spine", "postgresql://bob:***@db:5432/spine"),
        (
            "postgresql://bob@db/spine?sslmode=require&password=s3cret",
            "postgresql://bob@db/spine?password=***&sslmode=require",
        ),
        ("postgresql://bob:s3cret@db:54x/spine", "postgresql://bob:***@db:54x/spine"),
        (
            "postgresql://bob@db:54x/spine?PASSWORD=s3cret",
            "postgresql://bob@db:54x/spine?PASSWORD=***",
        ),
        ("sqlite:///spine.db", "sqlite:///spine.db"),
    ],
)
def test_redact_hides_passwords_in_any_url(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_redact_hides_the_password_of_a_parsed_url() -> None:
    url = normalize_url("postgresql://bob:s3cret@db/spine?password=s3cret")

    assert "s3cret" not in redact(url)
    assert url.password == "s3cret"  # only the printed form is redacted
