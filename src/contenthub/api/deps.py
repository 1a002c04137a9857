"""Dependency aliases: the database, the secret box, settings, and the calling user.

They are ``async``: FastAPI runs a plain ``def`` dependency on its thread pool, a hop per
dependency per request; these only read the app's state (a token already seen is in
memory), and what must wait on the database goes to the pool itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
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
    :meth:`Database.in_place`; PostgreSQL, through the loop's own connections,
    :meth:`Database.on_loop`), else on the thread pool. A read that fails there as busy or
    disconnected is done again on the pool, which waits and retries as every unit of work
    does."""
    near = db.near_loop()
    if near is not None:
        try:
            return await near.read_once(read)
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


ModelT = TypeVar("ModelT", bound=BaseModel)


def query_model(model: type[ModelT]) -> Any:
    """A dependency: ``model`` validated from the query string in one call.

    ``Annotated[Model, Query()]`` does the same, field by field: for the task listing's nine
    filters that walk was the largest cost of a request after the read itself (85 of 610 µs
    in-process, decisions §41). Last value wins for a repeated single-valued parameter, every
    value is kept for a list field, unknown parameters are ignored, and a bad value is the
    same 422 naming the parameter: all as FastAPI does. Document the parameters with
    ``openapi_extra=query_model_openapi(model)``."""
    listed = {name for name, field in model.model_fields.items() if _many(field.annotation)}

    async def validated(request: Request) -> ModelT:
        given: dict[str, Any] = {}
        for name, value in request.query_params.multi_items():
            if name in listed:
                given.setdefault(name, []).append(value)
            else:
                given[name] = value
        try:
            return model.model_validate(given)
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_url=False)]
            ) from None

    return Depends(validated)


def _many(annotation: Any) -> bool:
    """A field that takes every value of a repeated parameter: a list (or set, or tuple),
    optional or not."""
    if get_origin(annotation) in (list, set, frozenset, tuple):
        return True
    return get_origin(annotation) in (Union, UnionType) and any(map(_many, get_args(annotation)))


def query_model_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The query parameters ``model`` takes, as the route's OpenAPI describes them: what
    FastAPI writes for ``Annotated[model, Query()]``, with the types it would list among the
    document's schemas (an enum's values) written in place (``tests/unit/test_query_model.py``
    compares them)."""
    schema = model.model_json_schema()
    defined = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema["properties"].items():
        field = _in_place(field, defined)
        if field.get("default", ...) is None:
            del field["default"]  # FastAPI leaves a null default unsaid
        parameter = {"name": name, "in": "query", "required": name in required, "schema": field}
        if "description" in field:
            parameter["description"] = field["description"]
        parameters.append(parameter)
    return {"parameters": parameters}


def _in_place(schema: Any, defined: dict[str, Any]) -> Any:
    """``schema`` with each ``{"$ref": "#/$defs/Name"}`` replaced by what it refers to."""
    if isinstance(schema, list):
        return [_in_place(item, defined) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _in_place(defined[schema["$ref"].rsplit("/", 1)[-1]], defined)
    return {key: _in_place(value, defined) for key, value in schema.items()}
