"""Bilibili 专栏 (column articles) through the creator centre's web API, with the account's
browser cookies.

Credentials: a browser session (``platforms.session``: ``SESSDATA``, ``bili_jct``,
``DedeUserID`` … on ``.bilibili.com``). Options: ``category`` (the 专栏 category id, 0 the
default), ``base_url`` sends every host ``H`` to ``{base_url}/H`` (the sandbox's
``/bilibili``), ``timeout_seconds``.

Steps and where each comes from ([W] Wechatsync ``packages/core/src/adapters/platforms/
bilibili.ts``; [P] the ``BiliWebApi`` class of a Python Bilibili helper (``createArticle``,
``deleteArticle``, ``getArticle``, ``articleUpcover``), the same in two repositories the code
search finds; [M] a comic publisher's ``publishers/bilibili.py``, which documents the same
three calls; [I] inferred, no reference found):

* login check: ``GET api.bilibili.com/x/web-interface/nav`` → ``{code: 0, data: {isLogin,
  mid, uname}}``; ``-101`` is "not logged in" [W];
* CSRF: the ``bili_jct`` cookie, sent as the form field ``csrf`` on every write [W, P];
* images (and the cover): ``POST /x/article/creative/article/upcover``, multipart ``binary``
  plus ``csrf`` → ``{data: {url, size}}`` [W, P, M];
* draft: ``POST /x/article/creative/draft/addupdate`` (form: ``title``, ``content`` as HTML,
  ``category``, ``list_id``, ``tid`` 4 (one cover image), ``reprint``, ``media_id``,
  ``spoiler``, ``original``, ``tags``, ``banner_url``, ``summary``, ``words``, ``csrf``) →
  ``{data: {aid}}`` (checkpointed) [W, P, M]; HTML, as [W] sends it;
* publish: ``POST /x/article/creative/article/submit``, the same form with ``aid`` [P, M]
  (checkpointed before and after); the article is at ``www.bilibili.com/read/cv{aid}`` [M].
  One project's notes say the editor moved to ``/x/dynamic/feed/create/opus`` in 2026; no
  client documents that body, and three use ``article/submit``, so ``article/submit`` is
  followed;
* lost answers: ``GET /x/article/creative/article/list`` (``artlist.articles``) shows a submitted
  article [I]; ``GET /x/article/creative/draft/list`` lists drafts [I]; ``POST
  member.bilibili.com/x/web/draft/delete`` (``aid``, ``csrf``) deletes a double [P];
* errors: ``-101`` not logged in, ``-111`` a stale CSRF cookie (both: log in again), ``-412``
  and ``-799`` throttled (no wait is given: 60 s [I]), any other code a refusal.

Articles go through Bilibili's review before the public sees them (``holds_for_review``): a
submitted article whose page is not public yet is looked up in ``article/list``, whose
``state`` says where it stands (0 open, -2 refused with ``reject_reason``, others in review)
[I: the field names follow the list as the creator centre shows it; no client reads them].
Bilibili has no edit of a submitted article in any reference client, so a republish makes a
new article (``edits_posts`` stays False).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field

from contenthub.errors import AuthExpired, RateLimited, Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import ImageFile, ImagePolicy, localize_images
from contenthub.platforms.render import markdown_to_html, normalize_tags, plain_text, summary
from contenthub.platforms.session import CookieCredentials
from contenthub.platforms.transport import CookieSession, host_url, json_body, send

PLATFORM = "bilibili"
API, MEMBER, WEB = "api.bilibili.com", "member.bilibili.com", "www.bilibili.com"
CDN_SUFFIXES = ("hdslb.com", "biliimg.com")
NOT_LOGGED_IN, BAD_CSRF = -101, -111
THROTTLED = {-412, -799}
THROTTLE_WAIT_SECONDS = 60.0
MAX_TAGS, MAX_TITLE = 10, 40


class BilibiliOptions(base.PlatformOptions):
    category: int = Field(default=0, ge=0, description="The 专栏 category id (0: the default).")


class BilibiliCredentials(CookieCredentials):
    cookie_domain = ".bilibili.com"


class BilibiliPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="web login (cookies)",
        scheduled=False,
        review=True,
        note="articles are reviewed before they are public",
    )
    requires = base.Requirements(title_max=MAX_TITLE, tags_max=MAX_TAGS)
    options_model = BilibiliOptions
    credentials_model = BilibiliCredentials
    login_page = base.LoginPage(
        host="passport.bilibili.com", path="/login", session_cookie="SESSDATA"
    )
    holds_for_review = True  # every article is reviewed before the public sees it

    async def review_state(
        self, account: base.AccountAccess, result: base.PublishResult
    ) -> base.ReviewState:
        if not result.post_id:
            return await super().review_state(account, result)
        async with _Creator(account) as creator:
            article = await creator.article(result.post_id)
        if article is None:
            return base.ReviewState("in_review", result.url, "not listed yet")
        state = int(article.get("state") or 0)
        if state == 0:
            return base.ReviewState("live", result.url)
        if state < 0 or article.get("reject_reason"):
            reason = str(article.get("reject_reason") or f"state {state}")
            return base.ReviewState("refused", result.url, reason)
        return base.ReviewState("in_review", result.url, f"state {state}")

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _Creator(account) as creator:
            return await creator.me()

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        aid = ctx.checkpoints.get("post_id")
        if not aid and ctx.checkpoints.get("draft_id"):
            async with _Creator(task.account) as creator:
                aid = await creator.submitted(str(ctx.checkpoints["draft_id"]))
        if not aid:
            return None
        url = host_url(task.account.options, WEB, f"/read/cv{aid}")
        result = base.PublishResult(url=url, post_id=str(aid))
        review = await self.review_state(task.account, result)
        if review.state == "refused":
            return None
        return replace(result, in_review=review.state == "in_review")

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        if len(task.title) > MAX_TITLE:
            raise Rejected(f"Bilibili titles have at most {MAX_TITLE} characters")
        async with _Creator(account) as creator:
            await ctx.progress(5, "login")
            await creator.me()

            await ctx.progress(15, "images")
            policy = ImagePolicy(is_hosted=_is_on_cdn, upload=creator.upload_image)
            body, cover = await localize_images(
                ctx, task.body, task.cover, policy, task.attachments
            )
            content = markdown_to_html(body)
            article = {
                "title": task.title,
                "content": content,
                "summary": summary(body, max_chars=100),
                "words": str(len(plain_text(body))),
                "category": str(account.options.get("category") or 0),
                "list_id": "0",
                "tid": "4",  # one cover image
                "reprint": "0",
                "media_id": "0",
                "spoiler": "0",
                "original": "1",
                "tags": ",".join(normalize_tags(task.tags, limit=MAX_TAGS)),
                "banner_url": cover or "",
                "image_urls": cover or "",
                "origin_image_urls": cover or "",
            }

            await ctx.progress(40, "draft")
            if not ctx.checkpoints.get("draft_id"):
                await creator.recover_lost_draft(ctx, task)
            if not ctx.checkpoints.get("draft_id"):
                await base.note_draft_request(ctx)
                saved = await creator.write(API, "/x/article/creative/draft/addupdate", article)
                await ctx.checkpoint("draft_id", str(saved["aid"]))
            aid = str(ctx.checkpoints["draft_id"])

            await ctx.progress(60, "publish")
            aid = await _ensure_submitted(ctx, creator, {**article, "aid": aid})

        url = host_url(account.options, WEB, f"/read/cv{aid}")
        result = base.PublishResult(url=url, post_id=aid)
        return await self.confirm_public(ctx, account, result)


def _is_on_cdn(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith(CDN_SUFFIXES) or any(f"/{s}" in url for s in CDN_SUFFIXES)


async def _ensure_submitted(
    ctx: base.PublishContext, creator: _Creator, article: dict[str, str]
) -> str:
    if ctx.checkpoints.get("post_id"):
        return str(ctx.checkpoints["post_id"])
    if ctx.checkpoints.get(base.PUBLISH_SUBMITTED):
        found = await creator.submitted(article["aid"])
        if found:
            await ctx.checkpoint("post_id", found)
            return found
    await ctx.progress(65, "publish")  # the last point where a cancel still applies
    await ctx.checkpoint(base.PUBLISH_SUBMITTED, True)
    submitted = await creator.write(API, "/x/article/creative/article/submit", article)
    aid = str(submitted.get("aid") or article["aid"])
    await ctx.checkpoint("post_id", aid)
    return aid


class _Creator(CookieSession):
    """One session with Bilibili's creator centre: cookies, the CSRF cookie, the envelope."""

    platform_name = "Bilibili"
    cookie_domain = BilibiliCredentials.cookie_domain
    origin = "https://member.bilibili.com"

    @property
    def csrf(self) -> str:
        token = self.jar.value("bili_jct", host_url(self.options, API, "/"))
        if not token:
            raise AuthExpired("the Bilibili session has no bili_jct cookie: log in again")
        return token

    async def call(self, method: str, host: str, path: str, **kwargs: Any) -> Any:
        """One call; ``{code, message, data}`` unwrapped to ``data``."""
        url = host_url(self.options, host, path)
        response = await send(self.client, method, url, PLATFORM, **kwargs)
        answer = json_body(response, PLATFORM)
        code = answer.get("code") if isinstance(answer, dict) else None
        message = answer.get("message", "") if isinstance(answer, dict) else ""
        if code in (NOT_LOGGED_IN, BAD_CSRF):
            raise AuthExpired(f"Bilibili login expired ({message}): log in to Bilibili again")
        if code in THROTTLED:
            raise RateLimited(
                f"Bilibili is throttling the account: {message}", THROTTLE_WAIT_SECONDS
            )
        if code != 0 or response.status_code >= 400:
            raise Rejected(f"Bilibili refused the request (code {code}): {message}")
        return answer.get("data") or {}

    async def write(self, host: str, path: str, form: dict[str, str], **kwargs: Any) -> Any:
        return await self.call("POST", host, path, data={**form, "csrf": self.csrf}, **kwargs)

    async def me(self) -> base.Identity:
        user = await self.call("GET", API, "/x/web-interface/nav")
        if not user.get("isLogin"):
            raise self.login_expired()
        return base.Identity(user_id=str(user["mid"]), name=str(user.get("uname", "")))

    async def upload_image(self, image: ImageFile) -> str:
        files = {"binary": (image.filename, image.data, image.content_type)}
        uploaded = await self.write(API, "/x/article/creative/article/upcover", {}, files=files)
        if not uploaded.get("url"):
            raise Transient("Bilibili gave no URL for an uploaded image")
        return str(uploaded["url"])

    async def article(self, aid: str) -> dict[str, Any] | None:
        """The submitted article ``aid`` as the creator centre lists it; None if not there [I]."""
        listed = await self.call("GET", API, "/x/article/creative/article/list?group=0&pn=1")
        articles = (listed.get("artlist") or {}).get("articles") or []
        return next((a for a in articles if str(a.get("id")) == aid), None)

    async def submitted(self, aid: str) -> str | None:
        """The article's id if the draft was submitted already (an answer lost) [I]."""
        return aid if await self.article(aid) is not None else None

    async def recover_lost_draft(self, ctx: base.PublishContext, task: base.TaskContent) -> None:
        """A draft an earlier attempt saved without learning its id, found by title and time
        in the draft list, is taken over; doubles are deleted [I]."""

        async def listed() -> list[base.FoundDraft]:
            found = await self.call("GET", API, "/x/article/creative/draft/list?pn=1")
            return [
                base.FoundDraft(str(d["id"]), str(d.get("title", "")), float(d["ctime"]))
                for d in found.get("drafts") or []
                if d.get("ctime")
            ]

        async def delete(aid: str) -> None:
            await self.write(MEMBER, "/x/web/draft/delete", {"aid": aid})

        await base.recover_lost_draft(
            ctx,
            task,
            listed=listed,
            delete=delete,
            describe=lambda i: (
                "Bilibili draft "
                + host_url(self.options, MEMBER, f"/platform/upload/text/edit?aid={i}")
            ),
        )
