"""WordPress through its REST API with an application password (WordPress 5.6+).

Options: ``base_url`` (the site root, e.g. ``http://127.0.0.1:8080``; REST lives under
``/wp-json/wp/v2/``, and a site without pretty permalinks is reached through
``/?rest_route=``, found out once per session), ``timeout_seconds``.
Credentials: ``{"username": …, "app_password": …}``.

Steps: login check → images (media library; a failed upload keeps the original URL) and the
cover as featured image → tags by name → draft post (checkpointed) → status ``publish`` (a
rerun whose answer was lost reads the post first) → verify the ``link`` page.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from contenthub.errors import AuthExpired, Rejected
from contenthub.platforms import base
from contenthub.platforms.images import (
    ImageFile,
    ImagePolicy,
    download_client,
    fetch_image,
    localize_images,
)
from contenthub.platforms.render import markdown_to_wordpress_html, normalize_tags, summary
from contenthub.platforms.transport import json_body, new_client, send

PLATFORM = "wordpress"
AUTH_ERRORS = {"rest_not_logged_in", "incorrect_password", "invalid_username", "invalid_email"}
MAX_TAGS = 20


class WordPressOptions(base.PlatformOptions):
    base_url: base.WebAddress = Field(description="The site's address, e.g. https://blog.example.")


class WordPressCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=200, description="The WordPress user.")
    app_password: base.Secret = Field(
        description="An application password (Users → Profile → Application Passwords)."
    )


class WordPressPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="user + app password",
        images=True,
        cover=True,
        tags=True,
        scheduled=True,
        review=True,
        note="review: a contributor's post waits as pending",
    )
    base_url_use = "site"  # self-hosted: the account names its own site
    options_model = WordPressOptions
    credentials_model = WordPressCredentials

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _Site(account) as site:
            return await site.me()

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        post_id = ctx.checkpoints.get("draft_id")
        if not post_id:
            return None
        url = ctx.checkpoints.get("url")
        if not url:
            async with _Site(task.account) as site:
                post = await site.call("GET", f"/posts/{post_id}", params={"context": "edit"})
            url = post.get("link") if post.get("status") == "publish" else None
        return base.PublishResult(url=str(url), post_id=str(post_id)) if url else None

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        async with _Site(account) as site:
            await ctx.progress(5, "login")
            await site.me()

            await ctx.progress(15, "images")
            policy = ImagePolicy(
                is_hosted=site.is_hosted,
                upload=lambda image: site.upload(image, "source_url"),
                keep_original_on_failure=True,
            )
            body, _ = await localize_images(ctx, task.body, None, policy)
            featured = await _ensure_featured_media(ctx, site, task.cover)
            tag_ids = [
                await site.tag_id(name) for name in normalize_tags(task.tags, limit=MAX_TAGS)
            ]

            await ctx.progress(40, "draft")
            if not ctx.checkpoints.get("draft_id"):
                await site.recover_lost_draft(ctx, task)
            if not ctx.checkpoints.get("draft_id"):
                await base.note_draft_request(ctx)
                marker = base.task_marker(task.public_id)
                draft = {
                    "title": task.title,
                    # An HTML comment (WordPress's own block markup is made of them): unseen,
                    # and how a draft whose creation answer was lost is known as this task's.
                    "content": f"{markdown_to_wordpress_html(body)}\n{marker}",
                    "excerpt": summary(body, max_chars=200),
                    "status": "draft",
                    "tags": tag_ids,
                }
                if featured:
                    draft["featured_media"] = featured
                created = await site.call("POST", "/posts", json=draft)
                await ctx.checkpoint("draft_id", str(created["id"]))
            post_id = str(ctx.checkpoints["draft_id"])

            await ctx.progress(60, "publish")
            url = await _ensure_published(ctx, site, post_id)

        result = base.PublishResult(url=url, post_id=post_id)
        return await self.confirm_public(ctx, account, result, noun="post")


async def _ensure_featured_media(
    ctx: base.PublishContext, site: _Site, cover: str | None
) -> int | None:
    if not cover:
        return None
    if ctx.checkpoints.get("featured_media"):
        return int(ctx.checkpoints["featured_media"])
    async with download_client() as downloads:
        image = await fetch_image(downloads, cover, max_bytes=20 * 1024 * 1024)
    media_id = int(await site.upload(image, "id"))
    await ctx.checkpoint("featured_media", media_id)
    return media_id


async def _ensure_published(ctx: base.PublishContext, site: _Site, post_id: str) -> str:
    if ctx.checkpoints.get("url"):
        return str(ctx.checkpoints["url"])
    if ctx.checkpoints.get("publish_submitted"):
        post = await site.call("GET", f"/posts/{post_id}", params={"context": "edit"})
        if post.get("status") == "publish":
            await ctx.checkpoint("url", str(post["link"]))
            return str(post["link"])
    await ctx.progress(65, "publish")  # the last point where a cancel still applies
    await ctx.checkpoint("publish_submitted", True)
    post = await site.call("POST", f"/posts/{post_id}", json={"status": "publish"})
    if post.get("status") != "publish":
        # e.g. an author role: WordPress turns "publish" into "pending" review.
        raise Rejected(f"WordPress kept the post as {post.get('status')!r}, not published")
    await ctx.checkpoint("url", str(post["link"]))
    return str(post["link"])


class _Site:
    """One authenticated session with a WordPress site's REST API."""

    def __init__(self, account: base.AccountAccess) -> None:
        site_url = str(account.options.get("base_url") or "").rstrip("/")
        if not site_url:
            raise Rejected("the WordPress account needs a 'base_url' option (the site's address)")
        username = str(account.credentials.get("username") or "")
        password = str(account.credentials.get("app_password") or "")
        if not username or not password:
            raise AuthExpired("the WordPress account needs a username and an application password")
        self.base = site_url
        self.pretty = True  # /wp-json/ works; else /?rest_route=
        self.client = new_client(account.options, auth=httpx.BasicAuth(username, password))
        self._tag_ids: dict[str, int] = {}

    async def __aenter__(self) -> _Site:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()

    def url(self, route: str) -> str:
        if self.pretty:
            return f"{self.base}/wp-json/wp/v2{route}"
        return f"{self.base}/?rest_route=/wp/v2{route}"

    def is_hosted(self, url: str) -> bool:
        return url.startswith(f"{self.base}/wp-content/uploads/")

    async def call(self, method: str, route: str, **kwargs: Any) -> Any:
        response = await send(self.client, method, self.url(route), PLATFORM, **kwargs)
        if response.status_code == 404 and self.pretty and not _is_rest_error(response):
            self.pretty = False  # no pretty permalinks: the site answers its HTML 404 page
            response = await send(self.client, method, self.url(route), PLATFORM, **kwargs)
        answer = json_body(response, PLATFORM)
        if response.status_code < 400:
            return answer
        code = str(answer.get("code", "")) if isinstance(answer, dict) else ""
        message = str(answer.get("message", "")) if isinstance(answer, dict) else ""
        if response.status_code == 401 and code in AUTH_ERRORS | {""}:
            raise AuthExpired(
                f"WordPress refused the login ({code or 'HTTP 401'}): new app password needed"
            )
        if code == "term_exists":
            return answer
        raise Rejected(f"WordPress refused the request ({code or response.status_code}): {message}")

    async def recover_lost_draft(self, ctx: base.PublishContext, task: base.TaskContent) -> None:
        """A draft an earlier attempt created without learning its id: found by the task's
        marker, title and date among the drafts and taken over; doubles are deleted."""
        marker = base.task_marker(task.public_id)

        async def listed() -> list[base.FoundDraft]:
            params = {"status": "draft", "search": task.title, "context": "edit", "per_page": 20}
            posts = await self.call("GET", "/posts", params=params)
            return [
                base.FoundDraft(
                    str(p["id"]),
                    str((p.get("title") or {}).get("raw", "")),
                    base.unix_time(p.get("date_gmt")),
                    body=str((p.get("content") or {}).get("raw", "")),
                )
                for p in posts
            ]

        async def delete(post_id: str) -> None:
            await self.call("DELETE", f"/posts/{post_id}", params={"force": "true"})

        await base.recover_lost_draft(
            ctx,
            task,
            listed=listed,
            delete=delete,
            describe=lambda i: (
                f"WordPress draft {self.base}/wp-admin/post.php?post={i}&action=edit"
            ),
            marker=marker,
        )

    async def me(self) -> base.Identity:
        me = await self.call("GET", "/users/me", params={"context": "edit"})
        return base.Identity(user_id=str(me["id"]), name=str(me.get("name", "")))

    async def upload(self, image: ImageFile, field: str) -> str:
        headers = {
            "Content-Type": image.content_type,
            "Content-Disposition": f'attachment; filename="{image.filename}"',
        }
        media = await self.call("POST", "/media", content=image.data, headers=headers)
        return str(media[field])

    async def tag_id(self, name: str) -> int:
        if name in self._tag_ids:
            return self._tag_ids[name]
        found = await self.call("GET", "/tags", params={"search": name, "per_page": 100})
        match = next((t for t in found if str(t.get("name", "")).lower() == name.lower()), None)
        if match is None:
            created = await self.call("POST", "/tags", json={"name": name})
            tag = int(created.get("id") or created["data"]["term_id"])
        else:
            tag = int(match["id"])
        self._tag_ids[name] = tag
        return tag


def _is_rest_error(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")
