"""Ghost through its Admin API with an Admin API key (Settings → Integrations → Add custom
integration). Reference: https://ghost.org/docs/admin-api/ ("Token Authentication", "Posts",
"Images"), and TryGhost/SDK ``packages/admin-api/lib/admin-api.js`` (how the official client
signs and calls).

Options: ``base_url`` (the site, e.g. ``https://blog.example.org``), ``timeout_seconds``.
Credentials: ``{"admin_api_key": "<24-hex id>:<64-hex secret>"}``.

The token: a JWT signed HS256 with the secret (hex-decoded), header ``kid`` = the key's id,
payload ``iat``, ``exp`` (5 minutes later: Ghost refuses longer) and ``aud`` ``/admin/``; sent
as ``Authorization: Ghost <token>``, a new one for every request (a publish with many images
can outlast one token).

Steps:
- login: ``GET /ghost/api/admin/site/`` (the site's title and URL) and
  ``GET /ghost/api/admin/posts/?limit=1&fields=id`` (the key is accepted);
- images and cover: ``POST /ghost/api/admin/images/upload/`` (multipart ``file``,
  ``purpose=image``) → ``images[0].url``; checkpointed;
- draft: ``POST /ghost/api/admin/posts/?source=html`` ``{"posts": [{title, html, status:
  "draft", tags: [{name}], feature_image, custom_excerpt, codeinjection_foot}]}``; the task's
  marker (an HTML comment) rides in ``codeinjection_foot``, which Ghost keeps verbatim (it
  turns ``html`` into its own editor format, dropping comments);
- publish: ``PUT /ghost/api/admin/posts/{id}/`` ``{"posts": [{status: "published",
  updated_at}]}`` (``updated_at`` from a fresh read: Ghost refuses a stale one, 409);
- update (a republish, ``TaskContent.update_of``): the same ``PUT`` on the earlier post with
  ``?source=html`` and every field, so the one post is edited in place;
- lookup: ``GET /ghost/api/admin/posts/{id}/`` (its ``status`` and ``url``); a draft whose
  creation answer was lost: ``GET /ghost/api/admin/posts/?filter=status:draft&order=created_at
  desc&limit=20`` by title, time and marker; doubles ``DELETE /ghost/api/admin/posts/{id}/``.
Errors: ``{"errors": [{"message", "type", "context"}]}``; 401 (``UnauthorizedError``, an
invalid or revoked key) is AuthExpired, 409 (``UpdateCollisionError``) Transient, any other
4xx Rejected with Ghost's message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, Field

from contenthub.errors import AuthExpired, Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import ImageFile, ImagePolicy, localize_images
from contenthub.platforms.render import markdown_to_html, normalize_tags, summary
from contenthub.platforms.transport import json_body, new_client, send

PLATFORM = "ghost"
API = "/ghost/api/admin"
KEY_PATTERN = r"^[0-9a-f]{24}:[0-9a-f]{64}$"
TOKEN_SECONDS = 300  # Ghost's maximum
ACCEPT_VERSION = "v5.0"
MAX_TAGS = 20
MAX_TITLE = 255  # Ghost's posts.title column


class GhostOptions(base.PlatformOptions):
    base_url: base.WebAddress = Field(description="The Ghost site's address.")


class GhostCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admin_api_key: base.Secret = Field(
        pattern=KEY_PATTERN,
        description="A custom integration's Admin API key: <id>:<secret>, both hex.",
    )


def admin_token(key: str, now: float | None = None) -> str:
    """The short-lived JWT Ghost's Admin API takes for ``key`` (``id:secret``)."""
    if not re.fullmatch(KEY_PATTERN, key):
        raise AuthExpired("the Ghost account's Admin API key is not <24 hex>:<64 hex>")
    key_id, secret = key.split(":")
    issued = int(now if now is not None else time.time())
    payload = {"iat": issued, "exp": issued + TOKEN_SECONDS, "aud": "/admin/"}
    return jwt.encode(payload, bytes.fromhex(secret), algorithm="HS256", headers={"kid": key_id})


class AdminKeyAuth(httpx.Auth):
    """Signs every request with a token minted for it: one lives only five minutes."""

    def __init__(self, key: str, clock: Callable[[], float] = time.time) -> None:
        admin_token(key)  # a malformed key fails here, before anything is sent
        self._key = key
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Ghost {admin_token(self._key, self._clock())}"
        yield request


class GhostPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="Admin API key (JWT)",
        scheduled=True,
        review=False,
    )
    requires = base.Requirements(tags_max=MAX_TAGS, title_max=MAX_TITLE, edits_posts=True)
    base_url_use = "site"  # self-hosted: the account names its own site
    options_model = GhostOptions
    credentials_model = GhostCredentials

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _Site(account) as site:
            return await site.login()

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        post_id = ctx.checkpoints.get("draft_id")
        if not post_id:
            return None
        async with _Site(task.account) as site:
            post = await site.post(str(post_id))
        url = post.get("url") if post.get("status") == "published" else None
        return base.PublishResult(url=str(url), post_id=str(post_id)) if url else None

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        async with _Site(account) as site:
            await ctx.progress(5, "login")
            await site.login()

            await ctx.progress(15, "images")
            policy = ImagePolicy(is_hosted=site.is_hosted, upload=site.upload)
            body, cover = await localize_images(
                ctx, task.body, task.cover, policy, task.attachments
            )

            fields: dict[str, Any] = {
                "title": task.title,
                "html": markdown_to_html(body),
                "tags": [{"name": t} for t in normalize_tags(task.tags, limit=MAX_TAGS)],
                "custom_excerpt": summary(body, max_chars=300),
                "feature_image": cover,
            }
            if task.update_of:
                await ctx.progress(60, "publish")
                updated = await _update(site, task.update_of.post_id, fields)
                return await self.confirm_public(ctx, account, updated, noun="post")

            await ctx.progress(40, "draft")
            if not ctx.checkpoints.get("draft_id"):
                await site.recover_lost_draft(ctx, task)
            if not ctx.checkpoints.get("draft_id"):
                await base.note_draft_request(ctx)
                draft = {**fields, "status": "draft"}
                draft["codeinjection_foot"] = base.task_marker(task.public_id)
                created = await site.call(
                    "POST", "/posts/", params={"source": "html"}, json={"posts": [draft]}
                )
                await ctx.checkpoint("draft_id", str(created["posts"][0]["id"]))
            post_id = str(ctx.checkpoints["draft_id"])

            await ctx.progress(60, "publish")
            url = await _ensure_published(ctx, site, post_id)

        result = base.PublishResult(url=url, post_id=post_id)
        return await self.confirm_public(ctx, account, result, noun="post")


async def _update(site: _Site, post_id: str, fields: dict[str, Any]) -> base.PublishResult:
    """Edit the account's post in place: Ghost wants the ``updated_at`` it last gave (a stale
    one is a 409, Transient: the retry reads it again). The post stays (or becomes) published;
    its ``codeinjection_foot`` keeps the first task's marker."""
    current = await site.post(post_id)
    change = {**fields, "status": "published", "updated_at": current["updated_at"]}
    answer = await site.call(
        "PUT", f"/posts/{post_id}/", params={"source": "html"}, json={"posts": [change]}
    )
    post = answer["posts"][0]
    return base.PublishResult(url=str(post["url"]), post_id=post_id, updated=True)


async def _ensure_published(ctx: base.PublishContext, site: _Site, post_id: str) -> str:
    if ctx.checkpoints.get("url"):
        return str(ctx.checkpoints["url"])
    post = await site.post(post_id)
    if post.get("status") == "published" and ctx.checkpoints.get(base.PUBLISH_SUBMITTED):
        await ctx.checkpoint("url", str(post["url"]))
        return str(post["url"])
    await ctx.progress(65, "publish")  # the last point where a cancel still applies
    await ctx.checkpoint(base.PUBLISH_SUBMITTED, True)
    change = {"status": "published", "updated_at": post["updated_at"]}
    answer = await site.call("PUT", f"/posts/{post_id}/", json={"posts": [change]})
    published = answer["posts"][0]
    if published.get("status") != "published":
        raise Rejected(f"Ghost kept the post as {published.get('status')!r}, not published")
    await ctx.checkpoint("url", str(published["url"]))
    return str(published["url"])


class _Site:
    """One session with a Ghost site's Admin API (a fresh token on every request)."""

    def __init__(self, account: base.AccountAccess) -> None:
        site_url = str(account.options.get("base_url") or "").rstrip("/")
        if not site_url:
            raise Rejected("the Ghost account needs a 'base_url' option (the site's address)")
        auth = AdminKeyAuth(str(account.credentials.get("admin_api_key") or ""))
        self.base = site_url
        headers = {"Accept-Version": ACCEPT_VERSION}
        self.client = new_client(account.options, headers=headers, auth=auth)

    async def __aenter__(self) -> _Site:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()

    def is_hosted(self, url: str) -> bool:
        return url.startswith(f"{self.base}/content/images/")

    async def call(self, method: str, route: str, **kwargs: Any) -> Any:
        response = await send(self.client, method, f"{self.base}{API}{route}", PLATFORM, **kwargs)
        if response.status_code == 204:
            return {}
        answer = json_body(response, PLATFORM)
        if response.status_code < 400:
            return answer
        errors = answer.get("errors") if isinstance(answer, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else {}
        message = " ".join(str(first.get(k) or "") for k in ("message", "context")).strip()
        kind = str(first.get("type") or f"HTTP {response.status_code}")
        if response.status_code == 401:
            raise AuthExpired(f"Ghost refused the Admin API key ({kind}): {message}")
        if response.status_code == 409:
            raise Transient(f"Ghost: the post changed meanwhile ({kind}): {message}")
        raise Rejected(f"Ghost refused the request ({kind}): {message}")

    async def login(self) -> base.Identity:
        site = (await self.call("GET", "/site/"))["site"]
        await self.call("GET", "/posts/", params={"limit": 1, "fields": "id"})
        return base.Identity(user_id=str(site.get("url", self.base)), name=str(site["title"]))

    async def post(self, post_id: str) -> dict[str, Any]:
        return (await self.call("GET", f"/posts/{post_id}/"))["posts"][0]

    async def upload(self, image: ImageFile) -> str:
        files = {"file": (image.filename, image.data, image.content_type)}
        answer = await self.call(
            "POST", "/images/upload/", files=files, data={"purpose": "image", "ref": image.filename}
        )
        return str(answer["images"][0]["url"])

    async def recover_lost_draft(self, ctx: base.PublishContext, task: base.TaskContent) -> None:
        """A draft an earlier attempt created without learning its id: found by title, time and
        the task's marker among the newest drafts, and taken over; doubles are deleted."""
        marker = base.task_marker(task.public_id)

        async def listed() -> list[base.FoundDraft]:
            params = {"filter": "status:draft", "order": "created_at desc", "limit": 20}
            posts = (await self.call("GET", "/posts/", params=params))["posts"]
            return [
                base.FoundDraft(
                    str(p["id"]),
                    str(p.get("title", "")),
                    base.unix_time(p.get("created_at")),
                    str(p.get("codeinjection_foot") or ""),
                )
                for p in posts
            ]

        async def delete(post_id: str) -> None:
            await self.call("DELETE", f"/posts/{post_id}/")

        await base.recover_lost_draft(
            ctx,
            task,
            listed=listed,
            delete=delete,
            describe=lambda i: f"Ghost draft {self.base}/ghost/#/editor/post/{i}",
            marker=marker,
        )
