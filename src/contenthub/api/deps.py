"""Dependency aliases: the database, the secret box, settings, and the calling user.

They are ``async``: FastAPI runs a plain ``def`` dependency on its thread pool, a hop per
dependency per request; these only read the app's state (a token already seen is in
memory), and what must wait on the database goes to the pool itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.errors import CONTROL_CHARACTERS
from contenthub.secrets_box import SecretBox
from contenthub.services.sessions import COOKIE_NAME, session_of
from contenthub.services.users import Principal, token_authenticate
from contenthub.storage.db import Database, is_transient

_bearer = HTTPBearer(auto_error=False, description="An API token: `contenthub user token NAME`")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


T = TypeVar("T")


async def read_near(db: Database, read: Callable[[Database], T]) -> T:
    """``read(db)`` in this thread when the database allows it (an embedded SQLite,
    :meth:`Database.in_place`), else on the thread pool. A read the in-place connection finds
    busy is done again on the pool, which waits and retries as every unit of work does."""
    here = db.in_place()
    if here is not None:
        try:
            return read(here)
        except Exception as error:
            if not is_transient(error):
                raise
    return await run_in_threadpool(read, db)


class Unauthenticated(Exception):
    pass


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_box(request: Request) -> SecretBox:
    return request.app.state.box


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


class TokenCache:
    """Recently seen tokens, for a few seconds: most requests then skip the token lookup.

    A revoked token stops working in this process at once and in others within ``ttl``.
    """

    def __init__(self, ttl: float = 5.0, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._seen: dict[str, tuple[float, Principal]] = {}

    def get(self, token: str) -> Principal | None:
        hit = self._seen.get(token)
        if hit is None or time.monotonic() - hit[0] > self.ttl:
            return None
        return hit[1]

    def put(self, token: str, principal: Principal) -> None:
        if len(self._seen) >= self.size:
            self._seen.clear()
        self._seen[token] = (time.monotonic(), principal)

    def forget_user(self, user_id: int) -> None:
        for token in [t for t, (_, p) in self._seen.items() if p.user_id == user_id]:
            del self._seen[token]


def _signed_in_browser(request: Request) -> Principal | None:
    """The dashboard's session, for reading only: a signed-in page's EventSource cannot send
    a bearer token. Changes through the API always need one, so a cookie (sent by the
    browser on its own) can never be made to change anything (no CSRF through the API)."""
    if request.method != "GET":
        return None
    token = request.cookies.get(COOKIE_NAME)
    if not token or len(token) > 100:
        return None
    signed = session_of(request.app.state.db, token, now=utcnow())
    return signed.principal if signed else None


async def get_principal(request: Request, credentials: BearerCredentials) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        browser = await run_in_threadpool(_signed_in_browser, request)
        if browser is None:
            raise Unauthenticated()
        request.state.principal = browser
        return browser
    cache: TokenCache = request.app.state.tokens
    principal = cache.get(credentials.credentials)
    if principal is None:
        db: Database = request.app.state.db
        principal = await run_in_threadpool(
            db.read, lambda s: token_authenticate(s, credentials.credentials, now=utcnow())
        )
        if principal is None:
            raise Unauthenticated()
        cache.put(credentials.credentials, principal)
    request.state.principal = principal
    return principal


DbDep = Annotated[Database, Depends(get_db)]
BoxDep = Annotated[SecretBox, Depends(get_box)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CurrentUser = Annotated[Principal, Depends(get_principal)]

MAX_ID = 2_147_483_647  # ids are 32-bit on every database we support
ResourceId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def plain_parameters(request: Request) -> None:
    """No NUL or other control character in any path or query parameter, on every route.

    No database stores NUL (PostgreSQL refuses it) and no id, name or cursor of ours holds a
    control character, so such a value is bad input: a 422 naming the parameter, before any
    handler or query sees it. Bodies are checked by their schemas (``schemas.Strict``)."""
    given = [("path", n, v) for n, v in request.path_params.items()]
    given += [("query", n, v) for n, v in request.query_params.multi_items()]
    for where, name, value in given:
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            raise RequestValidationError(
                [
                    {
                        "loc": (where, name),
                        "msg": "must not contain NUL or other control characters",
                        "type": "value_error",
                    }
                ]
            )
