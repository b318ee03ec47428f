"""SFTP sources (extra ``sftp``: asyncssh): one remote file, skipped when unchanged.

Config keys: ``host`` and ``path`` (required; ``{param}`` placeholders in ``path``),
``port`` (22), ``username``, ``password_ref`` or ``private_key_ref`` (a ``file:`` reference
to a key), ``known_hosts`` (a known_hosts file; the server's host key is always checked
unless ``host_key_check`` is false), ``max_bytes``, ``format``, ``header``, ``params``.

Change detection as for files: the remote size and mtime first (no download when both
are unchanged), then SHA-256.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from spine.core.errors import ConfigurationError, ErrorCategory, SpineError
from spine.core.net import check_outbound_host
from spine.sources.errors import ContentNotFound
from spine.sources.fetchers.base import DownloadSink, FetchRequest, render, require
from spine.sources.formats import format_of
from spine.sources.models import ALLOW_PRIVATE_SETTING, Fetched, FetchStatus


class SftpFetcher:
    """Downloads one file over SFTP with asyncssh."""

    def locate(self, config: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        """``sftp://user@host:port/path`` with placeholders filled."""
        host = str(require(config, "host", "sftp"))
        path = render(str(require(config, "path", "sftp")), params)
        user = f"{config['username']}@" if config.get("username") else ""
        return f"sftp://{user}{host}:{int(config.get('port', 22))}{path}"

    def fetch(self, request: FetchRequest) -> Fetched:
        """Stat, then download only when size or mtime changed (or ``force``)."""
        try:
            import asyncssh  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "sftp sources need asyncssh: install spine-core[sftp]"
            ) from None
        check_outbound_host(
            str(request.config["host"]),
            allow_private=request.settings.allow_private_urls,
            setting=ALLOW_PRIVATE_SETTING,
        )
        return asyncio.run(self._fetch(request))

    async def _fetch(self, request: FetchRequest) -> Fetched:
        import asyncssh

        config = request.config
        path = render(str(config["path"]), request.params)
        options: dict[str, Any] = {
            "host": str(config["host"]),
            "port": int(config.get("port", 22)),
            "username": config.get("username"),
            "connect_timeout": request.settings.timeout_seconds,
        }
        if config.get("password_ref"):
            options["password"] = request.secret(str(config["password_ref"]))
        if config.get("private_key_ref"):
            options["client_keys"] = [
                asyncssh.import_private_key(request.secret(str(config["private_key_ref"])))
            ]
        if config.get("host_key_check", True) is False:
            options["known_hosts"] = None
        elif config.get("known_hosts"):
            options["known_hosts"] = str(config["known_hosts"])
        try:
            async with asyncssh.connect(**options) as ssh, ssh.start_sftp_client() as sftp:
                attrs = await sftp.stat(path)
                return await self._download(request, sftp, path, attrs)
        except asyncssh.SFTPNoSuchFile:
            raise ContentNotFound(f"no file {request.locator}") from None
        except asyncssh.PermissionDenied as error:
            raise SpineError(
                f"{request.locator}: authentication failed: {error.reason}",
                category=ErrorCategory.AUTHENTICATION,
            ) from None
        except asyncssh.HostKeyNotVerifiable as error:
            raise SpineError(
                f"{request.locator}: host key not verifiable: {error.reason}",
                category=ErrorCategory.PERMISSION,
            ) from None
        except asyncssh.SFTPError as error:
            raise SpineError(
                f"{request.locator}: {error.reason}", category=ErrorCategory.UNAVAILABLE
            ) from None
        except (OSError, asyncssh.Error) as error:
            raise SpineError(
                f"{request.locator}: {error}", category=ErrorCategory.NETWORK
            ) from None

    async def _download(self, request: FetchRequest, sftp: Any, path: str, attrs: Any) -> Fetched:
        config = request.config
        size, mtime = int(attrs.size or 0), int(attrs.mtime or 0)
        before = request.previous_metadata()
        previous = request.previous or {}
        if (
            not request.force
            and before.get("size") == size
            and before.get("mtime") == mtime
            and previous.get("content_hash")
        ):
            return Fetched(
                status=FetchStatus.UNCHANGED,
                locator=request.locator,
                record_count=previous.get("record_count"),
                byte_count=size,
                content_hash=previous["content_hash"],
                metadata={"size": size, "mtime": mtime},
            )
        max_bytes = int(config.get("max_bytes", request.settings.max_bytes))
        fmt = format_of(path, config.get("format"))
        sink = DownloadSink(
            replace(request.settings, max_bytes=max_bytes),
            fmt,
            header=bool(config.get("header", True)),
        )
        try:
            async with sftp.open(path, "rb") as remote:
                while chunk := await remote.read(256 * 1024):
                    sink.write(chunk)
        except BaseException:
            sink.discard()
            raise
        content, digest = sink.finish()
        unchanged = not request.force and previous.get("content_hash") == digest.sha256
        return Fetched(
            status=FetchStatus.UNCHANGED if unchanged else FetchStatus.SUCCESS,
            locator=request.locator,
            record_count=digest.record_count,
            byte_count=digest.size,
            content_hash=digest.sha256,
            content=content,
            metadata={"size": size, "mtime": mtime, "format": fmt},
        )
