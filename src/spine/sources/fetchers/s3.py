"""S3 sources (extra ``s3``: boto3): one object, conditional on its ETag.

Config keys: ``bucket`` and ``key`` (required; ``{param}`` placeholders), ``endpoint_url``
(for S3-compatible stores; passes the outbound-URL guard), ``region``,
``access_key_id_ref`` and ``secret_access_key_ref`` (secret references; without them
boto3's own credential chain applies), ``max_bytes``, ``format``, ``header``, ``params``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from spine.core.errors import ConfigurationError, ErrorCategory, SpineError
from spine.core.net import check_outbound_url
from spine.sources.errors import ContentNotFound
from spine.sources.fetchers.base import DownloadSink, FetchRequest, render, require
from spine.sources.formats import format_of
from spine.sources.models import ALLOW_PRIVATE_SETTING, Fetched, FetchStatus

_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"}
_MISSING_CODES = {"NoSuchKey", "NoSuchBucket", "404"}


def _client(config: Mapping[str, Any], request: FetchRequest) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigurationError("s3 sources need boto3: install spine-core[s3]") from None
    endpoint = config.get("endpoint_url")
    if endpoint:
        check_outbound_url(
            str(endpoint),
            allow_private=request.settings.allow_private_urls,
            setting=ALLOW_PRIVATE_SETTING,
        )
    options: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region_name": config.get("region", "us-east-1"),
        "config": Config(
            connect_timeout=request.settings.timeout_seconds,
            read_timeout=request.settings.timeout_seconds,
            retries={"max_attempts": int(config.get("max_retries", 3)) + 1, "mode": "standard"},
        ),
    }
    if config.get("access_key_id_ref"):
        options["aws_access_key_id"] = request.secret(str(config["access_key_id_ref"]))
        options["aws_secret_access_key"] = request.secret(
            str(require(config, "secret_access_key_ref", "s3"))
        )
    return boto3.client("s3", **options)


class S3Fetcher:
    """GETs one object with boto3."""

    def locate(self, config: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        """``s3://bucket/key`` with placeholders filled."""
        bucket = render(str(require(config, "bucket", "s3")), params)
        key = render(str(require(config, "key", "s3")), params)
        return f"s3://{bucket}/{key}"

    def fetch(self, request: FetchRequest) -> Fetched:
        """GET the object (``IfNoneMatch`` the previous ETag); 304 is UNCHANGED."""
        from botocore.exceptions import BotoCoreError, ClientError

        config = request.config
        bucket, _, key = request.locator.removeprefix("s3://").partition("/")
        client = _client(config, request)
        arguments: dict[str, Any] = {"Bucket": bucket, "Key": key}
        etag = (request.cached.etag if request.cached else None) or (
            request.previous.get("etag") if request.previous else None
        )
        if etag and not request.force:
            arguments["IfNoneMatch"] = etag
        try:
            response = client.get_object(**arguments)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("304", "NotModified") or status == 304:
                return Fetched(status=FetchStatus.UNCHANGED, locator=request.locator, etag=etag)
            if code in _MISSING_CODES:
                raise ContentNotFound(f"{request.locator}: {code}") from None
            category = (
                ErrorCategory.AUTHENTICATION if code in _AUTH_CODES else ErrorCategory.UNAVAILABLE
            )
            raise SpineError(f"{request.locator}: {error}", category=category) from None
        except BotoCoreError as error:
            raise SpineError(
                f"{request.locator}: {error}", category=ErrorCategory.NETWORK
            ) from None
        max_bytes = int(config.get("max_bytes", request.settings.max_bytes))
        fmt = format_of(key, config.get("format"))
        sink = DownloadSink(
            replace(request.settings, max_bytes=max_bytes),
            fmt,
            header=bool(config.get("header", True)),
        )
        body = response["Body"]
        try:
            for chunk in body.iter_chunks(1024 * 1024):
                sink.write(chunk)
        except BaseException:
            sink.discard()
            raise
        finally:
            body.close()
        content, digest = sink.finish()
        last_modified = response.get("LastModified")
        return Fetched(
            status=FetchStatus.SUCCESS,
            locator=request.locator,
            record_count=digest.record_count,
            byte_count=digest.size,
            content_hash=digest.sha256,
            content=content,
            etag=response.get("ETag"),
            last_modified=last_modified.isoformat() if last_modified else None,
            metadata={"format": fmt},
        )
