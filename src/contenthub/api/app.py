"""The FastAPI application: built per process in its lifespan, never at import."""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Histogram
from starlette.exceptions import HTTPException

from contenthub import web
from contenthub.api.deps import TokenCache, Unauthenticated, plain_parameters
from contenthub.api.routers import (
    accounts,
    articles,
    compat,
    events,
    ops,
    pool,
    publish,
    schedules,
    stats,
    tasks,
    tokens,
)
from contenthub.api.schemas import ErrorBody
from contenthub.api_docs import install_offline_docs
from contenthub.config import Settings
from contenthub.errors import Forbidden, InputError, NotFound, SubmissionLimit
from contenthub.logs import request_id
from contenthub.platforms.registry import load_modules
from contenthub.secrets_box import SecretBox
from contenthub.services.event_hub import EventHub
from contenthub.storage import AlreadyPublishing, migrate
from contenthub.storage.db import Database
from contenthub.web import login_pages as web_logins

log = logging.getLogger("contenthub.api")
PREFIX = "/api/v1"
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body could not be read (not UTF-8 JSON)."},
    401: {"model": ErrorBody, "description": "No valid bearer token."},
    404: {"model": ErrorBody, "description": "No such resource for this user."},
    413: {"model": ErrorBody, "description": "The request body is larger than the server takes."},
    422: {"model": ErrorBody, "description": "Bad input; `field` names what is wrong."},
}


def _error(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": field}},
        status_code=status,
        headers=headers,
    )


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[-1])


def install_error_handlers(app: FastAPI) -> None:
    """One error shape for everything: {"error": {"code", "message", "field"}}."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        if web.wants_html(request):  # a dashboard URL with a malformed id: no such page
            return web.error_page(request, 404)
        first = error.errors()[0]
        return _error(422, "invalid", first["msg"], _field_of(tuple(first["loc"])))

    @app.exception_handler(InputError)
    async def bad_input(request: Request, error: InputError) -> Response:
        if web.wants_html(request):
            return web.error_page(request, 422, f"{error.field}: {error.message}")
        return _error(422, "invalid", error.message, error.field)

    @app.exception_handler(AlreadyPublishing)
    async def conflict(_: Request, error: AlreadyPublishing) -> JSONResponse:
        # Named twice in one request is the request's own mistake; a live publish is a state.
        if error.task_id is None:
            return _error(422, "invalid", error.message, error.field)
        return _error(409, "conflict", error.message, error.field)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> Response:
        if web.wants_html(request):
            return web.error_page(request, 404)
        return _error(404, "not_found", str(error))

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, __: Unauthenticated) -> JSONResponse:
        return _error(
            401,
            "unauthenticated",
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        if web.wants_html(request):
            return web.error_page(request, 404)
        return _error(403, "forbidden", str(error))

    @app.exception_handler(SubmissionLimit)
    async def limited(_: Request, error: SubmissionLimit) -> JSONResponse:
        return _error(
            429, "rate_limited", str(error), headers={"Retry-After": str(error.retry_after_seconds)}
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if web.wants_html(request) and error.status_code in (404, 405):
            return web.error_page(request, 404)
        code = {
            400: "unreadable",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }.get(error.status_code, "http_error")
        return _error(error.status_code, code, str(error.detail), headers=error.headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, error: Exception) -> Response:
        error_id = uuid.uuid4().hex[:12]
        log.exception("request failed", extra={"error_id": error_id, "path": request.url.path})
        if web.wants_html(request):
            return web.error_page(request, 500, f"internal error {error_id}")
        return _error(500, "internal", f"internal error {error_id}")


# The API's routers in the order a user meets them (the docs' order); the hottest ones, the
# listing and the publish, are registered first, since routes are tried in order.
API_ROUTERS = (
    articles.router,
    accounts.router,
    publish.router,
    tasks.router,
    events.router,
    tokens.router,
    pool.router,
    schedules.router,
    stats.router,
)
HOT_ROUTERS = (publish.router, tasks.router)


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = db is None
        database = db or Database.connect(
            settings.database_url, pool_size=20, session_url=settings.database_session_url
        )
        if own and migrate.current_revision(database.engine) is None:
            with database.session_engine() as engine:
                migrate.upgrade(engine)
        load_modules(settings.extra_platform_modules)
        app.state.db = database
        app.state.box = SecretBox.from_env(settings.data_dir)
        app.state.settings = settings
        app.state.tokens = TokenCache()
        app.state.event_hub = hub = EventHub(
            database, poll_seconds=settings.events_poll_seconds, queue_size=settings.events_queue
        )
        await hub.start()
        yield
        await web_logins.stop_all(app)
        await hub.stop()
        await database.close_loop_reads()
        if own:
            database.dispose()

    app = FastAPI(
        title="contenthub",
        version="1",
        lifespan=lifespan,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN; ours is served locally
        redoc_url=None,
        description="Publish articles to many platforms, for many users, reliably.",
        dependencies=[Depends(plain_parameters)],
        openapi_tags=[{"name": r.tags[0]} for r in (*API_ROUTERS, ops.router)],
    )
    install_error_handlers(app)
    install_offline_docs(app, f"{PREFIX}/docs")
    for router in sorted(API_ROUTERS, key=lambda r: r not in HOT_ROUTERS):
        app.include_router(router, prefix=PREFIX, responses=COMMON_ERRORS)
    app.include_router(ops.router)
    if settings.compat_api:  # the old TOP_N endpoints, answered as they were (§25)
        app.include_router(compat.router)
    web.install(app)
    _install_latency_metric(app)
    # Added last, so it is the outermost of ours: an oversized request is refused before any
    # other middleware, the router or a handler sees it.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes)
    # Outermost: even a refused request gets its id, and its line in the log.
    app.add_middleware(RequestIdMiddleware)
    return app


def app_factory() -> FastAPI:
    """For ``contenthub api``'s worker processes, which uvicorn starts afresh: each sets up
    its own logging and builds its own app."""
    from contenthub.logs import setup_logging

    setup_logging()
    return create_app()


def _install_latency_metric(app: FastAPI) -> None:
    registry = CollectorRegistry()
    latency = Histogram(
        "contenthub_api_request_seconds",
        "API latency",
        ["method", "route"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    )
    app.state.api_metrics = registry
    app.add_middleware(_LatencyMiddleware, histogram=latency)


class _LatencyMiddleware:
    """Times every request by its route (a plain ASGI middleware: Starlette's
    BaseHTTPMiddleware costs more per request than some of our endpoints)."""

    def __init__(self, app: Any, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = _route_label(scope)
            if route != f"{PREFIX}/events":  # a stream's duration is not a latency
                elapsed = time.perf_counter() - started
                self.histogram.labels(scope["method"], route).observe(elapsed)


def _route_label(scope: dict[str, Any]) -> str:
    """The route's template (``/api/v1/tasks/{task_id}``), never the raw path: bounded labels."""
    route = getattr(scope.get("route"), "path", None)
    if route is None:
        return "unmatched"
    # Routes of included routers carry their path without the /api/v1 prefix.
    if scope["path"].startswith(PREFIX) and not route.startswith(PREFIX):
        return PREFIX + route
    return route


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class _RequestIds:
    """32 hex digits: this process's random half, then a count. Unique without asking the
    kernel for randomness per request (``uuid4``): that system call on the event loop's thread
    let the request threads take the interpreter lock, and under 50 clients the loop then
    waited for it back (17 % of its samples on PostgreSQL)."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self._half = os.urandom(8).hex()
        self._count = itertools.count()

    def __call__(self) -> str:
        return f"{self._half}{next(self._count):016x}"


_new_request_id = _RequestIds()
# A forked process (`--processes`) must not go on from its parent's random half.
os.register_at_fork(after_in_child=_new_request_id.reseed)

_QUIET_PATHS = ("/healthz", "/readyz", "/metrics")  # probes: logged at DEBUG only


class RequestIdMiddleware:
    """Every request has an id: the caller's ``X-Request-ID`` when it is a plain token (a
    proxy's), else a new one. It is echoed in the answer, put on every log line written while
    serving the request, and ends the request with one line (method, path without its query,
    status, milliseconds)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.fullmatch(given) else _new_request_id()
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", rid.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope["path"]
            log.log(
                logging.DEBUG if path in _QUIET_PATHS else logging.INFO,
                f"{scope['method']} {path} {status}",
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            request_id.reset(token)


class RequestTooLarge(HTTPException):
    """Raised from ``receive`` once a body without a (truthful) length passes the limit: an
    HTTPException, so FastAPI's body reading lets it through instead of answering 400."""

    def __init__(self, limit: int) -> None:
        # The rest of the body is never read, so the connection cannot carry another request.
        super().__init__(
            413,
            f"the request body is larger than {_size(limit)}, the server's limit",
            headers={"Connection": "close"},
        )


def _size(limit: int) -> str:
    mib = limit / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 else f"{limit} bytes"


class BodyLimitMiddleware:
    """Refuses request bodies above ``limit`` bytes with 413 (the one error shape).

    A declared ``Content-Length`` above the limit is refused before a byte of the body is
    read: the application never runs. A body sent without a length (chunked) is counted as it
    is received, and the first chunk that passes the limit stops it: the handler, which has
    not started yet (FastAPI reads the whole body before calling it), never runs either.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            # The server (h11) has already refused a malformed or repeated Content-Length.
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(scope, receive, send)
                return
        received = 0
        started = False

        async def counted() -> dict[str, Any]:
            nonlocal received
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise RequestTooLarge(self.limit)
            return message

        async def watched(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except RequestTooLarge:
            if started:  # a streaming answer had begun: all we can do is cut it
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        error = RequestTooLarge(self.limit)
        answer = _error(413, "too_large", str(error.detail), headers=error.headers)
        await answer(scope, receive, send)
