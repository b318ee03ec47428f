"""SFTP sources against a real SSH server on loopback (asyncssh's server, in a thread)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spine.sources import FetchStatus, SourceService
from tests.sources.conftest import sqlite_only

asyncssh = pytest.importorskip("asyncssh")

backend = pytest.fixture(sqlite_only)
PASSWORD = "sftp-pa55"


@dataclass
class SshServer:
    port: int
    root: Path
    known_hosts: Path


class _Auth(asyncssh.SSHServer):  # type: ignore[misc]
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == "finra" and password == PASSWORD


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    root = tmp_path_factory.mktemp("sftp-root")
    key = asyncssh.generate_private_key("ssh-ed25519")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> Any:
        return await asyncssh.create_server(
            _Auth,
            "127.0.0.1",
            0,
            server_host_keys=[key],
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root)),
        )

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    port = server.sockets[0].getsockname()[1]
    known_hosts = root.parent / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {key.export_public_key().decode()}")
    yield SshServer(port, root, known_hosts)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=30)
    loop.close()


def _add(sources: SourceService, ssh: SshServer, name: str = "sftp.otc", **extra: Any) -> None:
    config = {
        "host": "127.0.0.1",
        "port": ssh.port,
        "username": "finra",
        "password_ref": "env:SFTP_PW",
        "path": "/otc_{week}.psv",
        "known_hosts": str(ssh.known_hosts),
        **extra,
    }
    sources.add(name, "sftp", config)


def test_download_then_unchanged_by_stat_then_changed(
    sources: SourceService, ssh_server: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFTP_PW", PASSWORD)
    remote = ssh_server.root / "otc_2025-01-10.psv"
    remote.write_bytes(b"h|x\n1|2\n3|4\n")
    os.utime(remote, (1_700_000_000, 1_700_000_000))
    _add(sources, ssh_server)
    first = sources.fetch("sftp.otc", {"week": "2025-01-10"})
    assert (first.status, first.record_count, first.content) == (
        FetchStatus.SUCCESS,
        2,
        b"h|x\n1|2\n3|4\n",
    )
    second = sources.fetch("sftp.otc", {"week": "2025-01-10"})
    assert (second.status, second.content_hash) == (FetchStatus.UNCHANGED, first.content_hash)
    remote.write_bytes(b"h|x\n1|2\n3|4\n5|6\n")
    third = sources.fetch("sftp.otc", {"week": "2025-01-10"})
    assert (third.status, third.record_count) == (FetchStatus.SUCCESS, 3)


def test_missing_file_wrong_password_and_unknown_host_key(
    sources: SourceService,
    ssh_server: SshServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("SFTP_PW", PASSWORD)
    _add(sources, ssh_server)
    missing = sources.fetch("sftp.otc", {"week": "1999-01-01"})
    assert (missing.status, missing.error_category) == (FetchStatus.NOT_FOUND, "NOT_FOUND")

    monkeypatch.setenv("SFTP_PW", "wrong")
    denied = sources.fetch("sftp.otc", {"week": "1999-01-01"})
    assert (denied.status, denied.error_category) == (FetchStatus.FAILED, "AUTHENTICATION")
    assert "wrong" not in (denied.error or "")

    monkeypatch.setenv("SFTP_PW", PASSWORD)
    other = tmp_path / "known_hosts"
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    other.write_text(f"[127.0.0.1]:{ssh_server.port} {stranger}")
    _add(sources, ssh_server, "sftp.spoofed", known_hosts=str(other))
    spoofed = sources.fetch("sftp.spoofed", {"week": "2025-01-10"})
    assert (spoofed.status, spoofed.error_category) == (FetchStatus.FAILED, "PERMISSION")
