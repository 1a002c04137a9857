"""The one session credential of the cookie platforms (Zhihu, Juejin, CSDN, Toutiao): a
Playwright storage state, ``{"cookies": [{name, value, domain, path, expires, httpOnly, secure,
sameSite}], "origins": [...]}``, kept sealed in the account's credentials as
``credentials["storage_state"]``.

Every way a login comes in ends here: a storage-state file, a browser extension's JSON cookie
list, a Netscape ``cookies.txt``, a browser login, and the ``{"cookies": {name: value}}`` maps
(or ``a=b; c=d`` strings) stored before (taken as cookies of the platform's own domain).

The HTTP adapters send cookies from it as a browser would (``SessionJar``): each request gets
only the cookies whose domain, path, expiry and ``secure`` flag fit the platform host it stands
for, and what the platform sets or refreshes is kept, to be saved back to the account.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Generator, Mapping
from http.cookiejar import Cookie, CookieJar
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contenthub.platforms.content import SessionSaver

SameSite = Literal["Strict", "Lax", "None"]
# Browser extensions (EditThisCookie, Cookie-Editor) name sameSite their own way.
_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None", "no_restriction": "None"}
log = logging.getLogger("contenthub.platforms")


class SessionCookie(BaseModel):
    """One cookie as Playwright keeps it. ``domain`` with a leading dot is sent to subdomains
    too; without one, to that host only. ``expires`` is Unix seconds, -1 for a session cookie."""

    model_config = ConfigDict(extra="ignore")  # exports carry more (storeId, hostOnly, id …)

    name: str = Field(min_length=1, max_length=4096)
    value: str = Field(max_length=16_384)
    domain: str = Field(min_length=1, max_length=255)
    path: str = "/"
    expires: float = -1
    httpOnly: bool = False
    secure: bool = False
    sameSite: SameSite = "Lax"

    @model_validator(mode="before")
    @classmethod
    def _from_browser_exports(cls, data: Any) -> Any:
        """A browser extension's cookie: ``expirationDate``, ``session``, ``hostOnly`` and its
        own sameSite names, as Playwright would have them."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "expires" not in data:
            ends = data.get("expirationDate")
            data["expires"] = -1 if data.get("session") or ends is None else ends
        same_site = str(data.get("sameSite") or "lax").lower()  # also "unspecified": Lax
        data["sameSite"] = _SAME_SITE.get(same_site, "Lax")
        domain = str(data.get("domain") or "")
        if data.get("hostOnly") is False and domain and not domain.startswith("."):
            data["domain"] = f".{domain}"
        return data

    @field_validator("path")
    @classmethod
    def _rooted(cls, path: str) -> str:
        return path if path.startswith("/") else "/"

    def key(self) -> tuple[str, str, str]:
        return (self.name, self.domain, self.path)


class StorageState(BaseModel):
    """Playwright's storage state: what a browser context needs to be logged in."""

    model_config = ConfigDict(extra="ignore")

    cookies: list[SessionCookie] = Field(default_factory=list, max_length=2000)
    origins: list[dict[str, Any]] = Field(default_factory=list)

    def without_expired(self, now: float | None = None) -> StorageState:
        now = time.time() if now is None else now
        kept = [c for c in self.cookies if c.expires < 0 or c.expires > now]
        return StorageState(cookies=kept, origins=self.origins)


class CookieCredentials(BaseModel):
    """A browser login. Each platform's subclass names its ``cookie_domain``: the domain the
    cookies of an older ``{"cookies": {name: value}}`` credential belong to."""

    model_config = ConfigDict(extra="forbid")
    cookie_domain: ClassVar[str] = ""

    storage_state: StorageState = Field(
        description="A Playwright storage state: `contenthub account login NAME --cookies FILE` "
        "reads one (or a JSON cookie list, or a Netscape cookies.txt).",
        json_schema_extra={"writeOnly": True},
    )
    # For logging in through the platform's login page (``account login --password``); a
    # stored password also lets a worker log in again once when the cookies expire.
    username: str | None = Field(default=None, min_length=1, max_length=200)
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        json_schema_extra={"writeOnly": True, "format": "password"},
    )

    @model_validator(mode="before")
    @classmethod
    def _from_cookie_map(cls, data: Any) -> Any:
        if isinstance(data, dict) and "cookies" in data:
            data = dict(data)
            cookies = data.pop("cookies")
            if "storage_state" not in data:
                data["storage_state"] = legacy_state(cookies, cls.cookie_domain)
        return data

    @field_validator("storage_state")
    @classmethod
    def _has_cookies(cls, state: StorageState) -> StorageState:
        if not state.cookies:
            raise ValueError("holds no cookies: log in to the platform, then export them again")
        return state


def legacy_state(cookies: Any, domain: str) -> StorageState:
    """``{name: value}`` or ``a=b; c=d`` (how cookies were stored before) as cookies of
    ``domain`` and its subdomains."""
    if isinstance(cookies, str):
        pairs = (part.strip().split("=", 1) for part in cookies.split(";") if "=" in part)
        cookies = {name.strip(): value.strip() for name, value in pairs}
    if not isinstance(cookies, Mapping):
        raise ValueError("cookies must be a {name: value} map or a 'a=b; c=d' line")
    domain = domain if domain.startswith(".") or not domain else f".{domain}"
    return StorageState(
        cookies=[
            SessionCookie(name=str(name), value=str(value), domain=domain or "localhost")
            for name, value in cookies.items()
        ]
    )


def state_of(credentials: Mapping[str, Any], domain: str) -> StorageState:
    """The session in an account's stored credentials, whichever shape they were stored in."""
    raw = credentials.get("storage_state")
    if raw is not None:
        return StorageState.model_validate(raw)
    if credentials.get("cookies"):
        return legacy_state(credentials["cookies"], domain)
    return StorageState()


def _stand_in(options: Mapping[str, Any]) -> tuple[str, str] | None:
    """The host and path of the account's ``base_url`` (a sandbox standing in for the
    platform's hosts as ``{base_url}/{host}/path``), or None for the real platform."""
    base = urlsplit(str(options.get("base_url") or ""))
    return (base.hostname, base.path.rstrip("/")) if base.hostname else None


def for_site(state: StorageState, options: Mapping[str, Any]) -> StorageState:
    """The session as a browser must hold it to be logged in where the account's pages are.
    On the real platform that is the stored state itself; on a stand-in, every cookie moves to
    the stand-in's host under its path (a browser would refuse ``.zhihu.com`` cookies there)."""
    site = _stand_in(options)
    if site is None:
        return state
    host, path = site
    moved = {"domain": host, "path": path or "/", "secure": False}
    return StorageState(
        cookies=[c.model_copy(update=moved) for c in state.cookies], origins=state.origins
    )


def from_site(state: StorageState, options: Mapping[str, Any], domain: str) -> StorageState:
    """What a browser holds after a login or a publish, as the platform's own session: the
    inverse of :func:`for_site` (a stand-in's cookies become cookies of ``domain``, or of the
    platform host their path names)."""
    site = _stand_in(options)
    if site is None:
        return state
    host, prefix = site
    cookies = []
    for cookie in state.cookies:
        path = cookie.path.rstrip("/")
        if cookie.domain.lstrip(".") != host or not (path + "/").startswith(prefix + "/"):
            cookies.append(cookie)  # not the stand-in's: kept as it is
            continue
        named, _, rest = path[len(prefix) :].lstrip("/").partition("/")
        if "." in named:  # set under one stand-in host: that host's cookie
            update = {"domain": named, "path": f"/{rest}"}
        else:
            update = {"domain": domain, "path": "/"}
        cookies.append(cookie.model_copy(update=update))
    return StorageState(cookies=cookies, origins=state.origins)


# -- import formats --------------------------------------------------------------------------


class CookieFileError(ValueError):
    """A cookie file in no format we read; the message says what was expected."""


def parse_cookie_text(text: str) -> StorageState:
    """A storage-state JSON, a JSON cookie list (browser extensions) or a Netscape
    ``cookies.txt`` (curl, yt-dlp, "Get cookies.txt"), as one storage state."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return _netscape(text)
    try:
        if isinstance(data, dict) and isinstance(data.get("cookies"), list):
            return StorageState.model_validate(data)
        if isinstance(data, list):
            return StorageState.model_validate({"cookies": data})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CookieFileError(f"a cookie is not readable at {where}: {first['msg']}") from None
    raise CookieFileError("holds no cookies (expected a storage state or a list of cookies)")


def _netscape(text: str) -> StorageState:
    """Seven tab-separated fields a line: domain, subdomains flag, path, secure, expiry, name,
    value. ``#HttpOnly_`` marks HttpOnly cookies; other ``#`` lines are comments. Read leniently
    (the subdomains flag is taken from the domain's dot), since exporters disagree on it."""
    cookies = []
    for number, line in enumerate(text.splitlines(), 1):
        http_only = line.startswith("#HttpOnly_")
        if http_only:
            line = line.removeprefix("#HttpOnly_")
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) == 6:  # an empty value, its tab trimmed
            fields.append("")
        if len(fields) != 7:
            raise CookieFileError(
                f"is neither JSON nor a Netscape cookie file (line {number}: expected 7 fields "
                "separated by tabs)"
            )
        domain, _, path, secure, expires, name, value = fields
        try:
            ends = float(expires or 0)
        except ValueError:
            raise CookieFileError(f"line {number}: expiry {expires!r} is not a number") from None
        cookies.append(
            SessionCookie(
                name=name,
                value=value,
                domain=domain,
                path=path or "/",
                expires=ends if ends > 0 else -1,
                httpOnly=http_only,
                secure=secure.upper() == "TRUE",
            )
        )
    if not cookies:
        raise CookieFileError("is neither JSON nor a Netscape cookie file with cookies in it")
    return StorageState(cookies=cookies)


# -- sending them: one jar per HTTP session --------------------------------------------------


class _Answer:
    """What ``CookieJar.extract_cookies`` reads of a response: its headers."""

    def __init__(self, response: httpx.Response) -> None:
        self._headers = response.headers

    def info(self) -> _Answer:
        return self

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        return self._headers.get_list(name) or default


def _jar_cookie(cookie: SessionCookie) -> Cookie:
    dotted = cookie.domain.startswith(".")
    rest = {"HttpOnly": ""} if cookie.httpOnly else {}
    return Cookie(
        version=0,
        name=cookie.name,
        value=cookie.value,
        port=None,
        port_specified=False,
        domain=cookie.domain,
        domain_specified=dotted,
        domain_initial_dot=dotted,
        path=cookie.path,
        path_specified=True,
        secure=cookie.secure,
        expires=None if cookie.expires < 0 else int(cookie.expires),
        discard=cookie.expires < 0,
        comment=None,
        comment_url=None,
        rest=rest | {"SameSite": cookie.sameSite},
    )


def _session_cookie(cookie: Cookie) -> SessionCookie:
    rest = {k.lower(): v for k, v in getattr(cookie, "_rest", {}).items()}
    return SessionCookie(
        name=cookie.name,
        value=cookie.value or "",
        domain=cookie.domain,
        path=cookie.path,
        expires=-1 if cookie.expires is None else float(cookie.expires),
        httpOnly="httponly" in rest,
        secure=cookie.secure,
        sameSite=_SAME_SITE.get(str(rest.get("samesite", "lax")).lower(), "Lax"),
    )


class SessionJar(httpx.Auth):
    """Cookies for one HTTP session, sent and kept as a browser would for the platform's real
    hosts. With the account's ``base_url`` (a sandbox), ``{base_url}/{host}/path`` stands for
    ``https://{host}/path``: cookies are matched against that, never against the stand-in."""

    def __init__(self, state: StorageState, options: Mapping[str, Any]) -> None:
        self._jar = CookieJar()
        self._base = str(options.get("base_url") or "").rstrip("/")
        for cookie in state.without_expired().cookies:
            self._jar.set_cookie(_jar_cookie(cookie))
        self._origins = state.origins
        self._initial = self._snapshot()

    def real_url(self, url: httpx.URL | str) -> str:
        """The platform URL ``url`` stands for."""
        text = str(url)
        if self._base and text.startswith(f"{self._base}/"):
            host, _, path = text[len(self._base) + 1 :].partition("/")
            return f"https://{host}/{path}"
        return text

    def header_for(self, url: httpx.URL | str) -> str:
        request = urllib.request.Request(self.real_url(url))
        self._jar.add_cookie_header(request)
        return str(request.unredirected_hdrs.get("Cookie", ""))

    def value(self, name: str, url: str) -> str:
        """The value of cookie ``name`` as it would be sent to ``url`` ('' when none)."""
        for part in self.header_for(url).split("; "):
            key, _, value = part.partition("=")
            if key == name:
                return value
        return ""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        header = self.header_for(request.url)
        if header:
            request.headers["Cookie"] = header
        else:
            request.headers.pop("Cookie", None)
        response = yield request
        self._jar.extract_cookies(
            _Answer(response),  # type: ignore[arg-type]
            urllib.request.Request(self.real_url(request.url)),
        )

    def _snapshot(self) -> set[tuple[Any, ...]]:
        return {(c.name, c.domain, c.path, c.value, c.expires) for c in self._jar}

    @property
    def changed(self) -> bool:
        """Did the platform set, refresh or clear a cookie during the session?"""
        return self._snapshot() != self._initial

    def storage_state(self) -> StorageState:
        return StorageState(cookies=[_session_cookie(c) for c in self._jar], origins=self._origins)


def same_cookies(a: StorageState, b: StorageState) -> bool:
    """Do ``a`` and ``b`` hold the same cookies (values and expiry), whatever their order?"""

    def held(state: StorageState) -> set[tuple[Any, ...]]:
        return {(*c.key(), c.value, round(c.expires)) for c in state.cookies}

    return held(a) == held(b)


async def save_state(state: StorageState, save: SessionSaver | None) -> None:
    """Hand a refreshed session to whoever stores it (the worker, a login check). A failure
    to save is logged, never raised: it must not hide how the publish itself ended."""
    if save is None:
        return
    try:
        await save(state.model_dump(mode="json"))
    except Exception:
        log.warning("could not save the session the platform refreshed", exc_info=True)


async def save_if_changed(jar: SessionJar, save: SessionSaver | None) -> None:
    if jar.changed:
        await save_state(jar.storage_state(), save)
