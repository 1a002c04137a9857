"""The one outbound-request policy. Every HTTP request the server makes on a user's behalf (an
adapter's API calls, image downloads, the public-page check) goes through ``guarded_client``,
so a user cannot point the server at its own network (server-side request forgery).

1. Only ``http`` and ``https`` URLs, checked for every request, so for every redirect hop too
   (httpx sends each hop through the transport again).
2. At connect time the host is resolved once, every address it resolves to is checked, and the
   connection goes to a checked address: nothing resolves the name a second time, so a DNS
   answer that changes between check and connect (rebinding) gains nothing. This is httpcore's
   network-backend hook: the pool asks ``_GuardedBackend.connect_tcp(host, port)``.
3. Refused: loopback, private, link-local (cloud metadata at 169.254.169.254), shared (CGNAT),
   multicast, unspecified, reserved and every other non-global address, IPv4 and IPv6 alike;
   an IPv6 address that carries an IPv4 one (v4-mapped, 6to4, NAT64, Teredo) is judged by the
   IPv4 address inside. An administrator allows exceptions with ``CONTENTHUB_OUTBOUND_ALLOW``
   (``config.Settings.outbound_allow``): host names, ``host:port``, IP addresses or CIDR
   networks, e.g. ``127.0.0.1:8900,wp.lan,10.1.0.0/16``.
4. Bounded: every answer is cut off past ``MAX_ANSWER_BYTES`` or ``MAX_REQUEST_SECONDS``.
5. A refusal is ``OutboundRefused``, a ``Rejected`` publish error (never retried) whose message
   names the URL (without its query, which may carry a token) and the reason.

The policy is per process: built from the environment on first use, or set once at start-up
by ``configure`` (``serve --demo`` adds its sandbox). ``allowing`` extends it for a block
(tests and their loopback servers).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
import typing
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx
from httpcore._backends.anyio import AnyIOBackend

from contenthub.errors import InputError, Rejected

ALLOW_SETTING = "CONTENTHUB_OUTBOUND_ALLOW"
MAX_ANSWER_BYTES = 32 * 1024 * 1024
MAX_REQUEST_SECONDS = 120.0
MAX_REDIRECTS = 5
SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; not is_private in 3.11
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(Rejected):
    """The policy refused a request; the message names the URL and why."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"{url} {why}")
        self.url = url


class _AddressRefused(Exception):
    """Raised inside the connection pool, which knows the host but not the URL."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


# -- addresses ---------------------------------------------------------------------------------


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public internet address ("a loopback address" …), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            kind = address_kind(inner)
            return f"{kind} inside an IPv6 address" if kind else None
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_link_local, "a link-local address (cloud metadata lives there)"),
        (address.is_multicast, "a multicast address"),
        (address in _SHARED, "a shared (carrier-grade NAT) address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    return next((why for refused, why in checks if refused), None)


def _normal(address: IPAddress) -> IPAddress:
    """v4-mapped IPv6 addresses compare as the IPv4 address they carry."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _ip(text: str) -> IPAddress | None:
    try:
        return _normal(ipaddress.ip_address(text.strip("[]").split("%", 1)[0]))
    except ValueError:
        return None


# -- what an administrator allowed ---------------------------------------------------------------


@dataclass(frozen=True)
class AllowRule:
    """One entry of the allow list: a host name, an address or a network, maybe one port."""

    text: str
    name: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    @classmethod
    def parse(cls, entry: str) -> AllowRule:
        text = entry.strip()
        if not text:
            raise ValueError("an empty entry")
        if "/" in text:
            try:
                return cls(text, network=ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ValueError(f"{text!r} is not a CIDR network") from None
        host, port = text, None
        if text.startswith("["):  # [v6] or [v6]:port
            host, _, rest = text[1:].partition("]")
            if rest:
                port = _port(rest.removeprefix(":"), text)
        elif text.count(":") == 1:
            host, raw_port = text.split(":")
            port = _port(raw_port, text)
        address = _ip(host)
        if address is not None:
            return cls(text, network=ipaddress.ip_network(address), port=port)
        name = host.lower().rstrip(".")
        labels = [label.replace("-", "").replace("_", "") for label in name.split(".")]
        if not name or not all(label.isalnum() for label in labels):
            raise ValueError(f"{text!r} is not a host name, host:port, address or network")
        return cls(text, name=name, port=port)

    def matches(self, host: str, port: int | None, address: IPAddress | None) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.name is not None:
            return host.lower().rstrip(".") == self.name
        assert self.network is not None
        candidate = address if address is not None else _ip(host)
        return candidate is not None and candidate in self.network


def _port(raw: str, entry: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{entry!r} has no valid port")
    return int(raw)


@dataclass(frozen=True)
class OutboundPolicy:
    allow: tuple[AllowRule, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> OutboundPolicy:
        """Raises ValueError naming the first bad entry."""
        return cls(tuple(AllowRule.parse(e) for e in entries if e.strip()))

    def allows(self, host: str, port: int | None, address: IPAddress | None = None) -> bool:
        return any(rule.matches(host, port, address) for rule in self.allow)

    def refusal(self, host: str, port: int, address: IPAddress) -> str | None:
        """Why a connection to ``address`` (what ``host`` resolved to) is refused, or None."""
        kind = address_kind(address)
        if kind is None or self.allows(host, port, address):
            return None
        verb = "is" if _ip(host) == address else "resolves to"
        return f"{verb} {address}, {kind}; an administrator can allow it with {ALLOW_SETTING}"

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to, every one checked; raises _AddressRefused."""
        literal = _ip(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as error:
                raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
            found = list(dict.fromkeys(_normal(ipaddress.ip_address(i[4][0])) for i in infos))
        # One refused address refuses the host: a name must not mix public and internal ones.
        for address in found:
            why = self.refusal(host, port, address)
            if why:
                raise _AddressRefused(why)
        return [str(address) for address in found]


_configured: OutboundPolicy | None = None
_extra: list[tuple[AllowRule, ...]] = []  # what ``allowing`` blocks add, in any order


def current_policy() -> OutboundPolicy:
    """The process's policy: as configured, else from the environment (read once), plus what
    open ``allowing`` blocks add."""
    global _configured
    if _configured is None:
        from contenthub.config import Settings

        _configured = policy_from_settings(Settings.from_env().outbound_allow)
    if not _extra:
        return _configured
    return OutboundPolicy((*_configured.allow, *(rule for rules in _extra for rule in rules)))


def policy_from_settings(entries: Iterable[str]) -> OutboundPolicy:
    try:
        return OutboundPolicy.parse(entries)
    except ValueError as error:
        raise SystemExit(f"{ALLOW_SETTING}: {error}") from None


def configure(policy: OutboundPolicy) -> None:
    """Set the process's policy once at start-up (``serve``, ``worker``, ``api``)."""
    global _configured
    _configured = policy


@contextlib.contextmanager
def allowing(*entries: str) -> Iterator[None]:
    """Allow ``entries`` too while the block runs: tests and the loopback servers they start.
    Blocks may end in any order (fixtures of different scopes)."""
    rules = OutboundPolicy.parse(entries).allow
    _extra.append(rules)
    try:
        yield
    finally:
        _extra.remove(rules)


# -- the check an account's options get when they are saved ---------------------------------------


def check_base_url(platform: str, options: Mapping[str, Any] | None) -> None:
    """Refuse a ``base_url`` option the platform does not take (InputError naming
    ``options.base_url``). Each adapter declares its use in ``Publisher.base_url_use``:
    ``site`` (the account names its own site: any public http(s) address), ``display`` (only
    shown in links, never fetched), ``fixed`` (the platform has one address: an override is
    accepted only for a host an administrator allowed — a sandbox, a mirror)."""
    raw = (options or {}).get("base_url")
    if raw in (None, ""):
        return
    from contenthub.platforms.registry import publisher_for

    try:
        use = publisher_for(platform).base_url_use
    except LookupError:  # an adapter this process has not loaded: the strictest reading
        use = "fixed"
    if use == "display":
        return
    field = "options.base_url"
    try:
        parts = urlsplit(str(raw))
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        raise InputError(field, f"{str(raw)[:80]!r} is not a web address") from None
    if not isinstance(raw, str) or parts.scheme not in SCHEMES or not parts.hostname:
        raise InputError(field, f"must be an http:// or https:// address, got {str(raw)[:80]!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InputError(field, f"{raw!r} has an invalid port") from None
    policy, host = current_policy(), parts.hostname
    if use == "fixed":
        if not policy.allows(host, port):
            raise InputError(
                field,
                f"{platform} has a fixed address: base_url may point only at a host an "
                f"administrator allowed ({ALLOW_SETTING}); {host}:{port} is not one",
            )
        return
    address = _ip(host)
    why = policy.refusal(host, port, address) if address is not None else None
    if why:
        raise InputError(field, f"{raw} {why}")


# -- the client ---------------------------------------------------------------------------------


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy accepts, and to exactly the one it checked."""

    def __init__(self) -> None:
        self._backend = AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await current_policy().resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise _AddressRefused("is a unix socket, which the server never connects to")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def shown(url: httpx.URL) -> str:
    """The URL as a message may show it: no user info, no query (WeChat's token is there)."""
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}"


class _BoundedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, url: httpx.URL, deadline: float) -> None:
        self._inner, self._url, self._deadline = inner, url, deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = 0
        async for chunk in self._inner:
            total += len(chunk)
            if total > MAX_ANSWER_BYTES:
                raise OutboundRefused(
                    shown(self._url), f"answered more than {MAX_ANSWER_BYTES // 2**20} MB"
                )
            if time.monotonic() > self._deadline:
                raise httpx.ReadTimeout(f"{shown(self._url)} took over {MAX_REQUEST_SECONDS} s")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, verify: Any, limits: httpx.Limits = httpx.Limits()) -> None:
        super().__init__(verify=verify, trust_env=False)
        # httpx 0.28 does not pass a network backend through; build its pool with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=self._pool._ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in SCHEMES:
            raise OutboundRefused(shown(url), "is not an http:// or https:// address")
        deadline = time.monotonic() + MAX_REQUEST_SECONDS
        try:
            async with asyncio.timeout(MAX_REQUEST_SECONDS):
                response = await super().handle_async_request(request)
        except _AddressRefused as refused:
            raise OutboundRefused(shown(url), refused.why) from None
        except TimeoutError:
            raise httpx.ReadTimeout(
                f"{shown(url)} took over {MAX_REQUEST_SECONDS} s", request=request
            ) from None
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _BoundedStream(response.stream, url, deadline)
        return response


def guarded_client(*, timeout: float, verify: Any, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client whose every request, redirect hop and answer obeys the policy."""
    kwargs.setdefault("max_redirects", MAX_REDIRECTS)
    return httpx.AsyncClient(
        timeout=timeout, transport=_GuardedTransport(verify=verify), trust_env=False, **kwargs
    )
