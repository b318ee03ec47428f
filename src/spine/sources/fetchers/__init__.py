"""One fetcher per source type (file, http, database, s3, sftp).

Fetchers are imported when first used (:func:`fetcher_for`): httpx, boto3 and asyncssh
cost a short-lived ``spine`` command a tenth of a second or more each, and most commands
fetch nothing.
"""

from __future__ import annotations

from spine.sources.fetchers.base import Fetcher, FetchRequest, FetchSettings
from spine.sources.models import SourceType

__all__ = ["FetchRequest", "FetchSettings", "Fetcher", "fetcher_for"]


def fetcher_for(kind: SourceType) -> Fetcher:
    """A new fetcher for ``kind`` (database sources are built by the service)."""
    if kind is SourceType.FILE:
        from spine.sources.fetchers.file import FileFetcher

        return FileFetcher()
    if kind is SourceType.HTTP:
        from spine.sources.fetchers.http import HttpFetcher

        return HttpFetcher()
    if kind is SourceType.S3:
        from spine.sources.fetchers.s3 import S3Fetcher

        return S3Fetcher()
    if kind is SourceType.SFTP:
        from spine.sources.fetchers.sftp import SftpFetcher

        return SftpFetcher()
    raise ValueError(f"no stand-alone fetcher for {kind.value}")
