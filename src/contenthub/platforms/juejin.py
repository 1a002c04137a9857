"""Juejin (掘金) through its web-console API, with the account's browser cookies.

Credentials: a browser session (``platforms.session``: ``sessionid``, ``sid_tt`` … on
``.juejin.cn``).
Options: ``base_url`` sends every Juejin host ``H`` to ``{base_url}/H`` (the sandbox's
``/juejin`` prefix), ``category_id`` or ``category`` (a category name; default 后端),
``timeout_seconds``.

Steps: login check → CSRF token (``HEAD sys/token``) → images (ImageX upload; a failed
upload keeps the original URL) → draft with category, tag ids and a 50–100-character brief
(created once, checkpointed; updated on a rerun) → publish (checkpointed before and after; a
rerun whose answer was lost reads the draft's article id first) → verify ``/post/{id}``; a new
article Juejin holds for review (its page 404s until approved) ends the publish ``in_review``.

Where each endpoint's protocol comes from (PenBridge is ``zerx-lab/PenBridge``; its
``docs/juejin-api.md`` writes the whole protocol down, ``packages/server/src/services/
juejinApi.ts`` speaks it):

* Login check — ``GET api.juejin.cn/user_api/v1/user/get``; ``err_no`` 0 with a user is
  logged in, ``err_no`` 2 (or no user) is not: PenBridge ``docs/juejin-api.md`` "检查登录状态";
  Wechatsync ``packages/core/src/adapters/platforms/juejin.ts`` (``checkAuth``) looks only for
  ``data.user_id``. ``err_no`` 403 "must login" is our earlier guess [I], kept: both codes mean
  an expired login here.
* CSRF — ``HEAD api.juejin.cn/user_api/v1/sys/token`` with ``x-secsdk-csrf-request: 1``; the
  token is field 2 of the ``x-ware-csrf-token`` answer header: PenBridge (same doc).
* Category and tags — ``GET tag_api/v1/query_category_briefs`` (PenBridge documents ``POST
  query_category_list``; we keep the GET Wechatsync's ``getCategories`` uses) and ``POST
  tag_api/v1/query_tag_list`` ``{cursor, key_word, limit, sort_type}``: PenBridge.
* Draft — ``POST content_api/v1/article_draft/create`` and ``/update`` (``edit_type`` 10,
  ``mark_content``, ``brief_content``, string ``tag_ids``), ``/detail`` ``{draft_id}``:
  PenBridge §3–5. The draft list and delete [I] (§20).
* Publish — ``POST content_api/v1/article/publish`` ``{draft_id, sync_to_org, column_ids,
  theme_ids}`` → ``{article_id}``: PenBridge §6.
* Review — ``POST content_api/v1/article/detail`` ``{article_id}`` → ``article_info.audit_status``
  1 in review, 2 passed, 3 refused: the values are PenBridge §7's (``list_by_user``'s filter);
  that ``detail`` carries the same ``article_info`` and the refusal's ``audit_reason`` are [I].
* Images — ImageX in five steps (``gen_token``, ``ApplyImageUpload`` and
  ``CommitImageUpload`` signed AWS4 for service ``imagex`` in ``cn-north-1``, the ``PUT`` to
  the upload host with ``Content-CRC32``, then ``GET imagex/v2/get_img_url?…&img_type=private``
  → ``main_url``): PenBridge §11 and Wechatsync ``juejin.ts`` (``getImageUrl``) agree, both
  with ``img_type=private``.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from pydantic import Field

from contenthub.errors import AuthExpired, Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import ImageFile, ImagePolicy, localize_images
from contenthub.platforms.render import normalize_tags, sanitize_markdown, summary
from contenthub.platforms.session import CookieCredentials
from contenthub.platforms.transport import (
    CookieSession,
    host_url,
    json_body,
    new_client,
    send,
)

PLATFORM = "juejin"
API, WEB, IMAGEX = "api.juejin.cn", "juejin.cn", "imagex.bytedanceapi.com"
CDN = "p3-juejin.byteimg.com"
AID, IMAGEX_SERVICE, IMAGEX_VERSION = "2608", "73owjymdk6", "2018-08-01"
CSRF_VERSION = "1.2.10"
BRIEF_MIN, BRIEF_MAX = 50, 100
MAX_TAGS = 3
DEFAULT_CATEGORY = "后端"
# err_no for an expired cookie: 403 "must login"; 2 where the user API finds no session
# (PenBridge docs/juejin-api.md, "检查登录状态").
NOT_LOGGED_IN = frozenset({403, 2})
# article_info.audit_status: 1 in review, 2 passed, 3 refused (PenBridge docs/juejin-api.md §7).
AUDIT_PENDING, AUDIT_REFUSED = 1, 3
HOSTED_SUFFIXES = ("juejin.cn", "byteimg.com")


class JuejinOptions(base.PlatformOptions):
    category_id: str | None = Field(default=None, max_length=64, pattern=r"^\d+$")
    category: str | None = Field(
        default=None, max_length=64, description=f"A category's name (default {DEFAULT_CATEGORY})."
    )


class JuejinCredentials(CookieCredentials):
    cookie_domain = ".juejin.cn"


class JuejinPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="web login (cookies)",
        scheduled=False,
        review=True,
        note="new articles wait for review",
    )
    options_model = JuejinOptions
    credentials_model = JuejinCredentials
    login_page = base.LoginPage(host="juejin.cn", path="/login", session_cookie="sessionid")
    holds_for_review = True  # new articles are public only once Juejin's review passed

    async def review_state(
        self, account: base.AccountAccess, result: base.PublishResult
    ) -> base.ReviewState:
        async with _Console(account) as console:
            await console.fetch_csrf_token()
            return await console.review_state(str(result.post_id), result.url)

    requires = base.Requirements(
        tags_min=1, tags_max=MAX_TAGS, brief_min=BRIEF_MIN, brief_max=BRIEF_MAX, edits_posts=True
    )

    def default_notes(self, options: Mapping[str, Any]) -> list[str]:
        if options.get("category_id") or options.get("category"):
            return []
        return [f"juejin category: {DEFAULT_CATEGORY}, the default (the account's category option)"]

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _Console(account) as console:
            return await console.me()

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        async def article_of(draft_id: str) -> str | None:
            async with _Console(task.account) as console:
                await console.fetch_csrf_token()
                return await console.published_article_id(draft_id)

        page = lambda article_id: host_url(task.account.options, WEB, f"/post/{article_id}")  # noqa: E731
        result = await base.published_from_draft(ctx, article_of, page)
        if result is None:
            return None
        review = await self.review_state(task.account, result)
        if review.state == "refused":
            return None
        return replace(result, in_review=review.state == "in_review")

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        brief = _brief(task)
        async with _Console(account) as console:
            await ctx.progress(5, "login")
            await console.me()
            await console.fetch_csrf_token()

            await ctx.progress(15, "images")
            policy = ImagePolicy(
                is_hosted=console.is_hosted,
                upload=console.upload_image,
                keep_original_on_failure=True,
            )
            body, cover = await localize_images(
                ctx, task.body, task.cover, policy, task.attachments
            )

            await ctx.progress(40, "draft")
            draft = {
                "title": task.title,
                "mark_content": sanitize_markdown(body),
                "brief_content": brief,
                "category_id": await console.category_id(),
                "tag_ids": [await console.tag_id(name) for name in _tags(task)],
                "cover_image": cover or "",
                "edit_type": 10,  # Markdown
                "html_content": "deprecated",
                "link_url": "",
            }
            prior = task.update_of
            updating = bool(prior and prior.checkpoints.get("draft_id"))
            if prior and updating and not ctx.checkpoints.get("draft_id"):
                # An article is edited through its draft: update it, then publish it again.
                await ctx.checkpoint("draft_id", str(prior.checkpoints["draft_id"]))
            draft_id = await _ensure_draft(ctx, console, task, draft)

            await ctx.progress(60, "publish")
            article_id = await _ensure_published(ctx, console, draft_id)

        url = host_url(account.options, WEB, f"/post/{article_id}")
        result = base.PublishResult(url=url, post_id=article_id, updated=updating)
        return await self.confirm_public(ctx, account, result)


def _brief(task: base.TaskContent) -> str:
    brief = summary(task.body, max_chars=BRIEF_MAX, min_chars=BRIEF_MIN, title=task.title)
    if len(brief) < BRIEF_MIN:
        raise Rejected(f"Juejin needs a summary of {BRIEF_MIN}–{BRIEF_MAX} characters: too short")
    return brief


def _tags(task: base.TaskContent) -> list[str]:
    tags = normalize_tags(task.tags, limit=MAX_TAGS)
    if not tags:
        raise Rejected("Juejin publishes only articles with at least one tag")
    return tags


async def _ensure_draft(
    ctx: base.PublishContext, console: _Console, task: base.TaskContent, draft: dict[str, Any]
) -> str:
    if not ctx.checkpoints.get("draft_id"):
        await console.recover_lost_draft(ctx, task)
    if ctx.checkpoints.get("draft_id"):
        draft_id = str(ctx.checkpoints["draft_id"])
        await console.call("/content_api/v1/article_draft/update", {**draft, "id": draft_id})
        return draft_id
    await base.note_draft_request(ctx)
    created = await console.call("/content_api/v1/article_draft/create", draft)
    draft_id = str(created["id"])
    await ctx.checkpoint("draft_id", draft_id)
    return draft_id


async def _ensure_published(ctx: base.PublishContext, console: _Console, draft_id: str) -> str:
    async def submit() -> str:
        payload = {"draft_id": draft_id, "sync_to_org": False, "column_ids": [], "theme_ids": []}
        published = await console.call("/content_api/v1/article/publish", payload)
        return str(published["article_id"])

    return await base.publish_once(
        ctx, look_up=lambda: console.published_article_id(draft_id), submit=submit, key="post_id"
    )


class _Console(CookieSession):
    """One session with Juejin's web console: cookies, the CSRF token, the JSON envelope."""

    platform_name = "Juejin"
    cookie_domain = JuejinCredentials.cookie_domain
    origin = "https://juejin.cn"

    def __init__(self, account: base.AccountAccess) -> None:
        super().__init__(account)
        self.csrf_token = ""

    def url(self, path: str, host: str = API) -> str:
        return host_url(self.options, host, path)

    def is_hosted(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return host.endswith(HOSTED_SUFFIXES) or url.startswith(self.url("/", CDN))

    async def call(
        self, path: str, payload: dict[str, Any] | None = None, method: str = "POST"
    ) -> Any:
        """One API call; the envelope ``{err_no, err_msg, data}`` unwrapped to ``data``."""
        headers = {"x-secsdk-csrf-token": self.csrf_token} if method == "POST" else {}
        response = await send(
            self.client, method, self.url(path), PLATFORM, json=payload, headers=headers
        )
        answer = json_body(response, PLATFORM)
        err_no = answer.get("err_no") if isinstance(answer, dict) else None
        if err_no in NOT_LOGGED_IN:
            raise self.login_expired()
        if err_no != 0 or response.status_code >= 400:
            message = answer.get("err_msg") if isinstance(answer, dict) else None
            raise Rejected(f"Juejin refused the request (err_no {err_no}): {message}")
        return answer.get("data")

    async def me(self) -> base.Identity:
        user = await self.call("/user_api/v1/user/get", method="GET") or {}
        if not user.get("user_id"):
            raise self.login_expired()
        return base.Identity(user_id=str(user["user_id"]), name=str(user.get("user_name", "")))

    async def fetch_csrf_token(self) -> None:
        headers = {"x-secsdk-csrf-request": "1", "x-secsdk-csrf-version": CSRF_VERSION}
        url = self.url("/user_api/v1/sys/token")
        response = await send(self.client, "HEAD", url, PLATFORM, headers=headers)
        # "0,<token>,86370000,success,<sid>": field 2 is the token.
        fields = response.headers.get("x-ware-csrf-token", "").split(",")
        if len(fields) < 2 or not fields[1]:
            raise AuthExpired("Juejin gave no CSRF token: log in to Juejin again")
        self.csrf_token = fields[1]

    async def category_id(self) -> str:
        if self.options.get("category_id"):
            return str(self.options["category_id"])
        wanted = str(self.options.get("category") or DEFAULT_CATEGORY)
        categories = await self.call("/tag_api/v1/query_category_briefs", method="GET") or []
        for category in categories:
            if category.get("category_name") == wanted:
                return str(category["category_id"])
        raise Rejected(f"Juejin has no category {wanted!r}: set the account's category option")

    async def tag_id(self, name: str) -> str:
        """Juejin takes tag ids as strings; the tag search finds them by name [I]."""
        payload = {"cursor": "0", "key_word": name, "limit": 10, "sort_type": 1}
        found = await self.call("/tag_api/v1/query_tag_list", payload) or []
        tags = [item.get("tag") or {} for item in found]
        match = next((t for t in tags if str(t.get("tag_name", "")).lower() == name.lower()), None)
        if match is None:
            raise Rejected(f"Juejin has no tag named {name!r}")
        return str(match["tag_id"])

    async def recover_lost_draft(self, ctx: base.PublishContext, task: base.TaskContent) -> None:
        """A draft an earlier attempt created without learning its id, found by title and
        creation time in the draft list, is taken over; doubles are deleted [I]."""

        async def listed() -> list[base.FoundDraft]:
            payload = {"cursor": "0", "keyword": task.title, "limit": 20}
            drafts = await self.call("/content_api/v1/article_draft/query_list", payload) or []
            return [
                base.FoundDraft(str(d["id"]), str(d.get("title", "")), float(d["ctime"]))
                for d in (item.get("article_draft") or item for item in drafts)
                if d.get("ctime")
            ]

        async def delete(draft_id: str) -> None:
            await self.call("/content_api/v1/article_draft/delete", {"draft_id": draft_id})

        await base.recover_lost_draft(
            ctx,
            task,
            listed=listed,
            delete=delete,
            describe=lambda i: f"Juejin draft {self.url(f'/editor/drafts/{i}', WEB)}",
        )

    async def published_article_id(self, draft_id: str) -> str | None:
        """The article id if the draft went live already (an earlier answer was lost) [I]."""
        detail = await self.call("/content_api/v1/article_draft/detail", {"draft_id": draft_id})
        article_id = str((detail or {}).get("article_draft", {}).get("article_id") or "0")
        return None if article_id == "0" else article_id

    async def review_state(self, article_id: str, url: str | None) -> base.ReviewState:
        """Where Juejin's review of the article stands (``article/detail``'s article_info)."""
        detail = await self.call("/content_api/v1/article/detail", {"article_id": article_id})
        info = (detail or {}).get("article_info") or {}
        audit = info.get("audit_status")
        if audit == AUDIT_PENDING:
            return base.ReviewState("in_review", url)
        if audit == AUDIT_REFUSED:
            return base.ReviewState("refused", url, str(info.get("audit_reason") or ""))
        return base.ReviewState("live", url)

    # -- images: ImageX, five steps ---------------------------------------------------------

    async def upload_image(self, image: ImageFile) -> str:
        params = {"aid": AID, "uuid": str(uuid.uuid4()), "client": "web"}
        issued = await self.call(f"/imagex/v2/gen_token?{urlencode(params)}", method="GET")
        sts = (issued or {}).get("token") or {}
        store, session_key = await self._apply_upload(sts)
        await self._put_bytes(store, image)
        await self._imagex(sts, "POST", {"Action": "CommitImageUpload", "SessionKey": session_key})
        query = urlencode(
            {"aid": AID, "uuid": params["uuid"], "uri": store["uri"], "img_type": "private"}
        )
        urls = await self.call(f"/imagex/v2/get_img_url?{query}", method="GET") or {}
        if not urls.get("main_url"):
            raise Transient("Juejin gave no URL for an uploaded image")
        return str(urls["main_url"])

    async def _apply_upload(self, sts: dict[str, Any]) -> tuple[dict[str, str], str]:
        applied = await self._imagex(sts, "GET", {"Action": "ApplyImageUpload"})
        address = applied.get("UploadAddress") or {}
        store = (address.get("StoreInfos") or [{}])[0]
        hosts = address.get("UploadHosts") or []
        if not store.get("StoreUri") or not hosts:
            raise Transient("Juejin's image service gave no upload address")
        target = {"uri": store["StoreUri"], "auth": store["Auth"], "host": hosts[0]}
        return target, str(address.get("SessionKey", ""))

    async def _put_bytes(self, store: dict[str, str], image: ImageFile) -> None:
        headers = {
            "Authorization": store["auth"],
            "Content-CRC32": f"{zlib.crc32(image.data) & 0xFFFFFFFF:08x}",
            "Content-Type": "application/octet-stream",
        }
        url = host_url(self.options, store["host"], f"/{store['uri']}")
        # The upload host gets only its own headers, never the Juejin cookies.
        async with new_client(self.options) as upload:
            response = await send(upload, "PUT", url, PLATFORM, content=image.data, headers=headers)
        if response.status_code != 200:
            raise Transient(
                f"Juejin's image store refused the upload (HTTP {response.status_code})"
            )

    async def _imagex(self, sts: dict[str, Any], method: str, action: dict[str, str]) -> Any:
        query = {**action, "Version": IMAGEX_VERSION, "ServiceId": IMAGEX_SERVICE}
        headers = aws4_headers(sts, method, query, datetime.now(UTC))
        url = host_url(self.options, IMAGEX, f"/?{urlencode(sorted(query.items()))}")
        # ImageX is signed with the STS credentials alone, so it gets no cookies either.
        async with new_client(self.options) as imagex:
            response = await send(imagex, method, url, PLATFORM, headers=headers)
        answer = json_body(response, PLATFORM)
        error = (answer.get("ResponseMetadata") or {}).get("Error")
        if response.status_code >= 400 or error:
            code = (error or {}).get("Code") or f"HTTP {response.status_code}"
            raise Transient(f"Juejin's image service refused the upload ({code})")
        return answer.get("Result") or {}


def aws4_headers(sts: dict[str, Any], method: str, query: dict[str, str], now: datetime) -> dict:
    """AWS Signature V4 (region cn-north-1, service imagex) over the query and two headers."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    token = str(sts.get("SessionToken", ""))
    canonical_query = urlencode(sorted(query.items()), quote_via=quote)
    signed_headers = "x-amz-date;x-amz-security-token"
    canonical = "\n".join(
        [
            method,
            "/",
            canonical_query,
            f"x-amz-date:{amz_date}\nx-amz-security-token:{token}\n",
            signed_headers,
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/cn-north-1/imagex/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{sts.get('SecretAccessKey', '')}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    credential = f"{sts.get('AccessKeyId', '')}/{scope}"
    return {
        "x-amz-date": amz_date,
        "x-amz-security-token": token,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, "
            f"Signature={signature}"
        ),
    }
