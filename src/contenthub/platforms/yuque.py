"""语雀 Yuque (official OpenAPI v2) with a personal token: each article becomes a document in a
knowledge base (a "repo", named ``login/book_slug``).

Credentials: ``{"token": …}`` (Yuque → 个人设置 → Token, with read/write on documents).
Options: ``namespace`` (the knowledge base, ``login/book_slug``; empty: the first one the
token's user owns), ``public`` (true: readable by anyone the knowledge base lets in; false:
private to its members), ``base_url`` (replaces ``https://www.yuque.com``; the sandbox's
``/yuque``), ``timeout_seconds``.

Protocol, per endpoint (all under ``/api/v2``, header ``X-Auth-Token``, JSON in and
``{"data": …}`` out; errors ``{"status", "message"}``). References: Yuque's developer
documentation (https://www.yuque.com/yuque/developer/api and the OpenAPI page
https://www.yuque.com/yuque/developer/openapi), checked against two clients that publish
with it today: the go-yuque-api wrapper (my-petrichor/go-yuque-api, README) and the
obsidian yuque publishers' ``addDoc`` (``POST …/docs`` with ``format: "markdown"``).

* ``GET /user`` — who the token is (login check).
* ``GET /users/{login}/repos`` — the user's knowledge bases, when ``namespace`` is not set.
* ``POST /repos/{namespace}/docs`` ``{title, slug, public, format: "markdown", body}`` —
  creates the document, published at once (the API has no separate publish step).
* ``GET /repos/{namespace}/docs/{slug}`` — one document; 404 when there is none.
* ``PUT /repos/{namespace}/docs/{id}`` ``{title, public, format, body}`` — edits a document
  in place (a republish of an article the account already has: ``TaskContent.update_of``).
* ``PUT /repos/{namespace}/toc`` ``{action: "appendNode", action_mode: "child",
  doc_ids: [id]}`` — puts the document into the knowledge base's table of contents; since
  2023 a created document is not listed there by itself (the OpenAPI page's 目录 section).
* ``GET /repos/{namespace}/toc`` — the table of contents (nodes with ``doc_id``).
* Public page: ``{origin}/{namespace}/{slug}``.

Why the slug matters: the caller chooses it, so each task uses its own (``ch-`` and the task's
id). A rerun whose creation answer was lost asks for that slug first: a document is found (and
reused) or not — never created twice. The same lookup answers ``find_published``, which also
wants the document in the table of contents (checkpointed, or read there): one outside it is
not published yet, and the resumed publish appends it.

Limits: 5,000 requests an hour per token (429 beyond). The OpenAPI has no image upload:
images and the cover stay at their URLs (as on dev.to), so they must be reachable ones.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from contenthub.errors import AuthExpired, Rejected
from contenthub.platforms import base
from contenthub.platforms.render import sanitize_markdown
from contenthub.platforms.transport import json_body, new_client, origin_url, send

PLATFORM = "yuque"
ORIGIN = "https://www.yuque.com"
API = "/api/v2"
MAX_TITLE = 190  # Yuque refuses longer titles ("title is too long")


class YuqueOptions(base.PlatformOptions):
    namespace: str | None = Field(
        default=None,
        pattern=r"^[\w.-]+/[\w.-]+$",
        description="The knowledge base, login/book_slug; empty: your first one.",
    )
    public: bool = Field(default=True, description="Readable outside the knowledge base.")


class YuqueCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: base.Secret = Field(description="个人设置 → Token, with document read and write.")


def doc_slug(public_id: str) -> str:
    """This task's document slug: its own, so a lost creation is found again by it."""
    return "ch-" + "".join(c for c in public_id.lower() if c.isalnum())[:24]


class YuquePublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="token",
        scheduled=False,
        review=False,
        note="a document in a knowledge base; images must be public URLs",
    )
    # No upload API (images stay at their URLs), no tags, no cover: a document in a book.
    requires = base.Requirements(
        title_max=MAX_TITLE, tags_max=0, takes_cover=False, hosts_images=False, edits_posts=True
    )
    options_model = YuqueOptions
    credentials_model = YuqueCredentials
    min_interval_seconds = 1.0  # 5,000 requests an hour per token; a publish makes about five

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _session(account) as client:
            me = await _call(client, account, "GET", "/user")
        return base.Identity(user_id=str(me["id"]), name=str(me.get("login", "")))

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        account = task.account
        async with _session(account) as client:
            namespace = ctx.checkpoints.get("namespace") or await _namespace(client, account)
            doc = await _document(client, account, str(namespace), doc_slug(task.public_id))
            # Published means listed too: a document outside the table of contents is only
            # reached by its link, so the publish resumes to append it.
            if doc is None or not (
                ctx.checkpoints.get("in_toc") or await _in_toc(client, account, namespace, doc)
            ):
                return None
        return base.PublishResult(
            url=_page_url(account, str(namespace), doc), post_id=str(doc["id"])
        )

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        slug = doc_slug(task.public_id)
        async with _session(account) as client:
            await ctx.progress(5, "login")
            await _call(client, account, "GET", "/user")
            if not ctx.checkpoints.get("namespace"):
                await ctx.checkpoint("namespace", await _namespace(client, account))
            namespace = str(ctx.checkpoints["namespace"])

            await ctx.progress(15, "images")  # nothing to upload: the OpenAPI takes image URLs

            await ctx.progress(40, "draft")  # a Yuque document is public once created
            await ctx.progress(60, "publish")
            if task.update_of:
                where = str(task.update_of.checkpoints.get("namespace") or namespace)
                updated = await _update(client, task, where, task.update_of.post_id)
                return await self.confirm_public(ctx, account, updated, noun="document")
            if not ctx.checkpoints.get("doc_id"):
                doc = await _create_once(ctx, client, task, namespace, slug)
                await ctx.checkpoint("doc_id", doc["id"])
                await ctx.checkpoint("url", _page_url(account, namespace, doc))
            if not ctx.checkpoints.get("in_toc"):
                toc = {"action": "appendNode", "action_mode": "child"}
                toc["doc_ids"] = [ctx.checkpoints["doc_id"]]  # type: ignore[assignment]
                await _call(client, account, "PUT", f"/repos/{namespace}/toc", json=toc)
                await ctx.checkpoint("in_toc", True)

        result = base.PublishResult(
            url=str(ctx.checkpoints["url"]), post_id=str(ctx.checkpoints["doc_id"])
        )
        return await self.confirm_public(ctx, account, result, noun="document")

    async def verify(
        self, account: base.AccountAccess, result: base.PublishResult
    ) -> base.Verification:
        """A public document: its page, fetched without credentials. A private one (option
        ``public: false``) has no page for the public; the API, as its owner, must find it."""
        if account.options.get("public", True) or not result.url:
            return await super().verify(account, result)
        namespace, slug = _namespace_and_slug(result.url)
        async with _session(account) as client:
            doc = await _document(client, account, namespace, slug)
        detail = "found through the API (private)" if doc else "not found through the API"
        return base.Verification(public=doc is not None, url=result.url, detail=detail)


def _session(account: base.AccountAccess) -> httpx.AsyncClient:
    token = str(account.credentials.get("token") or "")
    if not token:
        raise AuthExpired("the Yuque account needs a token")
    return new_client(account.options, headers={"X-Auth-Token": token})


async def _call(
    client: httpx.AsyncClient, account: base.AccountAccess, method: str, path: str, **kwargs: Any
) -> Any:
    """One OpenAPI call; its ``data``, or the error class Yuque's answer means."""
    url = origin_url(account.options, ORIGIN, f"{API}{path}")
    response = await send(client, method, url, PLATFORM, **kwargs)
    answer = json_body(response, PLATFORM)
    message = answer.get("message") if isinstance(answer, dict) else None
    if response.status_code == 401:
        raise AuthExpired("Yuque refused the token: create a new one in 个人设置 → Token")
    if response.status_code >= 400:
        raise Rejected(f"Yuque refused (HTTP {response.status_code}): {message}")
    return answer["data"] if isinstance(answer, dict) and "data" in answer else answer


async def _namespace(client: httpx.AsyncClient, account: base.AccountAccess) -> str:
    configured = account.options.get("namespace")
    if configured:
        return str(configured)
    me = await _call(client, account, "GET", "/user")
    repos = await _call(client, account, "GET", f"/users/{me['login']}/repos")
    books = [r for r in repos if r.get("type", "Book") == "Book"]
    if not books:
        raise Rejected(
            "the Yuque user has no knowledge base: create one, or set the account's namespace"
        )
    return str(books[0]["namespace"])


async def _in_toc(
    client: httpx.AsyncClient, account: base.AccountAccess, namespace: object, doc: dict
) -> bool:
    nodes = await _call(client, account, "GET", f"/repos/{namespace}/toc")
    return any(str(node.get("doc_id")) == str(doc["id"]) for node in nodes or [])


async def _document(
    client: httpx.AsyncClient, account: base.AccountAccess, namespace: str, slug: str
) -> dict[str, Any] | None:
    url = origin_url(account.options, ORIGIN, f"{API}/repos/{namespace}/docs/{slug}")
    response = await send(client, "GET", url, PLATFORM)
    if response.status_code == 404:
        return None
    if response.status_code == 401:
        raise AuthExpired("Yuque refused the token: create a new one in 个人设置 → Token")
    answer = json_body(response, PLATFORM)
    return answer["data"] if response.status_code == 200 else None


async def _create_once(
    ctx: base.PublishContext,
    client: httpx.AsyncClient,
    task: base.TaskContent,
    namespace: str,
    slug: str,
) -> dict[str, Any]:
    """Create the document, unless an earlier attempt did and lost the answer."""
    account = task.account
    if ctx.checkpoints.get("publish_submitted"):
        found = await _document(client, account, namespace, slug)
        if found is not None:
            return found
    await ctx.checkpoint("publish_submitted", True)
    document = {
        "title": task.title[:MAX_TITLE],
        "slug": slug,
        "public": 1 if account.options.get("public", True) else 0,
        "format": "markdown",
        "body": sanitize_markdown(task.body),
    }
    return dict(await _call(client, account, "POST", f"/repos/{namespace}/docs", json=document))


async def _update(
    client: httpx.AsyncClient, task: base.TaskContent, namespace: str, doc_id: str
) -> base.PublishResult:
    """Edit the account's document in place; idempotent, so a rerun simply edits again."""
    account = task.account
    document = {
        "title": task.title[:MAX_TITLE],
        "public": 1 if account.options.get("public", True) else 0,
        "format": "markdown",
        "body": sanitize_markdown(task.body),
    }
    path = f"/repos/{namespace}/docs/{doc_id}"
    doc = await _call(client, account, "PUT", path, json=document)
    return base.PublishResult(_page_url(account, namespace, doc), str(doc["id"]), updated=True)


def _namespace_and_slug(url: str) -> tuple[str, str]:
    *_, login, book, slug = urlsplit(url).path.rstrip("/").split("/")
    return f"{login}/{book}", slug


def _page_url(account: base.AccountAccess, namespace: str, doc: dict[str, Any]) -> str:
    return origin_url(account.options, ORIGIN, f"/{namespace}/{doc['slug']}")
