"""HTTP plumbing the adapters share: one client per publish, host mapping for sandboxes and
self-hosted sites, and the generic answers (429, 5xx, network failures) mapped to error classes.

Host mapping: an adapter names the real hosts it talks to (``www.zhihu.com`` …). An account
whose ``options["base_url"]`` is set sends every request for host ``H`` to ``{base_url}/H``
instead (the platform sandbox serves each platform under such a prefix). Single-host
platforms whose site root *is* the base URL (WordPress, dev.to, WeChat's API) use
``origin_url`` instead: ``{base_url}{path}``.

Every client comes from ``new_client``, which is ``outbound.guarded_client``: the one
outbound-request policy (schemes, addresses, redirects, sizes, times) applies to all of them.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import re
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Self

import httpx

from contenthub.errors import AuthExpired, RateLimited, Transient
from contenthub.platforms import session
from contenthub.platforms.outbound import MAX_REQUEST_SECONDS, guarded_client

DEFAULT_TIMEOUT_SECONDS = 30.0
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) contenthub/0.1"
_SECRET_IN_QUERY = re.compile(r"\b(access_token|secret|appsecret)=[^&\s\"']+", re.I)


class _RedactSecretsInUrls(logging.Filter):
    """httpx logs every request's URL at INFO, and WeChat's access token travels in the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET_IN_QUERY.search(message):
            record.msg, record.args = _SECRET_IN_QUERY.sub(r"\1=***", message), None
        return True


logging.getLogger("httpx").addFilter(_RedactSecretsInUrls())


def host_url(options: Mapping[str, Any], host: str, path: str) -> str:
    """The URL of ``path`` on the platform's ``host``, or on the account's stand-in for it."""
    base = str(options.get("base_url") or "").rstrip("/")
    return f"{base}/{host}{path}" if base else f"https://{host}{path}"


def origin_url(options: Mapping[str, Any], default_origin: str, path: str) -> str:
    base = str(options.get("base_url") or default_origin).rstrip("/")
    return f"{base}{path}"


@functools.cache
def shared_tls() -> ssl.SSLContext:
    """One TLS context for every client: building one loads the CA bundle, which cost more
    than the rest of a publish together when each publish made its own."""
    return ssl.create_default_context()


def new_client(options: Mapping[str, Any], **kwargs: Any) -> httpx.AsyncClient:
    """The only way adapters (and image downloads) get an HTTP client: through the outbound
    policy. ``options["timeout_seconds"]`` is the account's, bounded by the policy's."""
    try:
        timeout = float(options.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS)
    except (TypeError, ValueError):
        timeout = DEFAULT_TIMEOUT_SECONDS
    timeout = min(max(timeout, 1.0), MAX_REQUEST_SECONDS)
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    return guarded_client(timeout=timeout, headers=headers, verify=shared_tls(), **kwargs)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds (either form the header allows), or None when absent."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def raise_for_overload(response: httpx.Response, platform: str) -> None:
    """The answers every platform gives alike: 429 and 5xx."""
    if response.status_code == 429:
        raise RateLimited(
            f"{platform} rate limit reached (HTTP 429)", retry_after_seconds(response)
        )
    if response.status_code >= 500:
        raise Transient(f"{platform} answered HTTP {response.status_code}")


async def send(
    client: httpx.AsyncClient, method: str, url: str, platform: str, **kwargs: Any
) -> httpx.Response:
    """One request; network failures become Transient (the message names no secret)."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise Transient(f"{platform} did not answer in time") from None
    except httpx.TransportError as error:
        raise Transient(f"cannot reach {platform}: {type(error).__name__}") from None
    raise_for_overload(response, platform)
    return response


def json_body(response: httpx.Response, platform: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise Transient(
            f"{platform} answered HTTP {response.status_code} with a body that is not JSON"
        ) from None


async def page_is_public(options: Mapping[str, Any], url: str, platform: str) -> tuple[bool, str]:
    """GET the public page without any credentials: is it served?"""
    async with new_client(options, follow_redirects=True) as client:
        response = await send(client, "GET", url, platform)
    return response.status_code == 200, f"HTTP {response.status_code}"


class CookieSession:
    """One HTTP session logged in with the account's browser session, as the platform's own
    web editor at ``origin`` would send it: each host gets only its own cookies, and the
    cookies the platform sets are saved back to the account when the session ends. A subclass
    names its platform in the class attributes; they can also be given here."""

    platform_name: str = ""
    cookie_domain: str = ""
    origin: str = ""

    def __init__(
        self,
        account: Any,
        *,
        platform_name: str | None = None,
        cookie_domain: str | None = None,
        origin: str | None = None,
    ) -> None:
        self.platform_name = platform_name or self.platform_name
        self.cookie_domain = cookie_domain or self.cookie_domain
        self.origin = origin = origin or self.origin
        state = session.state_of(account.credentials, self.cookie_domain).without_expired()
        if not state.cookies:
            raise AuthExpired(
                f"the {self.platform_name} account has no unexpired login cookies: "
                f"log in with 'contenthub account login {account.name}'"
            )
        self.options = account.options
        self.jar = session.SessionJar(state, account.options)
        self._save = account.save_session
        headers = {"Origin": origin, "Referer": f"{origin}/"}
        self.client = new_client(account.options, headers=headers, auth=self.jar)

    def login_expired(self) -> AuthExpired:
        """What every cookie platform says when its session is no longer logged in."""
        name = self.platform_name
        return AuthExpired(f"{name} login expired: log in to {name} again")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()
        await session.save_if_changed(self.jar, self._save)
