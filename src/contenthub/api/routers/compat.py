"""The old TOP_N endpoints, answered as its report (seeds/002) shows them: on only when
``CONTENTHUB_COMPAT_API`` is on. Each one is a thin translation over the same services as
/api/v1 (publishing, tasks): the same limits, scoping and idempotency (decisions §25)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationError

from contenthub.api.deps import (
    BearerCredentials,
    DbDep,
    SettingsDep,
    Unauthenticated,
    get_principal,
)
from contenthub.api.schemas import Strict
from contenthub.clock import utcnow
from contenthub.errors import Forbidden, InputError, NotFound, SubmissionLimit
from contenthub.services import compat, publishing
from contenthub.services import tasks as task_service
from contenthub.services.publishing import Draft, Once, Target
from contenthub.services.sessions import COOKIE_NAME, session_of
from contenthub.services.users import Principal
from contenthub.storage import AlreadyPublishing, Database, TaskFilter

QUEUED_MESSAGE = "发布任务已创建，正在后台处理"  # the seeds' words, kept for old front ends
MAX_BATCH = 100
MAX_LIST = 200


def _failure(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The old system's refusal: ``success`` false and what went wrong (as ``error``, as its
    worker said it, and ``message``, as its endpoints did)."""
    return JSONResponse(
        {"success": False, "error": message, "message": message},
        status_code=status,
        headers=headers,
    )


def _described(error: Exception) -> tuple[int, str, dict[str, str] | None]:
    """Our errors as the API's status code, a message naming what is wrong, and headers."""
    if isinstance(error, RequestValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if p not in ("body", "query", "path"))
        return 422, f"{where}: {first['msg']}" if where else first["msg"], None
    if isinstance(error, AlreadyPublishing):
        return (409 if error.task_id else 422), f"{error.field}: {error.message}", None
    if isinstance(error, InputError):
        return 422, f"{error.field}: {error.message}", None
    if isinstance(error, NotFound):
        return 404, str(error), None
    if isinstance(error, Forbidden):
        return 403, str(error), None
    if isinstance(error, SubmissionLimit):
        return 429, str(error), {"Retry-After": str(error.retry_after_seconds)}
    if isinstance(error, Unauthenticated):
        return 401, "请先登录 (a bearer token or a signed-in session is required)", None
    raise error


class _OldShape(APIRoute):
    """Refusals in the old shape, with the status codes /api/v1 gives the same refusal."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:  # anything not ours goes on to the app's handler
                status, message, headers = _described(error)
                if status == 401:
                    headers = {"WWW-Authenticate": "Bearer"}
                return _failure(status, message, headers)

        return route


def _same_site(request: Request) -> bool:
    """A change sent with only the session cookie must come from the server's own pages or
    a script, never from another site's page (the cookie travels on its own): a browser names
    a foreign origin in ``Sec-Fetch-Site`` and ``Origin``, which pages cannot forge."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


async def old_caller(request: Request, credentials: BearerCredentials) -> Principal:
    """The API's bearer token, or the dashboard's session cookie (an old front end relied on
    its login session), for reading and for changes from the same site."""
    if credentials is not None:
        return await get_principal(request, credentials)
    token = request.cookies.get(COOKIE_NAME)
    if not token or len(token) > 100:
        raise Unauthenticated()
    if request.method != "GET" and not _same_site(request):
        raise Forbidden("a change from another site's page is refused; send a bearer token")
    signed = session_of(request.app.state.db, token, now=utcnow())
    if signed is None:
        raise Unauthenticated()
    request.state.principal = signed.principal
    return signed.principal


OldCaller = Annotated[Principal, Depends(old_caller)]
KeyHeader = Header(default=None, alias="Idempotency-Key", max_length=180)
router = APIRouter(prefix="/api", tags=["old API (compatibility)"], route_class=_OldShape)


def _caller_id(value: Any) -> int | str:
    """The caller's article id, kept as text in ``articles.external_ref`` (64 characters)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    if isinstance(value, str) and 0 < len(value) <= 64:
        return value
    raise ValueError("must be a whole number from 0 or a text of 1 to 64 characters")


CallerId = Annotated[int | str, BeforeValidator(_caller_id)]


class OldArticle(Strict):
    """One article as the old front end sent it; fields it did not read are ignored, as the
    old server ignored them. Text is checked as /api/v1 checks it (no NUL, the same sizes)."""

    model_config = ConfigDict(extra="ignore")
    title: Annotated[StrictStr, Field(min_length=1, max_length=500)]
    content: Annotated[StrictStr, Field(min_length=1)]
    article_id: CallerId | None = Field(
        default=None, description="The caller's own id: its stored article is reused."
    )
    republish: bool = Field(
        default=False, description="Publish again an article already published to the account."
    )


class OldBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    articles: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


def _queue(
    db: Database,
    user: Principal,
    per_minute: int,
    article: OldArticle,
    key: str | None,
) -> dict[str, Any]:
    """One old article through the one publish path; the old answer (kept under ``key``)."""
    account_id = db.read(lambda s: compat.default_account(s, user))
    ref = None if article.article_id is None else str(article.article_id)
    draft = Draft(title=article.title, body=article.content, tags=[], external_ref=ref)

    def answer(
        rows: list[dict[str, Any]], _notice: str | None, _notes: list[str]
    ) -> dict[str, Any]:
        return {
            "success": True,
            "task_id": rows[0]["public_id"],
            "status": compat.OLD_STATUS[rows[0]["status"]],
            "message": QUEUED_MESSAGE,
        }

    once = None if key is None else Once(f"compat:{key}", article.model_dump(), answer)
    try:
        done = publishing.publish(
            db,
            user,
            [Target(draft, [account_id])],
            priority=5,
            scheduled_at=None,
            per_minute=per_minute,
            now=utcnow(),
            once=once,
            republish=article.republish,
        )
    except AlreadyPublishing as error:
        if error.task_id is None:
            raise
        # Said in the caller's words: its article_id, not our article and account ids.
        raise AlreadyPublishing(
            "article_id",
            0,
            f"article {ref or '(new)'} is already queued or running on this "
            f'Zhihu account (task {error.task_id}); send "republish": true to publish it again',
            error.task_id,
        ) from None
    return done.answer or answer(done.tasks, done.notice, done.notes)


@router.post("/publish_zhihu")
def publish_zhihu(
    body: OldArticle,
    user: OldCaller,
    db: DbDep,
    settings: SettingsDep,
    idempotency_key: str | None = KeyHeader,
) -> dict[str, Any]:
    """One article to the user's default Zhihu account: ``{success, task_id, status,
    message}``; the task runs in the background."""
    return _queue(db, user, settings.submissions_per_minute, body, idempotency_key)


@router.post("/publish_zhihu_batch")
def publish_zhihu_batch(
    body: OldBatch,
    user: OldCaller,
    db: DbDep,
    settings: SettingsDep,
    idempotency_key: str | None = KeyHeader,
) -> dict[str, Any]:
    """Each article on its own: one refused (bad input, the minute's limit, already
    published) is its own failed line and never undoes another's task."""
    results = []
    for index, given in enumerate(body.articles):
        key = None if idempotency_key is None else f"{idempotency_key}#{index}"
        results.append(_batch_line(db, user, settings.submissions_per_minute, given, key))
    queued = sum(1 for r in results if r["success"])
    return {
        "success": queued > 0,
        "total": len(results),
        "success_count": queued,
        "failed_count": len(results) - queued,
        "results": results,
    }


def _batch_line(
    db: Database, user: Principal, per_minute: int, given: Any, key: str | None
) -> dict[str, Any]:
    known = given if isinstance(given, dict) else {}
    said = {"article_id": known.get("article_id"), "title": known.get("title")}
    try:
        article = OldArticle.model_validate(given)
        return {**said, **_queue(db, user, per_minute, article, key)}
    except ValidationError as error:
        refusal = _described(RequestValidationError(error.errors()))
    except (InputError, NotFound, Forbidden, SubmissionLimit, AlreadyPublishing) as error:
        refusal = _described(error)
    message = refusal[1]
    return {**said, "success": False, "error": message, "message": message}


@router.get("/publish_task/{task_id}")
def get_publish_task(task_id: str, user: OldCaller, db: DbDep) -> dict[str, Any]:
    task, _ = task_service.task_detail(db, user, task_id)
    return {"success": True, "task": compat.old_task(task)}


@router.get("/publish_tasks")
def list_publish_tasks(
    user: OldCaller,
    db: DbDep,
    status: list[str] = Query(default=[], description="Old status names: pending … failed."),
    limit: int = Query(50, ge=1, le=MAX_LIST),
) -> dict[str, Any]:
    """The user's tasks, newest first, in the old task shape."""
    where = TaskFilter(statuses=compat.our_statuses(status))
    rows = task_service.task_page(db, user, where, limit=limit)
    return {"success": True, "total": len(rows), "tasks": [compat.old_task(r) for r in rows]}


@router.post("/publish_task/{task_id}/cancel")
def cancel_publish_task(task_id: str, user: OldCaller, db: DbDep) -> dict[str, Any]:
    """A waiting task is cancelled at once; a running one stops at its next step."""
    _, task = task_service.task_cancel(db, user, task_id, now=utcnow())
    stopping = task["status"] == "running"
    message = "任务将在当前步骤结束后取消" if stopping else compat.CANCELLED_MESSAGE
    return {"success": True, "message": message, "task": compat.old_task(task)}


@router.post("/publish_task/{task_id}/retry")
def retry_publish_task(task_id: str, user: OldCaller, db: DbDep) -> dict[str, Any]:
    """A failed (or cancelled) task queued again with a fresh attempt budget."""
    _, task = task_service.task_retry(db, user, task_id, now=utcnow())
    return {"success": True, "message": "任务已重新入队", "task": compat.old_task(task)}
