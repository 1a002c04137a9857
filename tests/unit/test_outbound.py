"""The outbound policy's rules: which addresses are refused, what an allow entry means, what a
saved base_url may be, that the connection goes to the address that was checked, that answers
are bounded, and that no module builds an HTTP client around the policy."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import ipaddress
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from contenthub.errors import InputError, Rejected
from contenthub.platforms import outbound
from contenthub.platforms.images import download_client, fetch_image
from contenthub.platforms.outbound import AllowRule, OutboundPolicy, address_kind
from contenthub.platforms.transport import new_client

SRC = Path(__file__).resolve().parents[2] / "src" / "contenthub"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # v4-mapped
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 around 10.0.0.1
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "private"),  # documentation: Python counts it as private
    ],
)
def test_non_public_addresses_are_named(address: str, kind: str) -> None:
    why = address_kind(ipaddress.ip_address(address))
    assert why is not None and kind in why


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_kind(ipaddress.ip_address(address)) is None


def test_allow_entries_hosts_ports_addresses_and_networks() -> None:
    policy = OutboundPolicy.parse(["127.0.0.1:8900", "WP.lan", "10.1.0.0/16", "[::1]:81"])
    loopback, lan = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.1.2.3")
    assert policy.refusal("127.0.0.1", 8900, loopback) is None
    assert policy.refusal("127.0.0.1", 8901, loopback)  # another port
    assert policy.refusal("wp.lan.", 443, ipaddress.ip_address("192.168.0.9")) is None
    assert policy.refusal("other.lan", 443, ipaddress.ip_address("192.168.0.9"))
    assert policy.refusal("anything", 80, lan) is None
    assert policy.refusal("anything", 80, ipaddress.ip_address("10.2.0.1"))
    assert policy.refusal("::1", 81, ipaddress.ip_address("::1")) is None
    assert policy.allows("127.0.0.1", 8900) and not policy.allows("localhost", 8900)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "host:99999", "host:x", "bad host", "a/b"])
def test_a_bad_allow_entry_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match=r"not a|no valid port"):
        AllowRule.parse(entry)


@pytest.mark.parametrize(
    ("platform", "base_url", "message"),
    [
        ("zhihu", "https://mirror.example.com", "zhihu has a fixed address"),
        ("wordpress", "http://127.0.0.1:8080", "is 127.0.0.1, a loopback address"),
        ("wordpress", "http://[fd00::5]/", "is fd00::5, a private address"),
        ("wordpress", "gopher://example.com/", "http:// or https://"),
        ("wordpress", "http://example.com:99999/", "invalid port"),
        ("wordpress", 42, "http:// or https://"),
        ("juejin", "http://g]|\ud840\udda4\x00", "is not a web address"),  # found by the fuzzer
    ],
)
def test_a_base_url_is_refused_when_saved(platform: str, base_url: Any, message: str) -> None:
    with pytest.raises(InputError, match=message) as refused:
        outbound.check_base_url(platform, {"base_url": base_url})
    assert refused.value.field == "options.base_url"


def test_a_base_url_is_accepted_where_it_belongs() -> None:
    outbound.check_base_url("wordpress", {"base_url": "https://blog.example.com"})
    outbound.check_base_url("local", {"base_url": "http://127.0.0.1/site"})  # only shown
    outbound.check_base_url("zhihu", {"timeout_seconds": 5})
    with outbound.allowing("127.0.0.1:8900"):
        outbound.check_base_url("zhihu", {"base_url": "http://127.0.0.1:8900/zhihu"})
        outbound.check_base_url("wordpress", {"base_url": "http://127.0.0.1:8900/wp"})


@contextlib.contextmanager
def loopback_server(body: bytes, *, chunked: bool = False) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(body), 1024):
                    piece = body[start : start + 1024]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_the_connection_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``rebind.invalid`` exists for no resolver: the request can succeed only if the policy's
    one lookup (here, a stand-in answering 127.0.0.1) is the address connected to."""
    lookups: list[str] = []

    async def resolver(host: str, port: int, **_: Any) -> list[Any]:
        lookups.append(host)
        return [(2, 1, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(outbound.anyio, "getaddrinfo", resolver)
    with loopback_server(b"\x89PNG hello") as address:
        port = int(address.split(":")[1])

        async def get() -> bytes:
            async with new_client({}) as client:
                return (await client.get(f"http://rebind.invalid:{port}/")).content

        with pytest.raises(Rejected, match=re.escape("resolves to 127.0.0.1, a loopback address")):
            asyncio.run(get())
        with outbound.allowing(f"rebind.invalid:{port}"):
            assert asyncio.run(get()) == b"\x89PNG hello"
    assert lookups == ["rebind.invalid", "rebind.invalid"]  # once per connection, by us


def test_answers_are_cut_off_past_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbound, "MAX_ANSWER_BYTES", 4096)
    with loopback_server(b"x" * 10_000, chunked=True) as address, outbound.allowing(address):

        async def get() -> None:
            async with new_client({}) as client:
                await client.get(f"http://{address}/big")

        with pytest.raises(Rejected, match=f"http://{address}/big answered more than"):
            asyncio.run(get())


def test_an_image_download_stops_at_the_platforms_limit() -> None:
    big = b"\x89PNG" + b"\0" * 50_000
    for chunked in (False, True):
        with loopback_server(big, chunked=chunked) as address, outbound.allowing(address):

            async def fetch(url: str = f"http://{address}/i.png") -> None:
                async with download_client() as client:
                    await fetch_image(client, url, max_bytes=10_000)

            with pytest.raises(Rejected, match="larger than the platform's 9 KB limit"):
                asyncio.run(fetch())


_BUILDERS = {"AsyncClient", "Client", "AsyncHTTPTransport", "HTTPTransport"}
_SHORTCUTS = {"get", "post", "put", "patch", "delete", "request", "stream", "head"}


def test_no_module_builds_an_http_client_around_the_policy() -> None:
    """Every outbound request must come from ``outbound.guarded_client`` (through
    ``transport.new_client``); the sandbox, a loopback simulator, is the one exception."""
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC).as_posix()
        if relative == "platforms/outbound.py" or relative.startswith("sandbox/"):
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"httpx", "httpcore", "urllib", "requests"}
                and node.func.attr in _BUILDERS | _SHORTCUTS
            ):
                offenders.append(f"{relative}:{node.lineno} {node.func.value.id}.{node.func.attr}")
            if isinstance(node, ast.ImportFrom) and node.module in {"httpx", "urllib.request"}:
                offenders.append(f"{relative}:{node.lineno} from {node.module} import …")
    assert offenders == []
