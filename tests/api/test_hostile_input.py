"""Hostile request bodies get a clear 4xx problem, never a 500 or a stack trace."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from spine.api.limits import MAX_JSON_DEPTH, json_depth
from tests.api.tenants import Tenants

PROBLEM = "application/problem+json"
MIB = 1024 * 1024


def _problem(response: object, status: int) -> dict[str, object]:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert "Traceback" not in response.text
    return body


def test_a_body_over_the_limit_is_413(tenants: Tenants) -> None:
    a = tenants.a
    big = json.dumps({"name": "x" * MIB}).encode()

    body = _problem(
        a.post("/api-keys", "all", content=big, headers={"Content-Type": "application/json"}),
        413,
    )

    assert str(MIB) in str(body["detail"])


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    tenants: Tenants,
) -> None:
    a = tenants.a
    address = urlsplit(str(a.client.base_url))
    request = (
        f"POST {a.url('/api-keys')} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Bearer {a.keys['all']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50 * MIB}\r\n\r\n"
    ).encode()

    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)  # headers only: not one byte of the 50 MiB follows
        answer = sock.recv(65536).decode("latin-1")

    assert answer.startswith("HTTP/1.1 413")
    assert PROBLEM in answer


def test_a_chunked_body_is_counted_while_it_streams(tenants: Tenants) -> None:
    a = tenants.a
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"name": "'
        for _ in range(64):  # 4 MiB in all, without a Content-Length
            sent += 64 * 1024
            yield b"x" * (64 * 1024)
        yield b'"}'

    response = a.post(
        "/api-keys", "all", content=chunks(), headers={"Content-Type": "application/json"}
    )

    _problem(response, 413)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"


def test_a_small_chunked_body_is_read_whole(tenants: Tenants) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": '
        yield b'"chunked"}'

    response = tenants.a.post(
        "/api-keys", "all", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["name"] == "chunked"


def test_json_nested_too_deep_is_422(tenants: Tenants) -> None:
    for depth in (MAX_JSON_DEPTH + 1, 100_000):
        body = '{"name": "x", "scopes": ' + "[" * depth + "]" * depth + "}"
        problem = _problem(
            tenants.a.post(
                "/api-keys", "all", content=body, headers={"Content-Type": "application/json"}
            ),
            422,
        )
        assert "deeper than" in str(problem["detail"])


def test_another_content_type_is_415(tenants: Tenants) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        problem = _problem(
            tenants.a.post("/api-keys", "all", content=b'{"name": "x"}', headers=headers), 415
        )
        assert "application/json" in str(problem["detail"])


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'"name"',
        b'{"name": 5}',
        b'{"name": ""}',
        b'{"name": "x", "scopes": ["root"]}',
        b'{"name": "x", "scopes": "read"}',
        b'{"name": "x", "expires_in_days": 0}',
        b'{"name": "x", "expires_in_days": 1e400}',
        b'{"name": "x", "expires_in_days": "soon"}',
        b"\xff\xfe",
    ],
)
def test_malformed_and_mistyped_bodies_are_422(tenants: Tenants, body: bytes) -> None:
    response = tenants.a.post(
        "/api-keys", "all", content=body, headers={"Content-Type": "application/json"}
    )

    problem = _problem(response, 422)
    assert problem["detail"]


def test_json_depth_skips_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": []}]}') == 4
    assert json_depth(b'["\\"[[[["]') == 1
    assert json_depth(b"[" * 1000, limit=10) == 11


def test_the_openapi_document_lists_the_body_answers_of_every_route_with_a_body(
    tenants: Tenants,
) -> None:
    document = tenants.a.client.get("/openapi.json").json()

    with_body = [
        operation
        for operations in document["paths"].values()
        for operation in operations.values()
        if "requestBody" in operation
    ]

    assert with_body
    for operation in with_body:
        for status in ("413", "415", "422"):
            assert PROBLEM in operation["responses"][status]["content"]
