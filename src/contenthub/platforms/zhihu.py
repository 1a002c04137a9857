"""Zhihu (知乎 专栏) through its web-console API, with the account's browser cookies.

Credentials: a browser session (``platforms.session``: ``z_c0``, ``_xsrf``, ``d_c0`` … on
``.zhihu.com``). Options: ``base_url`` sends every Zhihu host ``H`` to
``{base_url}/H`` (the sandbox's ``/zhihu`` prefix), ``timeout_seconds``, ``browser``.

Steps: login check → images (binary upload to Zhihu's OSS) → draft (created once,
checkpointed, then updated with the body, cover and topics) → publish (checkpointed before and
after; a rerun whose answer was lost asks for the article before publishing again) → verify.

Browser mode (the ``browser`` option, and on its own when the HTTP mode meets Zhihu's anti-bot
refusal): the same steps, every request made from inside the editor page in the worker's
browser (whose script signs them), and the publish done by the editor's own button: it ends
when the page reaches the article, ``/p/{id}``. Both modes share the checkpoints, so a publish
that switches mode halfway resumes where it was.

Where each endpoint's protocol comes from (zhihu_obsidian is ``dongguaguaguagua/zhihu_obsidian``;
re-check there first):

* Login check — ``GET www.zhihu.com/api/v4/me`` (``id``, ``name``): Zhihu's own profile API,
  used by many open clients; not in the three references read for issue 17 [I].
* Session headers — the cookies plus ``x-xsrftoken`` (the ``_xsrf`` cookie) and
  ``x-requested-with: fetch``: zhihu_obsidian ``src/publish_service.ts``.
* Images — ``POST api.zhihu.com/images`` ``{image_hash: md5, source: "article"}``;
  ``upload_file.state`` 1 means Zhihu has the bytes, else a ``PUT`` to
  ``zhihu-pics-upload.zhimg.com/{object_key}`` signed Aliyun-OSS-V1 (HMAC-SHA1 over verb, type,
  date, the ``x-oss-*`` headers and ``/zhihu-pics/{key}``) with the upload token: zhihu_obsidian
  ``src/image_service.ts``. The poll ``GET api.zhihu.com/images/{id}`` ends on ``original_hash``
  or ``status: "completed"`` (zhihu_obsidian's commented-out poll waits for ``"success"``; the
  issue's observation is ``"completed"``; we end on any of the three signs).
* Draft — ``POST zhuanlan.zhihu.com/api/articles/drafts`` then ``PATCH
  …/api/articles/{id}/draft`` (title, content, ``titleImage``): zhihu_obsidian
  ``publish_service.ts`` (``newDraft``, ``patchDraft``).
* Topics — ``GET zhuanlan.zhihu.com/api/autocomplete/topics?token=…&max_matches=5&
  use_similar=0&topic_filter=1``, then the first topic *object* ``POST``ed to
  ``…/api/articles/{id}/topics``; a tag with no match is skipped: zhihu_obsidian
  ``src/topics.ts`` (its comment: "文章加入话题，否则通常无法发表").
* Publish — ``POST www.zhihu.com/api/v4/content/publish`` ``{action: "article", data: {…}}``;
  success is ``message == "success"``, ``data.result`` a JSON string (the id at
  ``publish.id``): zhihu_obsidian ``publish_service.ts`` (``publishDraft``). We also send
  ``hybrid`` and ``title`` parts [I] (kept from before); zhihu_obsidian omits them and patches
  the draft first, as we do too, so either way the body is the draft's.
* Lookup of a lost publish and review — ``GET zhuanlan.zhihu.com/api/articles/{id}``
  (``state``, ``url``) [I]: no reference reads it; its review values ``reviewing`` and
  ``review_rejected`` (with ``review_reason``) are our guess, matched by the sandbox only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import Field

from contenthub.browser.launch import BrowserUnavailable, chromium_executable
from contenthub.browser.session import browser_steps, hand_back_storage_state
from contenthub.browser.steps import PageSteps
from contenthub.errors import AuthExpired, Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import ImageFile, ImagePolicy, localize_images
from contenthub.platforms.render import markdown_to_zhihu_html, normalize_tags, plain_text
from contenthub.platforms.session import CookieCredentials
from contenthub.platforms.transport import (
    CookieSession,
    host_url,
    json_body,
    new_client,
    raise_for_overload,
    send,
)

PLATFORM = "zhihu"
WWW, ZHUANLAN, API = "www.zhihu.com", "zhuanlan.zhihu.com", "api.zhihu.com"
OSS_HOST, CDN_HOST, BUCKET = "zhihu-pics-upload.zhimg.com", "pic4.zhimg.com", "zhihu-pics"
ANTI_BOT_CODES = {10001, 10002, 10003}
PUBLISHED, REVIEWING, REVIEW_REJECTED = "published", "reviewing", "review_rejected"
MAX_TOPICS = 3
COOKIE_DOMAIN = ".zhihu.com"
LABEL = "Zhihu"
TITLE_FIELD = "textarea.WriteIndex-titleInput"
PUBLISH_BUTTON = ".PublishPanel-triggerButton"
SIGNIN_PAGE = re.compile(r"/signin|/login", re.I)
ARTICLE_PAGE = re.compile(r"/p/(\d+)/?(?:[?#].*)?$")

log = logging.getLogger("contenthub.platforms.zhihu")

# One request to Zhihu, made by an HTTP client or by the editor page: (method, url, **kwargs)
# with ``json``/``content``/``headers``, and ``cookieless`` for the image store.
Sender = Callable[..., Awaitable[httpx.Response]]


class ZhihuOptions(base.PlatformOptions):
    browser: bool = Field(
        default=False,
        description="Publish through Zhihu's editor page in the worker's browser (Chromium).",
    )


class AntiBotRefusal(AuthExpired):
    """Zhihu no longer trusts this HTTP client: the browser mode may still get through."""


class ZhihuCredentials(CookieCredentials):
    cookie_domain = COOKIE_DOMAIN


class ZhihuPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="web login (cookies)",
        scheduled=True,
        review=True,
        note="tags are Zhihu topics",
    )
    options_model = ZhihuOptions
    credentials_model = ZhihuCredentials
    login_page = base.LoginPage(host=WWW, path="/signin", session_cookie="z_c0")
    holds_for_review = True  # Zhihu can hold a new article for review

    async def review_state(
        self, account: base.AccountAccess, result: base.PublishResult
    ) -> base.ReviewState:
        async with _session(account) as client:
            found = await _article(_http_sender(client, account), account, str(result.post_id))
        return _review_of(found, result.url)

    requires = base.Requirements(tags_max=MAX_TOPICS, edits_posts=True)

    # -- the interface ----------------------------------------------------------------------

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _session(account) as client:
            return await _me(_http_sender(client, account), account)

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        if ctx.checkpoints.get("url"):
            return base.PublishResult(str(ctx.checkpoints["url"]), str(ctx.checkpoints["post_id"]))
        draft_id = ctx.checkpoints.get("draft_id")
        if not draft_id:
            return None
        async with _session(task.account) as client:
            sender = _http_sender(client, task.account)
            found = await _article(sender, task.account, str(draft_id))
        review = _review_of(found, None)
        if found.get("state") not in (PUBLISHED, REVIEWING) or not found.get("url"):
            return None
        url = str(found["url"])
        return base.PublishResult(url, str(draft_id), in_review=review.state == "in_review")

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        if account.options.get("browser"):
            return await self._publish_in_browser(ctx, task)
        try:
            async with _session(account) as client:
                result = await _publish_steps(ctx, _http_sender(client, account), task)
        except AntiBotRefusal as refusal:
            if not _browser_available():
                raise
            log.info(
                "Zhihu refused the HTTP client; publishing through the browser",
                extra={"task_id": task.public_id, "reason": refusal.message},
            )
            return await self._publish_in_browser(ctx, task)
        return await self.confirm_public(ctx, account, result)

    async def _publish_in_browser(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult:
        account = task.account
        async with browser_steps(
            PLATFORM, LABEL, account, task_id=task.public_id, cookie_domain=COOKIE_DOMAIN
        ) as steps:
            await _open_editor(steps, account, "/write")
            result = await _publish_steps(ctx, _page_sender(steps), task, steps=steps)
            await hand_back_storage_state(account, steps, COOKIE_DOMAIN)
        return await self.confirm_public(ctx, task.account, result)


async def _publish_steps(
    ctx: base.PublishContext,
    client: Sender,
    task: base.TaskContent,
    *,
    steps: PageSteps | None = None,
) -> base.PublishResult:
    """The publish, through ``client``; with ``steps`` (the browser mode) the last step is the
    editor's own publish button."""
    account = task.account
    await ctx.progress(5, "login")
    await _me(client, account)

    await ctx.progress(15, "images")
    policy = ImagePolicy(
        is_hosted=lambda url: _is_on_cdn(account, url),
        upload=lambda image: _upload_image(client, account, image),
    )
    body, cover = await localize_images(ctx, task.body, task.cover, policy, task.attachments)
    content = markdown_to_zhihu_html(body)

    await ctx.progress(40, "draft")
    if task.update_of and not ctx.checkpoints.get("draft_id"):
        # A Zhihu article is its own draft (one id): fill it again and publish it again.
        await ctx.checkpoint("draft_id", task.update_of.post_id)
    draft_id = await _ensure_draft(ctx, client, task)
    await _fill_draft(client, account, draft_id, task.title, content, cover)
    if not ctx.checkpoints.get("topics_added"):
        await _add_topics(client, account, draft_id, normalize_tags(task.tags, limit=MAX_TOPICS))
        await ctx.checkpoint("topics_added", True)

    await ctx.progress(60, "publish")
    if steps is None:
        post_id, url = await _ensure_published(ctx, client, account, draft_id, task.title, content)
    else:
        post_id, url = await _ensure_published_in_page(ctx, steps, client, account, draft_id)
    updated = task.update_of is not None and post_id == task.update_of.post_id
    return base.PublishResult(url=url, post_id=post_id, updated=updated)


# -- the two ways to send -------------------------------------------------------------------


def _http_sender(client: httpx.AsyncClient, account: base.AccountAccess) -> Sender:
    async def sender(
        method: str, url: str, *, cookieless: bool = False, **kw: Any
    ) -> httpx.Response:
        if cookieless:  # the image store gets only its own headers, never the Zhihu cookies
            async with new_client(account.options) as bare:
                return await send(bare, method, url, PLATFORM, **kw)
        return await send(client, method, url, PLATFORM, **kw)

    return sender


def _page_sender(steps: PageSteps) -> Sender:
    """Requests made by the editor page (its script adds Zhihu's signature headers)."""

    async def sender(
        method: str,
        url: str,
        *,
        cookieless: bool = False,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        answer = await steps.fetch(
            method,
            url,
            json=json,
            content=content,
            headers=headers,
            credentials="omit" if cookieless else "include",
        )
        response = httpx.Response(
            answer.status,
            headers=answer.headers,
            content=answer.text.encode(),
            request=httpx.Request(method, url),
        )
        raise_for_overload(response, PLATFORM)
        return response

    return sender


def _browser_available() -> bool:
    try:
        chromium_executable()
    except BrowserUnavailable:
        return False
    return True


async def _open_editor(steps: PageSteps, account: base.AccountAccess, path: str) -> None:
    await steps.open(
        host_url(account.options, ZHUANLAN, path),
        what="editor page",
        ready=TITLE_FIELD,
        ready_what="the title field",
        login_url=SIGNIN_PAGE,
    )
    await steps.wait_for_script(
        "() => window.__zse_ready === true", what="the editor's signing script"
    )


async def _ensure_published_in_page(
    ctx: base.PublishContext,
    steps: PageSteps,
    client: Sender,
    account: base.AccountAccess,
    draft_id: str,
) -> tuple[str, str]:
    """Publish with the editor's button on the draft's page; done when the page shows the
    article (``/p/{id}``)."""
    if ctx.checkpoints.get("post_id"):
        return str(ctx.checkpoints["post_id"]), str(ctx.checkpoints["url"])
    if ctx.checkpoints.get("publish_submitted"):
        url = await _published_article(client, account, draft_id)
        if url:
            await ctx.checkpoint("post_id", draft_id)
            await ctx.checkpoint("url", url)
            return draft_id, url
    await _open_editor(steps, account, f"/p/{draft_id}/edit")
    await ctx.progress(65, "publish")  # the last point where a cancel still applies
    await ctx.checkpoint("publish_submitted", True)
    await steps.click(PUBLISH_BUTTON, what="the publish button")
    post_id = (await steps.wait_for_url(ARTICLE_PAGE, what="the published article")).group(1)
    url = host_url(account.options, ZHUANLAN, f"/p/{post_id}")
    await ctx.checkpoint("post_id", post_id)
    await ctx.checkpoint("url", url)
    return post_id, url


# -- steps ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _session(account: base.AccountAccess) -> AsyncIterator[httpx.AsyncClient]:
    """The editor's session: the account's cookies, and ``_xsrf`` echoed in a header."""
    async with CookieSession(
        account,
        platform_name="Zhihu",
        cookie_domain=COOKIE_DOMAIN,
        origin="https://zhuanlan.zhihu.com",
    ) as web:
        xsrf = web.jar.value("_xsrf", host_url(account.options, ZHUANLAN, "/"))
        web.client.headers.update(
            {
                "x-requested-with": "fetch",
                "x-xsrftoken": xsrf,
                "Referer": "https://zhuanlan.zhihu.com/write",
            }
        )
        yield web.client


async def _call(
    client: Sender,
    method: str,
    account: base.AccountAccess,
    host: str,
    path: str,
    **kwargs: Any,
) -> httpx.Response:
    response = await client(method, host_url(account.options, host, path), **kwargs)
    if response.status_code == 401:
        raise AuthExpired("Zhihu login expired: log in to Zhihu again")
    if response.status_code == 403:
        error = (json_body(response, PLATFORM) or {}).get("error") or {}
        if error.get("code") in ANTI_BOT_CODES:
            # The session no longer passes Zhihu's checks: only a fresh browser login helps.
            raise AntiBotRefusal(
                f"Zhihu refused the session (code {error.get('code')}): log in again"
            )
        raise Rejected(f"Zhihu refused the request: {error.get('message') or 'HTTP 403'}")
    if response.status_code >= 400:
        error = (json_body(response, PLATFORM) or {}).get("error") or {}
        raise Rejected(f"Zhihu answered HTTP {response.status_code}: {error.get('message', '')}")
    return response


async def _add_topics(
    client: Sender, account: base.AccountAccess, draft_id: str, names: list[str]
) -> None:
    """Each tag looked up as a Zhihu topic, and the best match's topic object added to the
    draft (Zhihu often refuses to publish an article without one); a tag that matches no
    topic is left out, as zhihu_obsidian does."""
    for name in names:
        query = urlencode({"token": name, "max_matches": 5, "use_similar": 0, "topic_filter": 1})
        found = json_body(
            await _call(client, "GET", account, ZHUANLAN, f"/api/autocomplete/topics?{query}"),
            PLATFORM,
        )
        matches = found if isinstance(found, list) else []
        if matches and isinstance(matches[0], dict):
            path = f"/api/articles/{draft_id}/topics"
            await _call(client, "POST", account, ZHUANLAN, path, json=matches[0])


async def _me(client: Sender, account: base.AccountAccess) -> base.Identity:
    me = json_body(await _call(client, "GET", account, WWW, "/api/v4/me"), PLATFORM)
    if not me.get("id"):
        raise AuthExpired("Zhihu login expired: log in to Zhihu again")
    return base.Identity(user_id=str(me["id"]), name=str(me.get("name", "")))


def _is_on_cdn(account: base.AccountAccess, url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith("zhimg.com") or url.startswith(host_url(account.options, CDN_HOST, "/"))


def _oss_authorization(token: dict[str, Any], object_key: str, headers: dict[str, str]) -> str:
    """Aliyun OSS V1: HMAC-SHA1 over verb, MD5, type, date, x-oss-* headers and resource."""
    oss_headers = "".join(
        f"{name}:{headers[name]}\n" for name in sorted(h for h in headers if h.startswith("x-oss-"))
    )
    to_sign = (
        f"PUT\n\n{headers['Content-Type']}\n{headers['x-oss-date']}\n"
        f"{oss_headers}/{BUCKET}/{object_key}"
    )
    digest = hmac.new(str(token["access_key"]).encode(), to_sign.encode(), hashlib.sha1).digest()
    return f"OSS {token['access_id']}:{base64.b64encode(digest).decode()}"


async def _upload_image(client: Sender, account: base.AccountAccess, image: ImageFile) -> str:
    applied = json_body(
        await _call(
            client,
            "POST",
            account,
            API,
            "/images",
            json={"image_hash": image.md5, "source": "article"},
        ),
        PLATFORM,
    )
    upload, token = applied.get("upload_file") or {}, applied.get("upload_token") or {}
    if upload.get("state") == 1:  # Zhihu has these bytes already
        key = await _existing_image_key(client, account, str(upload["image_id"]), image)
    else:
        key = str(upload["object_key"])
        headers = {
            "Content-Type": image.content_type,
            "x-oss-date": formatdate(usegmt=True),
            "x-oss-security-token": str(token.get("access_token", "")),
            "x-oss-user-agent": "aliyun-sdk-js/6.8.0",
        }
        headers["Authorization"] = _oss_authorization(token, key, headers)
        url = host_url(account.options, OSS_HOST, f"/{key}")
        # The OSS host gets only its own headers, never the Zhihu cookies.
        response = await client("PUT", url, cookieless=True, content=image.data, headers=headers)
        if response.status_code != 200:
            raise Transient(f"Zhihu's image store refused the upload (HTTP {response.status_code})")
    suffix = ".gif" if image.extension == "gif" else ""
    return host_url(account.options, CDN_HOST, f"/{key}{suffix}")


async def _existing_image_key(
    client: Sender, account: base.AccountAccess, image_id: str, image: ImageFile
) -> str:
    """Poll ``GET api.zhihu.com/images/{id}`` until Zhihu has processed the image: it says so
    with ``original_hash`` or with ``status: "completed"`` (then the key is ``v2-{md5}``, the
    name zhihu_obsidian's ``image_service.ts`` builds its URL from)."""
    for _ in range(20):
        state = json_body(await _call(client, "GET", account, API, f"/images/{image_id}"), PLATFORM)
        if state.get("original_hash"):
            return str(state["original_hash"])
        if state.get("status") == "completed":
            return f"v2-{image.md5}"
        await asyncio.sleep(0.5)  # Zhihu is still processing an image it already has
    raise Transient("Zhihu did not finish processing an image in time")


async def _ensure_draft(ctx: base.PublishContext, client: Sender, task: base.TaskContent) -> str:
    if ctx.checkpoints.get("draft_id"):
        return str(ctx.checkpoints["draft_id"])
    account = task.account

    async def listed() -> list[base.FoundDraft]:
        page = json_body(
            await _call(client, "GET", account, ZHUANLAN, "/api/articles/drafts?limit=20"),
            PLATFORM,
        )
        return [
            base.FoundDraft(str(d["id"]), str(d.get("title", "")), float(d["created"]))
            for d in (page.get("data") or [])
            if d.get("created")
        ]

    async def delete(draft_id: str) -> None:
        await _call(client, "DELETE", account, ZHUANLAN, f"/api/articles/{draft_id}/draft")

    # Zhihu creates drafts empty (the body follows), so no marker: title and time tell [I].
    found = await base.recover_lost_draft(
        ctx,
        task,
        listed=listed,
        delete=delete,
        describe=lambda i: f"Zhihu draft {host_url(account.options, ZHUANLAN, f'/p/{i}/edit')}",
    )
    if found:
        return found
    await base.note_draft_request(ctx)
    payload = {"title": task.title, "content": "", "delta_time": 0}
    draft = json_body(
        await _call(client, "POST", account, ZHUANLAN, "/api/articles/drafts", json=payload),
        PLATFORM,
    )
    draft_id = str(draft["id"])
    await ctx.checkpoint("draft_id", draft_id)
    return draft_id


async def _fill_draft(
    client: Sender,
    account: base.AccountAccess,
    draft_id: str,
    title: str,
    content: str,
    cover: str | None,
) -> None:
    payload: dict[str, Any] = {"title": title, "content": content}
    if cover:
        payload |= {"titleImage": cover, "isTitleImageFullScreen": False}
    await _call(client, "PATCH", account, ZHUANLAN, f"/api/articles/{draft_id}/draft", json=payload)


async def _article(client: Sender, account: base.AccountAccess, article_id: str) -> dict:
    return json_body(
        await _call(client, "GET", account, ZHUANLAN, f"/api/articles/{article_id}"), PLATFORM
    )


async def _published_article(
    client: Sender, account: base.AccountAccess, draft_id: str
) -> str | None:
    """The article's URL if the draft went live (or into review) already (an earlier answer
    was lost) [I]."""
    article = await _article(client, account, draft_id)
    return (
        str(article["url"])
        if article.get("state") in (PUBLISHED, REVIEWING) and article.get("url")
        else None
    )


def _review_of(article: dict, url: str | None) -> base.ReviewState:
    """Where Zhihu's review of an article stands, from its ``state`` [I: "reviewing" and
    "review_rejected" with ``review_reason`` are the sandbox's guess at the real values]."""
    where = str(article.get("url") or url or "") or None
    if article.get("state") == REVIEWING:
        return base.ReviewState("in_review", where)
    if article.get("state") == REVIEW_REJECTED:
        return base.ReviewState("refused", where, str(article.get("review_reason") or ""))
    if article.get("state") == PUBLISHED:
        return base.ReviewState("live", where)
    return base.ReviewState("in_review", where, f"state {article.get('state')!r}")


async def _ensure_published(
    ctx: base.PublishContext,
    client: Sender,
    account: base.AccountAccess,
    draft_id: str,
    title: str,
    content: str,
) -> tuple[str, str]:
    if ctx.checkpoints.get("post_id"):
        return str(ctx.checkpoints["post_id"]), str(ctx.checkpoints["url"])
    if ctx.checkpoints.get("publish_submitted"):
        url = await _published_article(client, account, draft_id)
        if url:
            await ctx.checkpoint("post_id", draft_id)
            await ctx.checkpoint("url", url)
            return draft_id, url
    await ctx.progress(65, "publish")  # the last point where a cancel still applies
    await ctx.checkpoint("publish_submitted", True)
    response = await _call(
        client,
        "POST",
        account,
        WWW,
        "/api/v4/content/publish",
        json=_publish_payload(draft_id, title, content),
    )
    answer = json_body(response, PLATFORM)
    if answer.get("message") != "success":  # zhihu_obsidian's publishDraft tells so
        raise Rejected(f"Zhihu refused to publish: {answer.get('message') or answer.get('code')}")
    post_id = _published_id(answer) or draft_id
    url = host_url(account.options, ZHUANLAN, f"/p/{post_id}")
    await ctx.checkpoint("post_id", post_id)
    await ctx.checkpoint("url", url)
    return post_id, url


def _publish_payload(draft_id: str, title: str, content: str) -> dict[str, Any]:
    business = {
        "commentPermission": "anyone",
        "disclaimer_type": "none",
        "disclaimer_status": "close",
        "table_of_contents_enabled": False,
        "content": content,
        "title": title,
        "canReward": False,
    }
    return {
        "action": "article",
        "data": {
            "publish": {"traceId": f"{uuid.uuid4()},{uuid.uuid4().hex[:16]}"},
            "extra_info": {
                "publisher": "pc",
                "pc_business_params": json.dumps(business, ensure_ascii=False),
            },
            "draft": {"disabled": 1, "id": draft_id, "isPublished": False},
            "commentsPermission": {"comment_permission": "anyone"},
            "creationStatement": {"disclaimer_type": "none", "disclaimer_status": "close"},
            "contentsTables": {"table_of_contents_enabled": False},
            "commercialReportInfo": {"isReport": 0},
            "appreciate": {"can_reward": False, "tagline": ""},
            "hybrid": {"html": content, "textLength": len(plain_text(content))},
            "title": {"title": title},
        },
    }


def _published_id(answer: dict[str, Any]) -> str | None:
    """The id sits at publish.id, data.publish.id, or in data.result, a JSON string."""
    data = answer.get("data") or {}
    for holder in (answer.get("publish"), data.get("publish")):
        if isinstance(holder, dict) and holder.get("id"):
            return str(holder["id"])
    result = data.get("result")
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return None
    if isinstance(result, dict):
        inner = result.get("publish") if isinstance(result.get("publish"), dict) else result
        if inner.get("id"):
            return str(inner["id"])
    return None
