"""Zhihu (知乎 专栏) through its web-console API, with the account's browser cookies.

Credentials: ``{"cookies": {"z_c0", "_xsrf", "d_c0", …}}`` (a mapping or a cookie string).
Options: ``base_url`` sends every Zhihu host ``H`` to ``{base_url}/H`` (the sandbox's
``/zhihu`` prefix), ``timeout_seconds``.

Steps: login check → images (binary upload to Zhihu's OSS) → draft (created once,
checkpointed, then updated with the body, cover and topics) → publish (checkpointed before and
after; a rerun whose answer was lost asks for the article before publishing again) → verify.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import httpx

from contenthub.errors import AuthExpired, Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import ImageFile, ImagePolicy, localize_images
from contenthub.platforms.render import markdown_to_zhihu_html, normalize_tags, plain_text
from contenthub.platforms.transport import (
    cookie_header,
    host_url,
    json_body,
    new_client,
    parse_cookies,
    send,
)

PLATFORM = "zhihu"
WWW, ZHUANLAN, API = "www.zhihu.com", "zhuanlan.zhihu.com", "api.zhihu.com"
OSS_HOST, CDN_HOST, BUCKET = "zhihu-pics-upload.zhimg.com", "pic4.zhimg.com", "zhihu-pics"
ANTI_BOT_CODES = {10001, 10002, 10003}
MAX_TOPICS = 3


class ZhihuPublisher(base.Publisher):
    platform = PLATFORM
    options_model = base.PlatformOptions
    credentials_model = base.CookieCredentials
    login_page = base.LoginPage(host=WWW, path="/signin", session_cookie="z_c0")

    # -- the interface ----------------------------------------------------------------------

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _session(account) as client:
            return await _me(client, account)

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        async with _session(account) as client:
            await ctx.progress(5, "login")
            await _me(client, account)

            await ctx.progress(15, "images")
            policy = ImagePolicy(
                is_hosted=lambda url: _is_on_cdn(account, url),
                upload=lambda image: _upload_image(client, account, image),
            )
            body, cover = await localize_images(ctx, task.body, task.cover, policy)
            content = markdown_to_zhihu_html(body)

            await ctx.progress(40, "draft")
            draft_id = await _ensure_draft(ctx, client, account, task.title)
            await _fill_draft(client, account, draft_id, task.title, content, cover)
            if not ctx.checkpoints.get("topics_added"):
                for topic in normalize_tags(task.tags, limit=MAX_TOPICS):
                    await _call(
                        client,
                        "POST",
                        account,
                        ZHUANLAN,
                        f"/api/articles/{draft_id}/topics",
                        json={"name": topic},
                    )
                await ctx.checkpoint("topics_added", True)

            await ctx.progress(60, "publish")
            post_id, url = await _ensure_published(
                ctx, client, account, draft_id, task.title, content
            )

        result = base.PublishResult(url=url, post_id=post_id)
        return await self.confirm_public(ctx, account, result)


# -- steps ------------------------------------------------------------------------------------


def _session(account: base.AccountAccess) -> httpx.AsyncClient:
    cookies = account.credentials.get("cookies") or {}
    xsrf = parse_cookies(cookies).get("_xsrf", "")
    headers = {
        "Cookie": cookie_header(cookies),
        "x-requested-with": "fetch",
        "x-xsrftoken": xsrf,
        "Origin": "https://zhuanlan.zhihu.com",
        "Referer": "https://zhuanlan.zhihu.com/write",
    }
    return new_client(account.options, headers=headers)


async def _call(
    client: httpx.AsyncClient,
    method: str,
    account: base.AccountAccess,
    host: str,
    path: str,
    **kwargs: Any,
) -> httpx.Response:
    response = await send(client, method, host_url(account.options, host, path), PLATFORM, **kwargs)
    if response.status_code == 401:
        raise AuthExpired("Zhihu login expired: log in to Zhihu again")
    if response.status_code == 403:
        error = (json_body(response, PLATFORM) or {}).get("error") or {}
        if error.get("code") in ANTI_BOT_CODES:
            # The session no longer passes Zhihu's checks: only a fresh browser login helps.
            raise AuthExpired(f"Zhihu refused the session (code {error.get('code')}): log in again")
        raise Rejected(f"Zhihu refused the request: {error.get('message') or 'HTTP 403'}")
    if response.status_code >= 400:
        error = (json_body(response, PLATFORM) or {}).get("error") or {}
        raise Rejected(f"Zhihu answered HTTP {response.status_code}: {error.get('message', '')}")
    return response


async def _me(client: httpx.AsyncClient, account: base.AccountAccess) -> base.Identity:
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


async def _upload_image(
    client: httpx.AsyncClient, account: base.AccountAccess, image: ImageFile
) -> str:
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
        key = await _existing_image_key(client, account, str(upload["image_id"]))
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
        async with new_client(account.options) as oss:
            response = await send(oss, "PUT", url, PLATFORM, content=image.data, headers=headers)
        if response.status_code != 200:
            raise Transient(f"Zhihu's image store refused the upload (HTTP {response.status_code})")
    suffix = ".gif" if image.extension == "gif" else ""
    return host_url(account.options, CDN_HOST, f"/{key}{suffix}")


async def _existing_image_key(
    client: httpx.AsyncClient, account: base.AccountAccess, image_id: str
) -> str:
    for _ in range(20):
        state = json_body(await _call(client, "GET", account, API, f"/images/{image_id}"), PLATFORM)
        if state.get("original_hash"):
            return str(state["original_hash"])
        await asyncio.sleep(0.5)  # Zhihu is still processing an image it already has
    raise Transient("Zhihu did not finish processing an image in time")


async def _ensure_draft(
    ctx: base.PublishContext, client: httpx.AsyncClient, account: base.AccountAccess, title: str
) -> str:
    if ctx.checkpoints.get("draft_id"):
        return str(ctx.checkpoints["draft_id"])
    payload = {"title": title, "content": "", "delta_time": 0}
    draft = json_body(
        await _call(client, "POST", account, ZHUANLAN, "/api/articles/drafts", json=payload),
        PLATFORM,
    )
    draft_id = str(draft["id"])
    await ctx.checkpoint("draft_id", draft_id)
    return draft_id


async def _fill_draft(
    client: httpx.AsyncClient,
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


async def _published_article(
    client: httpx.AsyncClient, account: base.AccountAccess, draft_id: str
) -> str | None:
    """The article's URL if the draft went live already (an earlier answer was lost) [I]."""
    article = json_body(
        await _call(client, "GET", account, ZHUANLAN, f"/api/articles/{draft_id}"), PLATFORM
    )
    return (
        str(article["url"]) if article.get("state") == "published" and article.get("url") else None
    )


async def _ensure_published(
    ctx: base.PublishContext,
    client: httpx.AsyncClient,
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
    if answer.get("code") not in (0, None):
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
