"""S3 sources against a real S3 HTTP endpoint on loopback (moto's server, from PyPI)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from spine.sources import FetchStatus, SourceService
from tests.sources.conftest import sqlite_only

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

backend = pytest.fixture(sqlite_only)
BODY = b"a|b\n1|2\n3|4\n5|6\n"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("S3_KEY_ID", "testing")
    monkeypatch.setenv("S3_SECRET", "testing")
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = "finra-drop"
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="otc/2025-01-10.psv", Body=BODY)
    yield client
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def _add(sources: SourceService, endpoint: str) -> None:
    sources.add(
        "s3.otc",
        "s3",
        {
            "bucket": "finra-drop",
            "key": "otc/{week}.psv",
            "endpoint_url": endpoint,
            "access_key_id_ref": "env:S3_KEY_ID",
            "secret_access_key_ref": "env:S3_SECRET",
        },
    )


def test_get_then_unchanged_by_etag_then_changed(
    sources: SourceService, endpoint: str, bucket: Any
) -> None:
    _add(sources, endpoint)
    first = sources.fetch("s3.otc", {"week": "2025-01-10"})
    assert (first.status, first.record_count, first.content) == (FetchStatus.SUCCESS, 3, BODY)
    assert first.locator == "s3://finra-drop/otc/2025-01-10.psv"
    assert first.etag
    second = sources.fetch("s3.otc", {"week": "2025-01-10"})
    assert (second.status, second.content, second.record_count) == (
        FetchStatus.UNCHANGED,
        BODY,
        3,
    )
    bucket.put_object(Bucket="finra-drop", Key="otc/2025-01-10.psv", Body=BODY + b"7|8\n")
    third = sources.fetch("s3.otc", {"week": "2025-01-10"})
    assert (third.status, third.record_count) == (FetchStatus.SUCCESS, 4)


def test_missing_key_is_not_found(sources: SourceService, endpoint: str, bucket: Any) -> None:
    _add(sources, endpoint)
    result = sources.fetch("s3.otc", {"week": "2025-01-17"})
    assert (result.status, result.error_category) == (FetchStatus.NOT_FOUND, "NOT_FOUND")
