"""WeChat Official Account (公众号) through the official API, with the AppID and AppSecret.

Credentials: ``{"appid": …, "secret": …}``. Options: ``base_url`` (replaces
``https://api.weixin.qq.com``; the sandbox's ``/wechat``), ``publish_poll_seconds`` (first wait
between ``freepublish/get`` polls, doubling up to 10 s), ``publish_wait_seconds`` (how long one
attempt polls before it hands back a Transient; the rerun polls on), ``timeout_seconds``.

Access tokens come from ``stable_token`` and are cached per account in this process, refreshed
5 minutes before they expire, and fetched again when WeChat calls one expired or invalid.

Steps: token → images (body images through ``media/uploadimg``; the cover, or else the first
body image, as permanent material for ``thumb_media_id``) → ``draft/add`` (checkpointed) →
``freepublish/submit`` (checkpointed before and after; a rerun whose answer was lost looks for
the article among the published ones first) → poll ``freepublish/get`` to a final status →
verify the ``article_url``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from contenthub.errors import AuthExpired, RateLimited, Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import (
    ImageFile,
    ImagePolicy,
    fetch_checked,
    image_urls,
    localize_images,
    upload_once,
)
from contenthub.platforms.render import markdown_to_wechat_html, summary
from contenthub.platforms.transport import json_body, new_client, origin_url, send

PLATFORM = "wechat"
ORIGIN = "https://api.weixin.qq.com"
REFRESH_EARLY_SECONDS = 300
TOKEN_REFUSED = {40001, 40014, 42001}  # invalid, malformed or expired access token
BAD_APP_CREDENTIALS = {40001, 40013, 40125}  # from the token endpoint: wrong AppID or secret
IP_NOT_WHITELISTED = 40164
INVALID_MEDIA_ID = 40007
DAILY_QUOTA, FREQUENCY_LIMIT = 45009, 45011
FREQUENCY_RETRY_SECONDS = 60.0  # WeChat gives no hint; its limits are per minute [I]
MAX_TITLE_CHARS, MAX_DIGEST_CHARS = 32, 120
MAX_CONTENT_CHARS = 20_000  # of HTML, and under 1 MB (draft/add)
BODY_IMAGE_BYTES, MATERIAL_IMAGE_BYTES = 1024 * 1024, 10 * 1024 * 1024
BODY_IMAGE_TYPES = frozenset({"image/png", "image/jpeg"})
CDN_HOSTS = ("mmbiz.qpic.cn", "mmbiz.qlogo.cn")
PUBLISHING = 1
FAILED_STATUS = {
    2: "the originality check failed",
    3: "publishing failed",
    4: "the platform's review rejected it",
    5: "the user deleted it",
    6: "the system banned it",
}
BEIJING = timezone(timedelta(hours=8))


# -- access tokens, shared by every publish of an account in this process ----------------------


@dataclass(frozen=True)
class _CachedToken:
    value: str
    expires_at: float


class AccessTokens:
    """WeChat access tokens by account, each given out until 5 minutes before it expires."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[str, _CachedToken] = {}

    def get(self, key: str) -> str | None:
        token = self._tokens.get(key)
        if token is None or token.expires_at - REFRESH_EARLY_SECONDS <= self._clock():
            return None
        return token.value

    def put(self, key: str, value: str, expires_in: float) -> None:
        self._tokens[key] = _CachedToken(value, self._clock() + expires_in)

    def drop(self, key: str, value: str) -> None:
        """Forget ``value``, unless another publish has replaced it already."""
        token = self._tokens.get(key)
        if token is not None and token.value == value:
            del self._tokens[key]


# stable_token hands every caller the same token until it expires, so concurrent publishes
# that miss the cache together get one token, not a race of refreshes: no lock is needed.
ACCESS_TOKENS = AccessTokens()


class WeChatOptions(base.PlatformOptions):
    author: str | None = Field(default=None, max_length=64)
    publish_poll_seconds: float | None = Field(default=None, gt=0, le=60)
    publish_wait_seconds: float | None = Field(default=None, gt=0, le=3600)


class WeChatCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appid: str = Field(min_length=1, max_length=64, description="The official account's AppID.")
    secret: base.Secret = Field(description="The official account's AppSecret.")


class WeChatPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="AppID + AppSecret",
        scheduled=False,
        review=True,
        note="a cover is required",
    )
    options_model = WeChatOptions
    credentials_model = WeChatCredentials
    requires = base.Requirements(
        edits_posts=True,  # by replacing: publish the new article, delete the old (_retire)
        tags_max=0,  # the official account API has no tags
        title_max=MAX_TITLE_CHARS,
        cover_required=True,
        cover_from_first_image=True,
        image_types=BODY_IMAGE_TYPES,
        image_max_bytes=BODY_IMAGE_BYTES,
        cover_max_bytes=MATERIAL_IMAGE_BYTES,
        body_html_max_chars=MAX_CONTENT_CHARS,
    )

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _Api(account) as api:
            await api.fetch_token()  # always asks WeChat: proves the AppID and secret today
        return base.Identity(user_id=api.appid, name=account.name)

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        checkpoints = ctx.checkpoints
        if checkpoints.get("url"):
            return base.PublishResult(str(checkpoints["url"]), str(checkpoints["post_id"]))
        draft_id, publish_id = checkpoints.get("draft_id"), checkpoints.get("publish_id")
        if not draft_id or not (publish_id or base.may_have_published(checkpoints)):
            return None
        async with _Api(task.account) as api:
            if publish_id:
                found = await _final_status(api, str(publish_id))
            else:
                found = await _find_lost_publish(api, str(draft_id), task.title, ctx)
        return base.PublishResult(url=found[0], post_id=found[1]) if found else None

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        if len(task.title) > MAX_TITLE_CHARS:
            raise Rejected(f"WeChat titles are at most {MAX_TITLE_CHARS} characters")
        async with _Api(account) as api:
            await ctx.progress(5, "login")
            await api.token()

            await ctx.progress(15, "images")
            body, thumb_media_id = await _localize_images(ctx, api, task)

            await ctx.progress(40, "draft")
            draft_id = await _ensure_draft(ctx, api, task, body, thumb_media_id)

            await ctx.progress(60, "publish")
            url, article_id = await _ensure_published(ctx, api, draft_id, task.title)
            if task.update_of and task.update_of.post_id != article_id:
                await _retire(ctx, api, task.update_of)

        result = base.PublishResult(url=url, post_id=article_id, updated=bool(task.update_of))
        return await self.confirm_public(ctx, account, result)


async def _retire(ctx: base.PublishContext, api: _Api, prior: base.PriorPost) -> None:
    """An update on WeChat: its API cannot edit a published article, so the new one replaces
    it — published first, then the earlier one deleted (``freepublish/delete``). A delete
    WeChat refuses leaves the earlier article listed on the task, never the update failed."""
    if ctx.checkpoints.get("retired"):
        return
    try:
        await api.call(
            "/cgi-bin/freepublish/delete", json={"article_id": prior.post_id, "index": 0}
        )
    except Rejected as error:
        note = f"the earlier WeChat article {prior.url or prior.post_id} could not be deleted"
        await base.note_leftovers(ctx, [f"{note}: {error}"])
    await ctx.checkpoint("retired", True)


async def _localize_images(
    ctx: base.PublishContext, api: _Api, task: base.TaskContent
) -> tuple[str, str]:
    """The body on WeChat's image URLs, and the cover's permanent material id."""
    cover = task.cover or next(iter(image_urls(task.body)), None)
    if not cover:
        raise Rejected("WeChat needs a cover image: give the article a cover or an image")
    if not ctx.checkpoints.get("thumb_media_id"):  # the cover is checked before any upload
        await fetch_checked([cover], max_bytes=MATERIAL_IMAGE_BYTES, attachments=task.attachments)
    body_policy = ImagePolicy(
        is_hosted=api.is_hosted,
        upload=api.upload_body_image,
        max_bytes=BODY_IMAGE_BYTES,
        allowed_types=BODY_IMAGE_TYPES,
    )
    body, _ = await localize_images(ctx, task.body, None, body_policy, task.attachments)
    cover_policy = ImagePolicy(
        is_hosted=lambda _: False,  # material is needed even for an image WeChat hosts
        upload=api.add_image_material,
        max_bytes=MATERIAL_IMAGE_BYTES,
    )
    return body, await upload_once(ctx, "thumb_media_id", cover, cover_policy, task.attachments)


async def _ensure_draft(
    ctx: base.PublishContext, api: _Api, task: base.TaskContent, body: str, thumb_media_id: str
) -> str:
    if ctx.checkpoints.get("draft_id"):
        return str(ctx.checkpoints["draft_id"])

    async def listed() -> list[base.FoundDraft]:
        box = await api.call(
            "/cgi-bin/draft/batchget", json={"offset": 0, "count": 20, "no_content": 1}
        )
        return [
            base.FoundDraft(
                str(item["media_id"]),
                str(news.get("title", "")),
                float(item["update_time"]) if item.get("update_time") else None,
                body=str(news.get("thumb_media_id", "")),
            )
            for item in box.get("item") or []
            for news in ((item.get("content") or {}).get("news_item") or [])[:1]
        ]

    async def delete(media_id: str) -> None:
        await api.call("/cgi-bin/draft/delete", json={"media_id": media_id})

    # The cover's material, uploaded by this task alone, marks its drafts.
    found = await base.recover_lost_draft(
        ctx,
        task,
        listed=listed,
        delete=delete,
        describe=lambda i: f"WeChat draft {i} (in the official account's draft box)",
        marker=thumb_media_id,
    )
    if found:
        return found
    await base.note_draft_request(ctx)
    article = {
        "article_type": "news",
        "title": task.title,
        "author": str(task.options.get("author") or ""),
        "digest": summary(body, max_chars=MAX_DIGEST_CHARS),
        "content": markdown_to_wechat_html(body),
        "content_source_url": "",
        "thumb_media_id": thumb_media_id,
        "need_open_comment": 0,
        "only_fans_can_comment": 0,
    }
    created = await api.call("/cgi-bin/draft/add", json={"articles": [article]})
    await ctx.checkpoint("draft_id", str(created["media_id"]))
    return str(created["media_id"])


async def _ensure_published(
    ctx: base.PublishContext, api: _Api, draft_id: str, title: str
) -> tuple[str, str]:
    if ctx.checkpoints.get("url"):
        return str(ctx.checkpoints["url"]), str(ctx.checkpoints["post_id"])
    if not ctx.checkpoints.get("publish_id"):
        if ctx.checkpoints.get("publish_submitted"):
            found = await _find_lost_publish(api, draft_id, title, ctx)
            if found:
                return await _record_published(ctx, *found)
        await ctx.progress(65, "publish")  # the last point where a cancel still applies
        await ctx.checkpoint("publish_submitted", True)
        submitted = await api.call("/cgi-bin/freepublish/submit", json={"media_id": draft_id})
        await ctx.checkpoint("publish_id", str(submitted["publish_id"]))
    url, article_id = await _wait_for_final_status(api, str(ctx.checkpoints["publish_id"]))
    return await _record_published(ctx, url, article_id)


async def _record_published(ctx: base.PublishContext, url: str, article_id: str) -> tuple[str, str]:
    await ctx.checkpoint("post_id", article_id)
    await ctx.checkpoint("url", url)
    return url, article_id


async def _find_lost_publish(
    api: _Api, draft_id: str, title: str, ctx: base.PublishContext
) -> tuple[str, str] | None:
    """A submit whose answer was lost: the article if it is published, None if the draft is
    still waiting to be submitted; Transient while WeChat is still working on it."""
    thumb = str(ctx.checkpoints.get("thumb_media_id", ""))
    listed = await api.call(
        "/cgi-bin/freepublish/batchget", json={"offset": 0, "count": 20, "no_content": 1}
    )
    for item in listed.get("item") or []:
        for news in (item.get("content") or {}).get("news_item") or []:
            if news.get("title") == title and news.get("thumb_media_id") == thumb:
                return str(news["url"]), str(item["article_id"])
    if await api.draft_exists(draft_id):
        return None
    # The draft left the draft box but is not published yet: submitting again could post
    # twice, so look again later [I: the draft leaves the box once it is submitted].
    raise Transient("WeChat is still publishing an earlier submit of this article")


async def _final_status(api: _Api, publish_id: str) -> tuple[str, str] | None:
    """How a submitted publish ended: the article, or None if WeChat did not publish it."""
    ended = await _poll_publish(api, publish_id)
    return ended if isinstance(ended, tuple) else None


async def _wait_for_final_status(api: _Api, publish_id: str) -> tuple[str, str]:
    ended = await _poll_publish(api, publish_id)
    if isinstance(ended, tuple):
        return ended
    reason = FAILED_STATUS.get(ended, "unknown status")
    raise Rejected(f"WeChat did not publish the article: {reason} (publish_status {ended})")


async def _poll_publish(api: _Api, publish_id: str) -> tuple[str, str] | int:
    """Poll ``freepublish/get`` to a final status: the article's URL and id, or the failed
    status; Transient when WeChat is still publishing after ``publish_wait_seconds``."""
    interval = float(api.options.get("publish_poll_seconds") or 2.0)
    deadline = time.monotonic() + float(api.options.get("publish_wait_seconds") or 300)
    while True:
        job = await api.call("/cgi-bin/freepublish/get", json={"publish_id": publish_id})
        status = int(job.get("publish_status", PUBLISHING))
        if status == 0:
            items = (job.get("article_detail") or {}).get("item") or []
            if not items or not items[0].get("article_url"):
                raise Transient("WeChat reported the article published without its URL")
            return str(items[0]["article_url"]), str(job.get("article_id", ""))
        if status != PUBLISHING:
            return status
        if time.monotonic() + interval > deadline:
            raise Transient("WeChat is still publishing the article; a retry looks again")
        await asyncio.sleep(interval)  # WeChat publishes in the background; it can only be polled
        interval = min(interval * 2, 10.0)


class _Api:
    """One session with the official API: the account's token, errcodes mapped to error classes."""

    def __init__(self, account: base.AccountAccess) -> None:
        self.appid = str(account.credentials.get("appid") or "")
        self._secret = str(account.credentials.get("secret") or "")
        if not self.appid or not self._secret:
            raise AuthExpired("the WeChat account needs its AppID and AppSecret")
        self.options = account.options
        root = origin_url(account.options, ORIGIN, "")
        self._cache_key = hashlib.sha256(
            f"{root}\n{self.appid}\n{self._secret}".encode()
        ).hexdigest()
        self.client = new_client(account.options)

    async def __aenter__(self) -> _Api:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()

    def url(self, path: str) -> str:
        return origin_url(self.options, ORIGIN, path)

    def is_hosted(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return host in CDN_HOSTS or url.startswith(tuple(self.url(f"/{h}/") for h in CDN_HOSTS))

    async def token(self) -> str:
        return ACCESS_TOKENS.get(self._cache_key) or await self.fetch_token()

    async def fetch_token(self) -> str:
        payload = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self._secret,
            "force_refresh": False,
        }
        response = await send(
            self.client, "POST", self.url("/cgi-bin/stable_token"), PLATFORM, json=payload
        )
        answer = json_body(response, PLATFORM)
        if not isinstance(answer, dict):
            raise Transient("WeChat answered with a body that is not a JSON object")
        code = _errcode(answer)
        if code in BAD_APP_CREDENTIALS:
            raise AuthExpired(f"WeChat refused the AppID or AppSecret ({code}): check them")
        _raise_for_errcode(answer)
        ACCESS_TOKENS.put(self._cache_key, str(answer["access_token"]), float(answer["expires_in"]))
        return str(answer["access_token"])

    async def call(
        self,
        path: str,
        *,
        query: dict[str, str] | None = None,
        allow: frozenset[int] = frozenset(),
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One API call with the cached token; a token WeChat calls expired or invalid is
        fetched again once (it may have expired mid-run, or been replaced elsewhere). Errcodes
        in ``allow`` come back as answers instead of errors."""
        token = await self.token()
        answer = await self._post(path, token, query, **kwargs)
        if _errcode(answer) in TOKEN_REFUSED:
            ACCESS_TOKENS.drop(self._cache_key, token)
            answer = await self._post(path, await self.fetch_token(), query, **kwargs)
            if _errcode(answer) in TOKEN_REFUSED:
                raise AuthExpired("WeChat refused a fresh access token: check the account")
        if _errcode(answer) not in allow:
            _raise_for_errcode(answer)
        return answer

    async def _post(
        self, path: str, token: str, query: dict[str, str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        params = {"access_token": token, **(query or {})}
        response = await send(
            self.client, "POST", self.url(path), PLATFORM, params=params, **kwargs
        )
        answer = json_body(response, PLATFORM)
        if not isinstance(answer, dict):
            raise Transient("WeChat answered with a body that is not a JSON object")
        return answer

    async def draft_exists(self, draft_id: str) -> bool:
        answer = await self.call(
            "/cgi-bin/draft/get", json={"media_id": draft_id}, allow=frozenset({INVALID_MEDIA_ID})
        )
        return _errcode(answer) != INVALID_MEDIA_ID

    async def upload_body_image(self, image: ImageFile) -> str:
        files = {"media": (image.filename, image.data, image.content_type)}
        return str((await self.call("/cgi-bin/media/uploadimg", files=files))["url"])

    async def add_image_material(self, image: ImageFile) -> str:
        files = {"media": (image.filename, image.data, image.content_type)}
        added = await self.call(
            "/cgi-bin/material/add_material", query={"type": "image"}, files=files
        )
        return str(added["media_id"])


def _errcode(answer: dict[str, Any]) -> int:
    return int(answer.get("errcode") or 0)


def _raise_for_errcode(answer: dict[str, Any]) -> None:
    code = _errcode(answer)
    message = str(answer.get("errmsg") or "")
    if code == 0:
        return
    if code == -1:
        raise Transient("WeChat is busy (errcode -1)")
    if code == IP_NOT_WHITELISTED:
        raise AuthExpired("WeChat refused this server's IP address: add it to the IP whitelist")
    if code == DAILY_QUOTA:
        raise RateLimited("WeChat's daily quota for this call is used up", _seconds_to_midnight())
    if code == FREQUENCY_LIMIT:
        raise RateLimited("WeChat's call frequency limit was reached", FREQUENCY_RETRY_SECONDS)
    if code == 48001:
        raise Rejected("WeChat does not allow this account to use the API (48001)")
    raise Rejected(f"WeChat refused the request ({code}): {message}")


def _seconds_to_midnight() -> float:
    """Daily quotas reset at midnight in Beijing [I]."""
    now = datetime.now(BEIJING)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds() + 60
