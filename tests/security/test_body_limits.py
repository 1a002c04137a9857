"""Oversized request bodies and uploads are refused with 413 before they are read, in the one
error shape, and nothing is written; the documented 4 MiB article still fits (on every
database: tests/acceptance/test_bad_input.py)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from contenthub.config import Settings
from contenthub.services.articles import MAX_BODY_BYTES
from tests.acceptance.conftest import ServedApi
from tests.security.conftest import V1, assert_error

MiB = 1024 * 1024
LIMIT = Settings.max_request_bytes  # the default: the server under test sets none


def article_count(client: httpx.Client) -> int:
    return client.get(f"{V1}/articles").json()["total"]


def raw_request(api: ServedApi, head: str) -> tuple[str, dict[str, str], bytes]:
    """Send only a request's head (no body) on a raw socket; the whole answer, read until the
    server closes the connection."""
    address = urlsplit(api.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = b""
        while chunk := sock.recv(65536):  # a server waiting for the body would time out here
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    header_block, _, body = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in header_block.decode().split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status.decode(), headers, body


def test_a_declared_length_above_the_limit_is_refused_before_the_body(api: ServedApi) -> None:
    client, _ = api.client()
    token = client.headers["Authorization"]
    for auth in (f"Authorization: {token}\r\n", ""):  # signed in or not: refused the same
        status, headers, body = raw_request(
            api,
            f"POST {V1}/articles HTTP/1.1\r\nHost: test\r\n{auth}"
            f"Content-Type: application/json\r\nContent-Length: {1024 * MiB}\r\n\r\n",
        )
        # Not one byte of the 1 GiB was sent, yet the answer came and the connection closed.
        assert status.split()[1] == "413", status
        assert headers["connection"] == "close"
        error = json.loads(body)["error"]
        assert error["code"] == "too_large" and f"{LIMIT // MiB} MiB" in error["message"], error
    assert article_count(client) == 0


def test_a_chunked_body_is_counted_and_stopped_at_the_limit(api: ServedApi) -> None:
    client, _ = api.client()

    def oversized() -> Iterator[bytes]:  # no length: httpx sends it chunked
        yield b'{"title": "big", "body": "'
        for _ in range(LIMIT // MiB + 2):
            yield b"a" * MiB
        yield b'"}'

    answer = client.post(
        f"{V1}/articles", content=oversized(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in answer.request.headers
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert_error(answer, 413, "too_large")
    assert article_count(client) == 0

    def small() -> Iterator[bytes]:
        yield b'{"title": "small", '
        yield b'"body": "fits"}'

    fine = client.post(
        f"{V1}/articles", content=small(), headers={"Content-Type": "application/json"}
    )
    assert fine.status_code == 201, fine.text
    assert article_count(client) == 1


def test_an_oversized_upload_is_refused_and_nothing_is_written(api: ServedApi) -> None:
    client, _ = api.client()
    before = sorted(p.name for p in api.data_dir.iterdir())
    upload = {"file": ("huge.png", b"\x89PNG" + b"\0" * (LIMIT + 1), "image/png")}
    answer = client.post(f"{V1}/articles", files=upload, data={"title": "x"})
    assert_error(answer, 413, "too_large")
    assert answer.headers["connection"] == "close"
    assert article_count(client) == 0
    assert sorted(p.name for p in api.data_dir.iterdir()) == before


def test_the_documented_article_limit_still_fits(api: ServedApi) -> None:
    client, _ = api.client()
    body = "x" * (MAX_BODY_BYTES - 16)
    answer = client.post(f"{V1}/articles", json={"title": "largest allowed", "body": body})
    assert answer.status_code == 201, answer.text[:300]
    assert client.get(f"{V1}/articles/{answer.json()['id']}").json()["body"] == body
    assert client.delete(f"{V1}/articles/{answer.json()['id']}").status_code == 204
    # One byte over the article limit is the service's 422, not the transport's 413.
    over = client.post(
        f"{V1}/articles", json={"title": "too long", "body": "x" * (MAX_BODY_BYTES + 1)}
    )
    assert_error(over, 422, "invalid", "body")
