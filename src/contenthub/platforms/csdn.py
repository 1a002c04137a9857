"""CSDN through its Markdown editor's API, with the account's browser cookies and the editor's
API-gateway signature.

Credentials: a browser session (``platforms.session``: ``UserName``, ``UserToken`` … on
``.csdn.net``). Options: ``base_url`` sends every CSDN host ``H`` to ``{base_url}/H`` (the
sandbox's ``/csdn``), ``timeout_seconds``. Configuration (environment, not per account, since
every account signs alike): ``CONTENTHUB_CSDN_EDITOR_SIGNING`` and
``CONTENTHUB_CSDN_IMAGE_SIGNING``, each ``key:secret``, replace the gateway key pairs below when
CSDN rotates them (it has, within a day); a refused signature names the setting to change.

Steps: login check → risk check → images (a signed upload ticket, then the multipart form to
Huawei OBS) → ``saveArticle`` as a draft (checkpointed) → ``saveArticle`` with the draft's id
and ``pubStatus: "publish"`` (checkpointed before and after; a rerun whose answer was lost
looks the article up in the published list first; the same id keeps a resubmit from making a
second post) → verify.

Where each endpoint's protocol comes from (re-check here when CSDN changes):

* Login check — signed ``GET bizapi.csdn.net/blog-console-api/v3/editor/getBaseInfo``, answer
  ``{code: 200, data: {name, nickname, avatar}}``: Wechatsync,
  ``packages/core/src/adapters/platforms/csdn.ts`` (``checkAuth``).
* The gateway signature (Aliyun API gateway: HMAC-SHA256 over method, Accept, blank
  Content-MD5, Content-Type, blank Date, the signed ``x-ca-*`` headers and the path with its
  sorted query): PenBridge ``packages/server/src/services/csdnApi.ts`` (``generateSignature``),
  and Wechatsync's ``csdn.ts`` (``buildStringToSign``); both sign editor calls with the key pair
  ``203803574`` over ``x-ca-key,x-ca-nonce``.
* Risk check — ``POST passport.csdn.net/v1/api/user/risk/check`` ``{username, biz: "blog",
  subBiz: "article"}``; code ``"1239"`` (with ``code_error``) means CSDN wants a WeChat QR scan
  before it takes a publish: PenBridge ``csdnApi.ts`` (``CsdnRiskChecker``). Surfaced as an
  expired login (the account becomes ``needs_login``) whose reason says so.
* Image ticket — signed ``POST bizapi.csdn.net/resource-api/v1/image/direct/upload/signature``
  ``{imageTemplate: "", appName: "direct_blog_markdown", imageSuffix}`` → ``{host, filePath,
  accessId, policy, signature, callbackUrl, callbackBody, callbackBodyType, customParam}``;
  then a multipart POST to ``host`` (Huawei OBS) with ``key``, ``policy``, ``signature``,
  ``callbackBody``, ``callbackBodyType``, ``callbackUrl``, ``AccessKeyId``, the ``x:*`` fields
  of ``customParam`` and the file, answered ``{code: 200, data: {imageUrl}}``: PenBridge
  ``csdnApi.ts`` (``getUploadSignature``, ``uploadToObs``) and Wechatsync ``csdn.ts``
  (``uploadImageByUrl``) agree on both requests. They disagree on the ticket's signature:
  Wechatsync signs it like every editor call; PenBridge with the upload library's own pair
  (``260196572``, over ``x-ca-key,x-ca-nonce,x-ca-timestamp``, the timestamp in whole seconds
  as milliseconds), whose secret it changed between two commits a day apart, the later one
  citing ``g.csdnimg.cn/csdn-upload/1.0.9/csdn-upload.js``. We follow PenBridge's later commit
  (it names the file the pair is read from, and it is the newer observation) and make the pair
  configuration, so the next change is a setting, not a release.
* Save and publish — signed ``POST bizapi.csdn.net/blog-console-api/v3/mdeditor/saveArticle``
  with the editor's fields (``title``, ``markdowncontent``, ``content``, ``readType``,
  ``level``, ``tags``, ``status`` 2/0, ``pubStatus`` "draft"/"publish", ``categories``,
  ``type``, ``original_link``, ``authorized_status``, ``Description``, ``not_auto_saved``,
  ``source``, ``cover_images``, ``cover_type``, ``is_new``, ``vote_id``, ``resource_id``,
  ``creator_activity_id``, ``id`` on an update); answer ``{code: 200, msg, data: {url, id,
  title, qrcode}}``: PenBridge ``csdnApi.ts`` (``saveArticle``) and Wechatsync ``csdn.ts``
  (which only saves drafts) agree.
* Published or not — the ``url`` of the publish answer; after a lost answer, signed ``GET
  bizapi.csdn.net/blog/phoenix/console/v1/article/list?status=all_v2`` (published articles)
  holding the article: PenBridge ``csdnApi.ts`` (``fetchUserArticles``: ``all_v2`` published,
  ``draft``, ``audit`` in review). ``getArticle``'s ``status`` is not trusted for this (the
  issue found it 0 for drafts the editor had only auto-saved).
* Drafts lost with their answer — the same list with ``status=draft`` and ``…/article/del``
  [inferred from PenBridge's list; the delete is a guess, §20].
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from contenthub.errors import AuthExpired, Rejected, Transient
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
BIZAPI, PASSPORT, BLOG = "bizapi.csdn.net", "passport.csdn.net", "blog.csdn.net"
# The gateway key pairs, constants in CSDN's editor JS (see the docstring for the sources).
APP_KEY, APP_SECRET = "203803574", "9znpamsyl2c7cdrr9sas0le9vbc3r6ba"
IMAGE_APP_KEY, IMAGE_APP_SECRET = "260196572", "t5PaqxVQpWoHgLGt7XPIvd5ipJcwJTU7"
EDITOR_SIGNING, IMAGE_SIGNING = "CONTENTHUB_CSDN_EDITOR_SIGNING", "CONTENTHUB_CSDN_IMAGE_SIGNING"
EDITOR_HEADERS = ("x-ca-key", "x-ca-nonce")
IMAGE_HEADERS = ("x-ca-key", "x-ca-nonce", "x-ca-timestamp")
ACCEPT = "application/json, text/plain, */*"
JSON_TYPE = "application/json;charset=UTF-8"
BASE_INFO = "/blog-console-api/v3/editor/getBaseInfo"
SAVE_ARTICLE = "/blog-console-api/v3/mdeditor/saveArticle"
IMAGE_TICKET = "/resource-api/v1/image/direct/upload/signature"
RISK_CHECK = "/v1/api/user/risk/check"
ARTICLE_LIST = "/blog/phoenix/console/v1/article/list"
ARTICLE_DELETE = "/blog/phoenix/console/v1/article/del"  # [I]
RISK_NEEDS_WECHAT = "1239"
IMAGE_APP = "direct_blog_markdown"
PUBLISH, DRAFT = 0, 2
MIN_TITLE, MAX_TITLE, MAX_TAGS = 5, 100, 5
CDN_SUFFIX = "csdnimg.cn"


class CsdnCredentials(CookieCredentials):
    cookie_domain = ".csdn.net"


@dataclass(frozen=True)
class KeyPair:
    """One gateway key pair, the headers it signs, and the setting that replaces it."""

    key: str
    secret: str = field(repr=False)
    setting: str
    signed_headers: tuple[str, ...]


def signing_pair(
    setting: str, default_key: str, default_secret: str, signed_headers: tuple[str, ...]
) -> KeyPair:
    """The key pair from ``setting`` (``key:secret``) when set, else the current default."""
    raw = os.environ.get(setting, "").strip()
    key, secret = default_key, default_secret
    if raw:
        key, _, secret = (part.strip() for part in raw.partition(":"))
        if not key or not secret:
            raise Rejected(f"{setting} must be key:secret (CSDN's gateway key pair)")
    return KeyPair(key, secret, setting, signed_headers)


def editor_pair() -> KeyPair:
    return signing_pair(EDITOR_SIGNING, APP_KEY, APP_SECRET, EDITOR_HEADERS)


def image_pair() -> KeyPair:
    return signing_pair(IMAGE_SIGNING, IMAGE_APP_KEY, IMAGE_APP_SECRET, IMAGE_HEADERS)


class CsdnPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="web login (cookies)",
        scheduled=True,
        review=True,
    )
    options_model = base.PlatformOptions
    credentials_model = CsdnCredentials
    login_page = base.LoginPage(host="passport.csdn.net", path="/login", session_cookie="UserToken")
    requires = base.Requirements(
        title_min=MIN_TITLE, title_max=MAX_TITLE, tags_max=MAX_TAGS, edits_posts=True
    )

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
            await editor.risk_check()

            await ctx.progress(15, "images")
            policy = ImagePolicy(is_hosted=_is_on_cdn, upload=editor.upload_image)
            body, cover = await localize_images(
                ctx, task.body, task.cover, policy, task.attachments
            )
            article = _article(task, body, cover)
            if task.update_of:
                # saveArticle with the article's id edits it in place; sent again by a retry.
                await ctx.progress(60, "update")
                article_id = task.update_of.post_id
                await ctx.checkpoint("draft_id", article_id)  # the final check looks here
                await ctx.checkpoint(base.PUBLISH_SUBMITTED, True)
                saved = await editor.save(_saving(article, article_id, publish=True))
                url = str(saved.get("url") or await editor.public_url(article_id))
                await ctx.checkpoint("url", url)
                result = base.PublishResult(url=url, post_id=article_id, updated=True)
                return await self.confirm_public(ctx, account, result)

            await ctx.progress(40, "draft")
            if not ctx.checkpoints.get("draft_id"):
                await editor.recover_lost_draft(ctx, task)
            if not ctx.checkpoints.get("draft_id"):
                await base.note_draft_request(ctx)
                saved = await editor.save(_saving(article, None, publish=False))
                await ctx.checkpoint("draft_id", str(saved["id"]))
            article_id = str(ctx.checkpoints["draft_id"])

            await ctx.progress(60, "publish")
            url = await _ensure_published(ctx, editor, article, article_id)

        result = base.PublishResult(url=url, post_id=article_id)
        return await self.confirm_public(ctx, account, result)


def _is_on_cdn(url: str) -> bool:
    return (urlsplit(url).hostname or "").endswith(CDN_SUFFIX) or f"/{CDN_SUFFIX}" in url


def _article(task: base.TaskContent, body: str, cover: str | None) -> dict[str, Any]:
    """The editor's fields for this article (PenBridge ``saveArticle``; see the docstring)."""
    return {
        "title": task.title,
        "markdowncontent": body,
        "content": markdown_to_html(body),
        "readType": "public",
        "level": 0,
        "tags": ",".join(normalize_tags(task.tags, limit=MAX_TAGS)),
        "categories": "",
        "type": "original",
        "original_link": "",
        "authorized_status": False,
        "Description": summary(body, max_chars=256),
        "not_auto_saved": "1",
        "source": "pc_mdeditor",
        "cover_images": [cover] if cover else [],
        "cover_type": 1 if cover else 0,
        "vote_id": 0,
        "resource_id": "",
        "creator_activity_id": "",
    }


def _saving(article: dict[str, Any], article_id: str | None, *, publish: bool) -> dict[str, Any]:
    """The save request: a new draft (``is_new`` 1), or the draft ``article_id`` saved again
    or published."""
    fields = {
        **article,
        "status": PUBLISH if publish else DRAFT,
        "pubStatus": "publish" if publish else "draft",
        "is_new": 0 if article_id else 1,
    }
    return {**fields, "id": article_id} if article_id else fields


async def _ensure_published(
    ctx: base.PublishContext, editor: _Editor, article: dict[str, Any], article_id: str
) -> str:
    async def submit() -> str:
        saved = await editor.save(_saving(article, article_id, publish=True))
        url = str(saved.get("url") or "") or await editor.published_url(article_id)
        if not url:
            raise Transient("CSDN took the article but has not listed it as published yet")
        return url

    return await base.publish_once(
        ctx, look_up=lambda: editor.published_url(article_id), submit=submit
    )


def gateway_signature(
    secret: str,
    method: str,
    content_type: str,
    headers: dict[str, str],
    path: str,
    *,
    accept: str = ACCEPT,
) -> str:
    """Aliyun API gateway: Base64 HMAC-SHA256 over method, Accept, a blank Content-MD5, the
    Content-Type, a blank Date, the signed x-ca-* headers (in ``headers``' order, which is
    alphabetical) and the path with its query, parameters sorted by name."""
    signed = "".join(f"{name}:{value}\n" for name, value in headers.items())
    to_sign = f"{method}\n{accept}\n\n{content_type}\n\n{signed}{sorted_query(path)}"
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sorted_query(path: str) -> str:
    """The path with its query parameters sorted by name, as the gateway signs it."""
    bare, _, query = path.partition("?")
    if not query:
        return bare
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return bare + "?" + "&".join(f"{k}={v}" if v else k for k, v in pairs)


class _Editor(CookieSession):
    """One session with CSDN's editor API: cookies, gateway signatures, the JSON envelope."""

    platform_name = "CSDN"
    cookie_domain = CsdnCredentials.cookie_domain
    origin = "https://editor.csdn.net"

    def __init__(self, account: base.AccountAccess) -> None:
        super().__init__(account)
        self.username = ""

    async def call(
        self, method: str, host: str, path: str, *, pair: KeyPair | None = None, **kwargs: Any
    ) -> Any:
        """One call; ``{code, msg|message, data}`` unwrapped to ``data``. bizapi calls are
        signed (with the editor's key pair unless ``pair`` says otherwise)."""
        headers: dict[str, str] = kwargs.pop("headers", {})
        used = None
        if host == BIZAPI:
            used = pair or editor_pair()
            headers |= _signed_headers(used, method, path, "json" in kwargs)
        url = host_url(self.options, host, path)
        response = await send(self.client, method, url, PLATFORM, headers=headers, **kwargs)
        if response.headers.get("x-ca-error-message"):
            # The gateway refused the signature: CSDN has probably rotated the key pair.
            setting = used.setting if used else EDITOR_SIGNING
            raise Rejected(
                f"CSDN's gateway refused the request "
                f"({response.headers['x-ca-error-message']}): CSDN may have changed its "
                f"editor keys; set {setting}=key:secret"
            )
        if response.status_code == 403:
            raise Transient("CSDN's firewall refused the request (HTTP 403)")
        answer = json_body(response, PLATFORM)
        code = answer.get("code") if isinstance(answer, dict) else None
        if code == 401 or response.status_code == 401:
            raise self.login_expired()
        if code != 200 or response.status_code >= 400:
            message = (
                (answer.get("msg") or answer.get("message")) if isinstance(answer, dict) else ""
            )
            raise Rejected(f"CSDN refused the request (code {code}): {message}")
        return answer.get("data") or {}

    async def me(self) -> base.Identity:
        info = await self.call("GET", BIZAPI, BASE_INFO)
        if not info.get("name"):
            raise self.login_expired()
        self.username = str(info["name"])
        return base.Identity(user_id=self.username, name=str(info.get("nickname") or self.username))

    async def risk_check(self) -> None:
        """CSDN may want the account confirmed by a WeChat scan before it takes a publish:
        that is a login step only a person can do, so the account needs a login."""
        payload = {"username": self.username, "biz": "blog", "subBiz": "article"}
        url = host_url(self.options, PASSPORT, RISK_CHECK)
        response = await send(self.client, "POST", url, PLATFORM, json=payload)
        answer = json_body(response, PLATFORM)
        if isinstance(answer, dict) and str(answer.get("code")) == RISK_NEEDS_WECHAT:
            said = answer.get("message") or "需要微信扫码验证"
            raise AuthExpired(
                f"CSDN wants this account confirmed with a WeChat QR scan before it publishes "
                f"(risk check code {RISK_NEEDS_WECHAT}: {said}): scan it in CSDN's editor, then "
                "log in again"
            )

    async def save(self, article: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", BIZAPI, SAVE_ARTICLE, json=article)

    async def _listed(self, status: str) -> list[dict[str, Any]]:
        found = await self.call("GET", BIZAPI, f"{ARTICLE_LIST}?status={status}&page=1&pageSize=20")
        return list(found.get("list") or [])

    async def recover_lost_draft(self, ctx: base.PublishContext, task: base.TaskContent) -> None:
        """A draft an earlier attempt saved without learning its id, found by title and time
        in the article list, is taken over; doubles are deleted [I]."""

        async def listed() -> list[base.FoundDraft]:
            return [
                base.FoundDraft(str(a["articleId"]), str(a.get("title", "")), float(a["postTime"]))
                for a in await self._listed("draft")
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
        """The article's public URL if the published list holds it (an answer was lost)."""
        for item in await self._listed("all_v2"):
            if str(item.get("articleId")) == article_id:
                return str(item.get("url") or "") or await self.public_url(article_id)
        return None

    async def public_url(self, article_id: str) -> str:
        return host_url(self.options, BLOG, f"/{self.username}/article/details/{article_id}")

    async def upload_image(self, image: ImageFile) -> str:
        """The upload ticket from bizapi, then the multipart form to Huawei OBS."""
        request = {"imageTemplate": "", "appName": IMAGE_APP, "imageSuffix": image.extension}
        ticket = await self.call("POST", BIZAPI, IMAGE_TICKET, pair=image_pair(), json=request)
        custom = ticket.get("customParam") or {}
        fields = {
            "key": ticket["filePath"],
            "policy": ticket["policy"],
            "signature": ticket["signature"],
            "callbackBody": ticket["callbackBody"],
            "callbackBodyType": ticket["callbackBodyType"],
            "callbackUrl": ticket["callbackUrl"],
            "AccessKeyId": ticket["accessId"],
            **{f"x:{name}": str(value) for name, value in custom.items()},
        }
        files = {"file": (image.filename, image.data, image.content_type)}
        # The OBS host gets only the ticket, never the CSDN cookies.
        async with new_client(self.options) as obs:
            response = await send(
                obs, "POST", str(ticket["host"]), PLATFORM, data=fields, files=files
            )
        answer = json_body(response, PLATFORM)
        url = (answer.get("data") or {}).get("imageUrl") if isinstance(answer, dict) else None
        if response.status_code != 200 or not url:
            raise Transient(f"CSDN's image store refused the upload (HTTP {response.status_code})")
        return str(url)


def _signed_headers(pair: KeyPair, method: str, path: str, has_json: bool) -> dict[str, str]:
    content_type = JSON_TYPE if has_json else ""
    values = {
        "x-ca-key": pair.key,
        "x-ca-nonce": str(uuid.uuid4()),
        # Whole seconds, written in milliseconds: the gateway refuses any other (PenBridge).
        "x-ca-timestamp": str(int(time.time()) * 1000),
    }
    signed = {name: values[name] for name in pair.signed_headers}
    signature = gateway_signature(pair.secret, method, content_type, signed, path)
    headers = {
        **signed,
        "x-ca-signature-headers": ",".join(pair.signed_headers),
        "x-ca-signature": signature,
        "Accept": ACCEPT,
    }
    return {**headers, "Content-Type": content_type} if content_type else headers
