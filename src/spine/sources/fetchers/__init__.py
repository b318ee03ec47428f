"""One fetcher per source type (file, http, database, s3, sftp)."""

from spine.sources.fetchers.base import Fetcher, FetchRequest, FetchSettings
from spine.sources.fetchers.database import DatabaseFetcher
from spine.sources.fetchers.file import FileFetcher
from spine.sources.fetchers.http import HttpFetcher
from spine.sources.fetchers.s3 import S3Fetcher
from spine.sources.fetchers.sftp import SftpFetcher

__all__ = [
    "DatabaseFetcher",
    "FetchRequest",
    "FetchSettings",
    "Fetcher",
    "FileFetcher",
    "HttpFetcher",
    "S3Fetcher",
    "SftpFetcher",
]
