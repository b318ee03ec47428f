"""Network sources are checked when they are saved: network schemes and public peers only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spine.core.errors import InvalidInput
from spine.core.net import UrlNotAllowed
from spine.sources import SourceService
from tests.cli.spine_process import invoke_spine

STRICT = {"sources_allow_private_urls": False}


@pytest.mark.parametrize(
    ("kind", "config"),
    [
        ("http", {"url": "file:///etc/passwd"}),
        ("http", {"url": "ftp://example.com/x.csv"}),
        ("http", {"url": "gopher://example.com/x"}),
        ("s3", {"bucket": "b", "key": "k", "endpoint_url": "file:///var/lib/s3"}),
        ("sftp", {"host": "sftp://example.com", "path": "/x.csv"}),
        ("sftp", {"host": "/var/run/sshd.sock", "path": "/x.csv"}),
    ],
)
def test_network_sources_refuse_non_network_schemes_when_saved(
    make_service: Callable[..., SourceService], kind: str, config: dict[str, Any]
) -> None:
    sources = make_service(**STRICT)
    with pytest.raises(InvalidInput):
        sources.add("x", kind, config)
    assert sources.list_sources() == []


@pytest.mark.parametrize(
    ("kind", "config"),
    [
        ("http", {"url": "http://127.0.0.1:8080/x.csv"}),
        ("http", {"url": "http://169.254.169.254/latest/meta-data/"}),
        ("http", {"url": "https://[::1]/x.csv"}),
        ("http", {"url": "https://10.1.2.3/{date}.csv"}),
        ("s3", {"bucket": "b", "key": "k", "endpoint_url": "http://192.168.1.5:9000"}),
        ("sftp", {"host": "169.254.169.254", "path": "/x.csv"}),
        ("sftp", {"host": "172.16.0.9", "path": "/x.csv"}),
    ],
)
def test_network_sources_refuse_private_addresses_when_saved(
    make_service: Callable[..., SourceService], kind: str, config: dict[str, Any]
) -> None:
    sources = make_service(**STRICT)
    with pytest.raises(UrlNotAllowed) as refused:
        sources.add("x", kind, config)
    assert str(refused.value).endswith(
        "to allow them set SPINE_SOURCES_ALLOW_PRIVATE_URLS=true "
        "(or sources_allow_private_urls = true in spine.toml)"
    )
    assert sources.list_sources() == []


def test_network_sources_with_public_or_unresolved_hosts_are_saved(
    make_service: Callable[..., SourceService],
) -> None:
    sources = make_service(**STRICT)
    sources.add("web", "http", {"url": "https://data.example.invalid/{date}.csv"})
    sources.add("templated", "http", {"url": "https://{host}/x.csv"})
    sources.add("s3", "s3", {"bucket": "b", "key": "k", "endpoint_url": "https://8.8.8.8"})
    sources.add("sftp", "sftp", {"host": "sftp.example.invalid", "path": "/x.csv"})
    assert [s.name for s in sources.list_sources()] == ["s3", "sftp", "templated", "web"]


def test_private_addresses_are_saved_when_the_setting_allows_them(
    sources: SourceService,
) -> None:
    sources.add("local", "http", {"url": "http://127.0.0.1:8080/x.csv"})
    sources.add("box", "sftp", {"host": "10.0.0.7", "path": "/x.csv"})
    assert len(sources.list_sources()) == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sources_add_refuses_a_link_local_url_in_one_line(tmp_path: Path, db_url: str) -> None:
    config = '{"url": "http://169.254.169.254/latest/meta-data/"}'
    done = invoke_spine(
        "sources", "add", "meta", "--type", "http", "--config", config,
        cwd=tmp_path, env={"SPINE_DATABASE_URL": db_url},
    )  # fmt: skip
    assert done.code == 2, (done.stdout, done.stderr)
    assert len(done.stderr.strip().splitlines()) == 1 and "169.254.169.254" in done.stderr
    listed = invoke_spine(
        "sources", "list", "--json", cwd=tmp_path, env={"SPINE_DATABASE_URL": db_url}
    )
    assert listed.code == 0 and "meta" not in listed.stdout
