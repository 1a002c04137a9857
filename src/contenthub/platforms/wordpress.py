"""WordPress through its REST API with an application password (WordPress 5.6+).

Options: ``base_url`` (the site root, e.g. ``http://127.0.0.1:8080``; REST lives under
``/wp-json/wp/v2/``, and a site without pretty permalinks is reached through
``/?rest_route=``, found out once per session), ``timeout_seconds``.
Credentials: ``{"username": …, "app_password": …}``.

Steps: login check → images, the cover first (each downloaded and checked before any upload;
an image this account uploaded before, found in the media library by the content hash its file
is named with, is not uploaded again; a refused upload keeps the original URL) and the cover as
featured image → tags by name → draft post in core block markup (checkpointed) → its new media
attached to it → status ``publish`` (a rerun whose answer was lost reads the post first) →
verify the ``link`` page.

WordPress shows ``title``, ``excerpt`` and tag names as HTML: they are sent escaped
(``render.html_text``), so ``Queue<T>`` reads as written and a ``<script>`` never runs.
"""

from __future__ import annotations

import html
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from contenthub.errors import AuthExpired, Rejected
from contenthub.platforms import base
from contenthub.platforms.images import ImageFile, ImagePolicy, fetch_checked, localize_images
from contenthub.platforms.render import (
    WordPressMedia,
    html_text,
    markdown_to_wordpress_html,
    normalize_tags,
    summary,
)
from contenthub.platforms.transport import json_body, new_client, send

PLATFORM = "wordpress"
AUTH_ERRORS = {"rest_not_logged_in", "incorrect_password", "invalid_username", "invalid_email"}
MAX_TAGS = 20
MAX_IMAGE_BYTES = 20 * 1024 * 1024


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
        scheduled=True,
        review=True,
        note="review: a contributor's post waits as pending",
    )
    base_url_use = "site"  # self-hosted: the account names its own site
    options_model = WordPressOptions
    credentials_model = WordPressCredentials
    requires = base.Requirements(tags_max=MAX_TAGS, edits_posts=True)

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
            library = _MediaLibrary(ctx, site)
            policy = ImagePolicy(
                is_hosted=site.is_hosted,
                upload=library.upload,
                keep_original_on_failure=True,
                max_bytes=MAX_IMAGE_BYTES,
            )
            body, cover = await localize_images(
                ctx, task.body, task.cover, policy, task.attachments
            )
            featured = await library.featured(cover) if cover else None
            tag_ids = [
                await site.tag_id(html_text(name))
                for name in normalize_tags(task.tags, limit=MAX_TAGS)
            ]

            marker = base.task_marker(task.public_id)
            content = markdown_to_wordpress_html(body, library.by_url())
            fields: dict[str, Any] = {
                "title": html_text(task.title),
                # An HTML comment (WordPress's own block markup is made of them): unseen,
                # and how a draft whose creation answer was lost is known as this task's.
                "content": f"{content}\n\n{marker}",
                "excerpt": html_text(summary(task.body, max_chars=200)),
                "tags": tag_ids,
            }
            if featured:
                fields["featured_media"] = featured.id
            if task.update_of and not ctx.checkpoints.get(GONE):
                updated = await _update(ctx, site, task.update_of.post_id, fields)
                if updated is not None:
                    await library.attach_to(task.update_of.post_id)
                    return await self.confirm_public(ctx, account, updated, noun="post")

            await ctx.progress(40, "draft")
            if not ctx.checkpoints.get("draft_id"):
                await site.recover_lost_draft(ctx, task)
            if not ctx.checkpoints.get("draft_id"):
                await base.note_draft_request(ctx)
                created = await site.call("POST", "/posts", json={**fields, "status": "draft"})
                await ctx.checkpoint("draft_id", str(created["id"]))
            post_id = str(ctx.checkpoints["draft_id"])
            await library.attach_to(post_id)

            await ctx.progress(60, "publish")
            url = await _ensure_published(ctx, site, post_id)

        result = base.PublishResult(url=url, post_id=post_id)
        return await self.confirm_public(ctx, account, result, noun="post")


class _MediaLibrary:
    """The images of one publish in the site's media library. An image is found by the content
    hash its file is named with among the uploads of the account's own user (so an edited
    republish, or another article with the same picture, reuses it) and uploaded only when
    missing. What each body URL is (id, size) is checkpointed for the block markup."""

    KEY = "wordpress_media"  # {url in the body: {"id", "size", "free": not yet attached}}

    def __init__(self, ctx: base.PublishContext, site: _Site) -> None:
        self.ctx, self.site = ctx, site
        self.known: dict[str, dict[str, Any]] = dict(ctx.checkpoints.get(self.KEY) or {})

    async def upload(self, image: ImageFile) -> str:
        found = await self.site.find_upload(image) or await self.site.upload(image)
        sizes = (found.get("media_details") or {}).get("sizes") or {}
        size = "large" if "large" in sizes else "full"
        url = str(sizes["large"]["source_url"]) if size == "large" else str(found["source_url"])
        self.known[url] = {"id": int(found["id"]), "size": size, "free": not found.get("post")}
        await self.ctx.checkpoint(self.KEY, dict(self.known))
        return url

    def media(self, url: str) -> WordPressMedia | None:
        entry = self.known.get(url)
        return WordPressMedia(int(entry["id"]), url, str(entry["size"])) if entry else None

    async def featured(self, cover: str) -> WordPressMedia:
        """The cover's media entry; a cover already on the site (so never uploaded by this
        publish) is read and found in, or added to, the library by its bytes."""
        if self.media(cover) is None and self.site.is_hosted(cover):
            [image] = (await fetch_checked([cover], max_bytes=MAX_IMAGE_BYTES)).values()
            cover = await self.upload(image)
        found = self.media(cover)
        if found is None:
            raise Rejected(f"WordPress did not take the cover image {cover}")
        return found

    def by_url(self) -> dict[str, WordPressMedia]:
        return {url: media for url in self.known if (media := self.media(url))}

    async def attach_to(self, post_id: str) -> None:
        """Media uploaded for this post (not attached elsewhere) become its attachments."""
        if self.ctx.checkpoints.get("media_attached"):
            return
        for media_id in dict.fromkeys(int(e["id"]) for e in self.known.values() if e["free"]):
            await self.site.call("POST", f"/media/{media_id}", json={"post": int(post_id)})
        await self.ctx.checkpoint("media_attached", True)


# Checkpointed when the post an update was meant for is gone from the site: a new one is made.
GONE = "update_target_gone"


async def _update(
    ctx: base.PublishContext, site: _Site, post_id: str, fields: dict[str, Any]
) -> base.PublishResult | None:
    """Edit the account's existing post in place (``POST /posts/{id}``: the same request twice
    leaves the same post, so a retry simply sends it again). None: the post is gone."""
    await ctx.progress(60, "update")
    await ctx.checkpoint("draft_id", post_id)  # the final check looks here
    await ctx.checkpoint(base.PUBLISH_SUBMITTED, True)
    try:
        post = await site.call("POST", f"/posts/{post_id}", json={**fields, "status": "publish"})
    except Rejected as error:
        if "rest_post_invalid_id" not in str(error):
            raise
        await ctx.checkpoint(GONE, True)
        await ctx.checkpoint("draft_id", None)
        return None
    if post.get("status") != "publish":
        raise Rejected(f"WordPress kept the post as {post.get('status')!r}, not published")
    await ctx.checkpoint("url", str(post["link"]))
    return base.PublishResult(url=str(post["link"]), post_id=post_id, updated=True)


async def _ensure_published(ctx: base.PublishContext, site: _Site, post_id: str) -> str:
    async def look_up() -> str | None:
        post = await site.call("GET", f"/posts/{post_id}", params={"context": "edit"})
        return str(post["link"]) if post.get("status") == "publish" else None

    async def submit() -> str:
        post = await site.call("POST", f"/posts/{post_id}", json={"status": "publish"})
        if post.get("status") != "publish":
            # e.g. an author role: WordPress turns "publish" into "pending" review.
            raise Rejected(f"WordPress kept the post as {post.get('status')!r}, not published")
        return str(post["link"])

    return await base.publish_once(ctx, look_up=look_up, submit=submit)


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
        self._me: base.Identity | None = None

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
            search = html_text(task.title)  # as it was sent
            params = {"status": "draft", "search": search, "context": "edit", "per_page": 20}
            posts = await self.call("GET", "/posts", params=params)
            return [
                base.FoundDraft(
                    str(p["id"]),
                    html.unescape(str((p.get("title") or {}).get("raw", ""))),
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
        if self._me is None:
            me = await self.call("GET", "/users/me", params={"context": "edit"})
            self._me = base.Identity(user_id=str(me["id"]), name=str(me.get("name", "")))
        return self._me

    async def upload(self, image: ImageFile) -> dict[str, Any]:
        headers = {
            "Content-Type": image.content_type,
            "Content-Disposition": f'attachment; filename="{image.filename}"',
        }
        return dict(await self.call("POST", "/media", content=image.data, headers=headers))

    async def find_upload(self, image: ImageFile) -> dict[str, Any] | None:
        """This user's earlier upload of the same bytes (its file named by their hash)."""
        stem = PurePosixPath(image.filename).stem
        params = {"search": stem, "author": (await self.me()).user_id, "per_page": 20}
        params["media_type"] = "image"
        for media in await self.call("GET", "/media", params=params):
            name = PurePosixPath(urlsplit(str(media.get("source_url", ""))).path).name
            if stem in name and media.get("media_type") == "image":
                return dict(media)
        return None

    async def tag_id(self, name: str) -> int:
        if name in self._tag_ids:
            return self._tag_ids[name]
        found = await self.call("GET", "/tags", params={"search": name, "per_page": 100})
        same = html.unescape(name).lower()
        match = next(
            (t for t in found if html.unescape(str(t.get("name", ""))).lower() == same), None
        )
        if match is None:
            created = await self.call("POST", "/tags", json={"name": name})
            tag = int(created.get("id") or created["data"]["term_id"])
        else:
            tag = int(match["id"])
        self._tag_ids[name] = tag
        return tag


def _unescaped(name: object) -> str:
    return html.unescape(str(name or ""))


def _is_rest_error(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")
