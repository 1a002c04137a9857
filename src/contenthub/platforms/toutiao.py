"""Toutiao (头条号) through its logged-in editor page in the worker's browser.

Toutiao signs its web API's requests with the page's own JavaScript (``msToken``, ``a_bogus``),
so a plain HTTP client cannot call it: the adapter opens the editor
(``mp.toutiao.com/profile_v4/graphic/publish``) in the account's browser context and makes
every request from inside the page, the way the Wechatsync extension does.

Credentials: a Playwright storage state (``{"storage_state": {"cookies": [...]}}``, what
``contenthub account login`` stores). Options: ``base_url`` sends every Toutiao host ``H`` to
``{base_url}/H`` (the sandbox's ``/toutiao``).

Steps: editor page (a login page instead: auth_expired) → login check (``get_media_info``)
→ images (CSRF handshake on ``/ttwid/check/``, then ``/spice/image``; each checkpointed) →
title typed into the editor → draft (``save=0``; its ``pgc_id`` checkpointed) → publish
(``save=1`` on that ``pgc_id``, so a retry updates the same article) → the article's URL →
the cookies the page holds now, handed back → verify.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from contenthub.browser.session import browser_steps, hand_back_storage_state
from contenthub.browser.steps import PageAnswer, PageSteps
from contenthub.errors import AuthExpired, RateLimited, Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import ImageFile, ImagePolicy, localize_images
from contenthub.platforms.render import EDITOR_TAGS, markdown_to_html
from contenthub.platforms.transport import host_url, page_is_public

PLATFORM = "toutiao"
LABEL = "Toutiao"
MP, WWW = "mp.toutiao.com", "www.toutiao.com"
EDITOR_PATH = "/profile_v4/graphic/publish"
TITLE_FIELD = ".editor-title textarea"
LOGIN_PAGE = re.compile(r"sso\.toutiao\.com|/login|passport", re.I)
PUBLISH_QUERY = "?source=mp&type=article&aid=1231"
IMAGE_QUERY = "?upload_source=20020002&aid=1231&device_platform=web"
NOT_LOGGED_IN = {4002, 4003, 10000}
TOO_FAST = {7003}
COOKIE_DOMAIN = ".toutiao.com"
_IMG = re.compile(r"<img\b([^>]*)>", re.I)


class ToutiaoCredentials(base.CookieCredentials):
    cookie_domain = COOKIE_DOMAIN


class ToutiaoPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="web login (cookies), in a browser",
        scheduled=True,
        review=True,
    )
    requires = base.Requirements(tags_max=0)  # the article form has no tags
    options_model = base.PlatformOptions
    credentials_model = ToutiaoCredentials
    login_page = base.LoginPage(host="sso.toutiao.com", path="/login/", session_cookie="sessionid")

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with browser_steps(
            PLATFORM, LABEL, account, task_id=None, cookie_domain=COOKIE_DOMAIN
        ) as steps:
            await _open_editor(steps, account)
            return await _media_info(steps, account)

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        """The article page of the checkpointed ``pgc_id``, as the public sees it."""
        pgc_id = ctx.checkpoints.get("pgc_id")
        if not pgc_id:
            return None
        url = host_url(task.account.options, WWW, f"/article/{pgc_id}/")
        public, _ = await page_is_public(task.account.options, url, PLATFORM)
        return base.PublishResult(url=url, post_id=str(pgc_id)) if public else None

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        if ctx.checkpoints.get("url"):  # published already; only the verify is left
            result = base.PublishResult(str(ctx.checkpoints["url"]), str(ctx.checkpoints["pgc_id"]))
            return await self.confirm_public(ctx, account, result)
        async with browser_steps(
            PLATFORM, LABEL, account, task_id=task.public_id, cookie_domain=COOKIE_DOMAIN
        ) as steps:
            await ctx.progress(5, "login")
            await _open_editor(steps, account)
            await _media_info(steps, account)

            await ctx.progress(15, "images")
            csrf: dict[str, str] = {}
            policy = ImagePolicy(
                is_hosted=_is_on_cdn,
                upload=lambda image: _upload_image(steps, account, image, csrf),
            )
            body, cover = await localize_images(
                ctx, task.body, task.cover, policy, task.attachments
            )
            content = _toutiao_html(markdown_to_html(body, tags=EDITOR_TAGS))

            await ctx.progress(35, "editor")
            await steps.click(TITLE_FIELD, what="the title field")
            await steps.page.fill(TITLE_FIELD, task.title)

            await ctx.progress(45, "draft")
            pgc_id = str(ctx.checkpoints.get("pgc_id") or "")
            article = (task.title, content, cover)
            saved = await _save(steps, account, pgc_id or "0", *article, publish=False)
            if not pgc_id:
                pgc_id = saved
                await ctx.checkpoint("pgc_id", pgc_id)

            await ctx.progress(65, "publish")  # the last point where a cancel still applies
            await ctx.checkpoint("publish_submitted", True)
            await _save(steps, account, pgc_id, *article, publish=True)
            url = host_url(account.options, WWW, f"/article/{pgc_id}/")
            await ctx.checkpoint("url", url)
            await hand_back_storage_state(account, steps, COOKIE_DOMAIN)

        result = base.PublishResult(url=url, post_id=pgc_id)
        return await self.confirm_public(ctx, account, result)


# -- steps ------------------------------------------------------------------------------------


async def _open_editor(steps: PageSteps, account: base.AccountAccess) -> None:
    await steps.open(
        host_url(account.options, MP, EDITOR_PATH),
        what="editor page",
        ready=TITLE_FIELD,
        ready_what="the title field",
        login_url=LOGIN_PAGE,
    )
    # The page's signing script must be in place before the first request.
    await steps.wait_for_script(
        "() => window.__acrawler_ready === true || !!window.byted_acrawler",
        what="the editor's signing script",
    )


def _answer_json(answer: PageAnswer) -> dict[str, Any]:
    try:
        body = json.loads(answer.text or "{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if answer.status >= 500:
            raise Transient(f"{LABEL} answered HTTP {answer.status}")
        raise Transient(f"{LABEL} answered something that is not JSON (HTTP {answer.status})")
    return body


def _check(answer: PageAnswer, what: str) -> dict[str, Any]:
    """The answer's body when it says success (``err_no``/``code`` 0); the error class else."""
    if answer.status >= 500:
        raise Transient(f"{LABEL} answered HTTP {answer.status} to {what}; will retry")
    body = _answer_json(answer)
    code = body.get("err_no", body.get("code"))
    if code == 0 and answer.status < 400:
        return body
    message = str(body.get("message") or body.get("msg") or f"HTTP {answer.status}")
    if code in NOT_LOGGED_IN or answer.status == 401:
        raise AuthExpired(f"{LABEL} login expired ({message}): log in to Toutiao again")
    if code in TOO_FAST or answer.status == 429:
        retry_after = answer.headers.get("retry-after")
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        raise RateLimited(f"{LABEL} says too many requests: {message}", seconds)
    if code == 10001:
        raise Transient(f"{LABEL} refused the page's signature on {what} ({message}); will retry")
    raise Rejected(f"{LABEL} refused {what}: {message}")


async def _media_info(steps: PageSteps, account: base.AccountAccess) -> base.Identity:
    url = host_url(account.options, MP, "/mp/agw/media/get_media_info")
    body = _check(await steps.fetch("GET", url), "the login check")
    user = (body.get("data") or {}).get("user") or {}
    if not user.get("id"):
        raise AuthExpired(f"{LABEL} login expired: log in to Toutiao again")
    return base.Identity(user_id=str(user["id"]), name=str(user.get("screen_name", "")))


def _is_on_cdn(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return any(host.endswith(h) for h in ("pstatp.com", "toutiao.com", "byteimg.com")) or (
        "toutiaoimg.com/" in url
    )


async def _upload_image(
    steps: PageSteps, account: base.AccountAccess, image: ImageFile, csrf: dict[str, str]
) -> str:
    if "token" not in csrf:
        answer = await steps.fetch(
            "POST",
            host_url(account.options, MP, "/ttwid/check/"),
            headers={"x-secsdk-csrf-request": "1"},
        )
        parts = answer.headers.get("x-ware-csrf-token", "").split(",")
        if len(parts) < 2 or not parts[1]:
            raise Transient(f"{LABEL} gave no upload token (HTTP {answer.status}); will retry")
        csrf["token"] = parts[1]
    answer = await steps.fetch(
        "POST",
        host_url(account.options, MP, f"/spice/image{IMAGE_QUERY}"),
        headers={"x-secsdk-csrf-token": csrf["token"]},
        file=("image", image.filename, image.content_type, image.data),
    )
    data = _check(answer, "an image upload").get("data") or {}
    if not data.get("image_url"):
        raise Transient(f"{LABEL} did not say where the uploaded image is; will retry")
    return str(data["image_url"])


def _toutiao_html(content: str) -> str:
    """Images the way Toutiao's editor embeds them (a ``pgc-img`` block)."""
    return _IMG.sub(
        lambda m: f'<div class="pgc-img"><img{m.group(1)}><p class="pgc-img-caption"></p></div>',
        content,
    )


async def _save(
    steps: PageSteps,
    account: base.AccountAccess,
    pgc_id: str,
    title: str,
    content: str,
    cover: str | None,
    *,
    publish: bool,
) -> str:
    """Save the article (a draft, or published); its ``pgc_id`` from Toutiao's answer."""
    form = {
        "pgc_id": pgc_id,
        "title": title,
        "content": content,
        "save": "1" if publish else "0",
        "source": "0",
        "article_ad_type": "3",
        "article_type": "0",
        "extra": json.dumps({"content_word_cnt": len(content)}),
        "pgc_feed_covers": json.dumps([{"id": 0, "url": cover}] if cover else []),
        "draft_form_data": json.dumps({"coverType": 1 if cover else 0}),
        "timer_status": "0",
    }
    what = "the publish" if publish else "the draft"
    answer = await steps.fetch(
        "POST", host_url(account.options, MP, f"/mp/agw/article/publish{PUBLISH_QUERY}"), form=form
    )
    saved = str((_check(answer, what).get("data") or {}).get("pgc_id") or "")
    if not saved:
        raise Transient(f"{LABEL} accepted {what} without naming the article; will retry")
    return saved
