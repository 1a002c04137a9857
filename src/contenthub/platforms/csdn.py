"""CSDN through its Markdown editor's API, with the account's browser cookies and the editor's
API-gateway signature.

Credentials: a browser session (``platforms.session``: ``UserName``, ``UserToken`` … on
``.csdn.net``). Options: ``base_url`` sends every CSDN host ``H`` to ``{base_url}/H`` (the
sandbox's ``/csdn``), ``timeout_seconds``.

Steps: login check → images (an OSS POST policy from ``imgservice``, then the multipart upload)
→ ``saveArticle`` as a draft (status 2, checkpointed) → ``saveArticle`` with the draft's id and
status 0 (checkpointed before and after; a rerun whose answer was lost reads the article
first; the same id also keeps a resubmit from making a second post) → verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Any
from urllib.parse import urlsplit

from contenthub.errors import Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import ImageFile, ImagePolicy, localize_images
from contenthub.platforms.render import markdown_to_html, normalize_tags, summary
from contenthub.platforms.session import CookieCredentials
from contenthub.platforms.transport import (
    CookieSession,
    host_url,
    json_body,
    new_client,
    send,
)

PLATFORM = "csdn"
ME, BIZAPI, IMGSERVICE, BLOG = (
    "me.csdn.net",
    "bizapi.csdn.net",
    "imgservice.csdn.net",
    "blog.csdn.net",
)
# The editor's gateway key pair, constants in CSDN's editor JS [R: as Wechatsync uses them].
APP_KEY, APP_SECRET = "203803574", "9znpamsyl2c7cdrr9sas0le9vbc3r6ba"
SAVE_ARTICLE = "/blog-console-api/v3/mdeditor/saveArticle"
GET_ARTICLE = "/blog-console-api/v3/editor/getArticle"
ARTICLE_LIST = "/blog/phoenix/console/v1/article/list"  # [I]
ARTICLE_DELETE = "/blog/phoenix/console/v1/article/del"  # [I]
PUBLISH, DRAFT = 0, 2
MIN_TITLE, MAX_TITLE, MAX_TAGS = 5, 100, 5
CDN_SUFFIX = "csdnimg.cn"


class CsdnCredentials(CookieCredentials):
    cookie_domain = ".csdn.net"


class CsdnPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="web login (cookies)",
        images=True,
        cover=True,
        tags=True,
        scheduled=True,
        review=True,
    )
    options_model = base.PlatformOptions
    credentials_model = CsdnCredentials
    login_page = base.LoginPage(host="passport.csdn.net", path="/login", session_cookie="UserToken")

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _Editor(account) as editor:
            return await editor.me()

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        draft_id = ctx.checkpoints.get("draft_id")
        if not draft_id:
            return None
        url = ctx.checkpoints.get("url")
        if not url:
            async with _Editor(task.account) as editor:
                await editor.me()
                url = await editor.published_url(str(draft_id))
        return base.PublishResult(url=str(url), post_id=str(draft_id)) if url else None

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        if not MIN_TITLE <= len(task.title) <= MAX_TITLE:
            raise Rejected(f"CSDN titles have {MIN_TITLE}–{MAX_TITLE} characters")
        async with _Editor(account) as editor:
            await ctx.progress(5, "login")
            await editor.me()

            await ctx.progress(15, "images")
            policy = ImagePolicy(is_hosted=_is_on_cdn, upload=editor.upload_image)
            body, cover = await localize_images(ctx, task.body, task.cover, policy)
            article = _article(task, body, cover)

            await ctx.progress(40, "draft")
            if not ctx.checkpoints.get("draft_id"):
                await editor.recover_lost_draft(ctx, task)
            if not ctx.checkpoints.get("draft_id"):
                await base.note_draft_request(ctx)
                saved = await editor.save({**article, "status": DRAFT})
                await ctx.checkpoint("draft_id", str(saved["id"]))
            article_id = str(ctx.checkpoints["draft_id"])

            await ctx.progress(60, "publish")
            url = await _ensure_published(ctx, editor, {**article, "id": article_id})

        result = base.PublishResult(url=url, post_id=article_id)
        return await self.confirm_public(ctx, account, result)


def _is_on_cdn(url: str) -> bool:
    return (urlsplit(url).hostname or "").endswith(CDN_SUFFIX) or f"/{CDN_SUFFIX}" in url


def _article(task: base.TaskContent, body: str, cover: str | None) -> dict[str, Any]:
    return {
        "title": task.title,
        "markdowncontent": body,
        "content": markdown_to_html(body),
        "readType": "public",
        "type": "original",
        "tags": ",".join(normalize_tags(task.tags, limit=MAX_TAGS)),
        "categories": "",
        "description": summary(body, max_chars=256),
        "source": "pc_mdeditor",
        "not_auto_saved": "1",
        "cover_type": 1 if cover else 0,
        "cover_images": [cover] if cover else [],
    }


async def _ensure_published(
    ctx: base.PublishContext, editor: _Editor, article: dict[str, Any]
) -> str:
    if ctx.checkpoints.get("url"):
        return str(ctx.checkpoints["url"])
    if ctx.checkpoints.get("publish_submitted"):
        url = await editor.published_url(str(article["id"]))
        if url:
            await ctx.checkpoint("url", url)
            return url
    await ctx.progress(65, "publish")  # the last point where a cancel still applies
    await ctx.checkpoint("publish_submitted", True)
    saved = await editor.save({**article, "status": PUBLISH})
    url = str(saved.get("url") or await editor.public_url(str(article["id"])))
    await ctx.checkpoint("url", url)
    return url


def gateway_signature(secret: str, method: str, content_type: str, headers: dict, path: str) -> str:
    """Aliyun API gateway: Base64 HMAC-SHA256 over method, Accept, a blank Content-MD5, the
    Content-Type, a blank Date, the signed x-ca-* headers and the path (with its query)."""
    signed = "".join(f"{name}:{headers[name]}\n" for name in ("x-ca-key", "x-ca-nonce"))
    to_sign = f"{method}\n*/*\n\n{content_type}\n\n{signed}{path}"
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _Editor(CookieSession):
    """One session with CSDN's editor API: cookies, gateway signatures, the JSON envelope."""

    platform_name = "CSDN"
    cookie_domain = CsdnCredentials.cookie_domain
    origin = "https://editor.csdn.net"

    def __init__(self, account: base.AccountAccess) -> None:
        super().__init__(account)
        self.username = ""

    async def call(self, method: str, host: str, path: str, **kwargs: Any) -> Any:
        """One call; ``{code, message, data}`` unwrapped to ``data``. bizapi calls are signed."""
        headers: dict[str, str] = kwargs.pop("headers", {})
        if host == BIZAPI:
            headers |= self._signed_headers(method, path, "json" in kwargs)
        url = host_url(self.options, host, path)
        response = await send(self.client, method, url, PLATFORM, headers=headers, **kwargs)
        if response.headers.get("x-ca-error-message"):
            # The gateway refused the signature: CSDN's editor keys have probably changed.
            raise Rejected(
                f"CSDN's gateway refused the request: {response.headers['x-ca-error-message']}"
            )
        if response.status_code == 403:
            raise Transient("CSDN's firewall refused the request (HTTP 403)")
        answer = json_body(response, PLATFORM)
        code = answer.get("code") if isinstance(answer, dict) else None
        if code == 401 or response.status_code == 401:
            raise self.login_expired()
        if code != 200 or response.status_code >= 400:
            message = answer.get("message") or answer.get("msg") if isinstance(answer, dict) else ""
            raise Rejected(f"CSDN refused the request (code {code}): {message}")
        return answer.get("data") or {}

    def _signed_headers(self, method: str, path: str, has_json: bool) -> dict[str, str]:
        content_type = "application/json" if has_json else ""
        headers = {"x-ca-key": APP_KEY, "x-ca-nonce": str(uuid.uuid4())}
        signature = gateway_signature(APP_SECRET, method, content_type, headers, path)
        return {
            **headers,
            "x-ca-signature-headers": "x-ca-key,x-ca-nonce",
            "x-ca-signature": signature,
            "Accept": "*/*",
        }

    async def me(self) -> base.Identity:
        user = await self.call("GET", ME, "/api/user/show")
        if not user.get("csdnid") and not user.get("username"):
            raise self.login_expired()
        self.username = str(user.get("username") or "")
        return base.Identity(user_id=str(user.get("csdnid") or self.username), name=self.username)

    async def save(self, article: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", BIZAPI, SAVE_ARTICLE, json=article)

    async def recover_lost_draft(self, ctx: base.PublishContext, task: base.TaskContent) -> None:
        """A draft an earlier attempt saved without learning its id, found by title and time
        in the article list, is taken over; doubles are deleted [I]."""

        async def listed() -> list[base.FoundDraft]:
            found = await self.call(
                "GET", BIZAPI, f"{ARTICLE_LIST}?status=draft&page=1&pageSize=20"
            )
            return [
                base.FoundDraft(str(a["articleId"]), str(a.get("title", "")), float(a["postTime"]))
                for a in found.get("list") or []
                if a.get("postTime")
            ]

        async def delete(article_id: str) -> None:
            await self.call("POST", BIZAPI, ARTICLE_DELETE, json={"articleId": article_id})

        await base.recover_lost_draft(
            ctx,
            task,
            listed=listed,
            delete=delete,
            describe=lambda i: f"CSDN draft https://editor.csdn.net/md?articleId={i}",
        )

    async def published_url(self, article_id: str) -> str | None:
        """The article's public URL if it went live already (an earlier answer was lost) [I]."""
        found = await self.call("GET", BIZAPI, f"{GET_ARTICLE}?id={article_id}")
        return await self.public_url(article_id) if found.get("status") == PUBLISH else None

    async def public_url(self, article_id: str) -> str:
        return host_url(self.options, BLOG, f"/{self.username}/article/details/{article_id}")

    async def upload_image(self, image: ImageFile) -> str:
        headers = {"x-image-app": "direct_blog", "x-image-suffix": image.extension}
        path = "/direct/v1.0/image/upload?type=blog&rtype=markdown"
        grant = await self.call("GET", IMGSERVICE, path, headers=headers)
        fields = {
            "key": grant["filePath"],
            "policy": grant["policy"],
            "OSSAccessKeyId": grant["accessId"],
            "signature": grant["signature"],
            "callback": grant["callbackUrl"],
            "success_action_status": "200",
        }
        files = {"file": (image.filename, image.data, image.content_type)}
        # The OSS host gets only the policy, never the CSDN cookies.
        async with new_client(self.options) as oss:
            response = await send(
                oss, "POST", str(grant["host"]), PLATFORM, data=fields, files=files
            )
        answer = json_body(response, PLATFORM)
        url = (answer.get("data") or {}).get("imageUrl") if isinstance(answer, dict) else None
        if response.status_code != 200 or not url:
            raise Transient(f"CSDN's image store refused the upload (HTTP {response.status_code})")
        return str(url)
