"""dev.to (Forem API v1) with an API key.

Credentials: ``{"api_key": …}``. Options: ``base_url`` (replaces ``https://dev.to``; the
sandbox's ``/devto``), ``timeout_seconds``.

Pacing: Forem allows 9 article creations per 30 s per account. Create dev.to accounts with
``min_interval_seconds`` of ``DevToPublisher.min_interval_seconds`` (about 3.4 s) so the
dispatcher never exceeds it; when it is exceeded anyway, the 429 becomes RateLimited with
the Retry-After hint.

dev.to has no image upload API: images and the cover must be reachable URLs, so each is
downloaded once to check it is a working image (a missing one fails the publish, named) and the
body's Markdown goes as it is (sanitised; a lone YouTube/Vimeo link as an ``{% embed %}``).
Steps: login check → image check → draft (an unpublished article, checkpointed) → publish
(``published: true``; a rerun whose answer was lost looks the article up first) → verify.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from contenthub.errors import AuthExpired, Rejected
from contenthub.platforms import base
from contenthub.platforms.images import fetch_checked, image_urls
from contenthub.platforms.render import markdown_for_devto, normalize_tags, summary
from contenthub.platforms.transport import json_body, new_client, origin_url, send

PLATFORM = "devto"
ORIGIN = "https://dev.to"
MAX_TAGS = 4
MAX_IMAGE_BYTES = 25 * 1024 * 1024  # what dev.to's own uploader takes


class DevToCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: base.Secret = Field(description="Settings → Extensions → DEV Community API Keys.")


class DevToPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="API key",
        scheduled=False,
        review=False,
        note="images and cover must be public URLs",
    )
    options_model = base.PlatformOptions
    credentials_model = DevToCredentials
    requires = base.Requirements(tags_max=MAX_TAGS, hosts_images=False, edits_posts=True)
    min_interval_seconds = 30 / 9 + 0.1  # 9 creations per 30 s, with a margin

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _session(account) as client:
            me = await _call(client, account, "GET", "/api/users/me")
        return base.Identity(user_id=str(me["id"]), name=str(me.get("username", "")))

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        article_id = ctx.checkpoints.get("draft_id")
        if not article_id:
            return None
        url = ctx.checkpoints.get("url")
        if not url:
            async with _session(task.account) as client:
                url = await _published_url(client, task.account, str(article_id))
        return base.PublishResult(url=str(url), post_id=str(article_id)) if url else None

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        async with _session(account) as client:
            await ctx.progress(5, "login")
            await _call(client, account, "GET", "/api/users/me")

            await ctx.progress(15, "images")  # no upload: dev.to takes URLs that must work
            if not ctx.checkpoints.get("draft_id"):
                cover = [task.cover] if task.cover else []
                await fetch_checked([*cover, *image_urls(task.body)], max_bytes=MAX_IMAGE_BYTES)

            # The marker is an HTML comment, unseen on the page [I]: it tells a draft whose
            # creation answer was lost as this task's.
            marked = f"{markdown_for_devto(task.body)}\n\n{base.task_marker(task.public_id)}\n"
            article: dict[str, Any] = {
                "title": task.title,
                "body_markdown": marked,
                "tags": normalize_tags(task.tags, limit=MAX_TAGS, ascii_words=True),
                "description": summary(task.body, max_chars=150),
            }
            # dev.to cannot host a cover from a file (``requires`` says so in the preview).
            if task.cover and task.cover.startswith(("http://", "https://")):
                article["main_image"] = task.cover
            if task.update_of:
                result = await _update(ctx, client, account, task.update_of.post_id, article)
                return await self.confirm_public(ctx, account, result)

            await ctx.progress(40, "draft")
            if not ctx.checkpoints.get("draft_id"):
                await _recover_lost_draft(ctx, client, task)
            if not ctx.checkpoints.get("draft_id"):
                await base.note_draft_request(ctx)
                article["published"] = False
                created = await _call(
                    client, account, "POST", "/api/articles", json={"article": article}
                )
                await ctx.checkpoint("draft_id", str(created["id"]))
            article_id = str(ctx.checkpoints["draft_id"])

            await ctx.progress(60, "publish")
            url = await _ensure_published(ctx, client, account, article_id)

        result = base.PublishResult(url=url, post_id=article_id)
        return await self.confirm_public(ctx, account, result)


def _session(account: base.AccountAccess) -> httpx.AsyncClient:
    key = str(account.credentials.get("api_key") or "")
    if not key:
        raise AuthExpired("the dev.to account needs an API key")
    headers = {"api-key": key, "Accept": "application/vnd.forem.api-v1+json"}
    return new_client(account.options, headers=headers)


async def _call(
    client: httpx.AsyncClient, account: base.AccountAccess, method: str, path: str, **kwargs: Any
) -> Any:
    url = origin_url(account.options, ORIGIN, path)
    response = await send(client, method, url, PLATFORM, **kwargs)
    if response.status_code == 401:
        raise AuthExpired("dev.to refused the API key: create a new one")
    answer = json_body(response, PLATFORM)
    if response.status_code >= 400:
        message = answer.get("error") if isinstance(answer, dict) else None
        raise Rejected(f"dev.to refused the article (HTTP {response.status_code}): {message}")
    return answer


async def _recover_lost_draft(
    ctx: base.PublishContext, client: httpx.AsyncClient, task: base.TaskContent
) -> None:
    """A draft an earlier attempt created without learning its id: found among the
    unpublished articles by the task's marker and title, and taken over. The API cannot
    delete articles, so doubles are listed on the task as leftovers."""
    account = task.account

    async def listed() -> list[base.FoundDraft]:
        drafts = await _call(client, account, "GET", "/api/articles/me/unpublished?per_page=30")
        return [
            base.FoundDraft(
                str(d["id"]), str(d.get("title", "")), None, str(d.get("body_markdown", ""))
            )
            for d in drafts
        ]

    await base.recover_lost_draft(
        ctx,
        task,
        listed=listed,
        delete=None,
        describe=lambda i: f"dev.to draft {i} (unpublished; delete it in the dashboard)",
        marker=base.task_marker(task.public_id),
    )


async def _published_url(
    client: httpx.AsyncClient, account: base.AccountAccess, article_id: str
) -> str | None:
    """The public endpoint finds only published articles [I]."""
    url = origin_url(account.options, ORIGIN, f"/api/articles/{article_id}")
    response = await send(client, "GET", url, PLATFORM)
    if response.status_code == 404:
        return None
    article = json_body(response, PLATFORM)
    return str(article["url"]) if response.status_code == 200 and article.get("url") else None


async def _update(
    ctx: base.PublishContext,
    client: httpx.AsyncClient,
    account: base.AccountAccess,
    article_id: str,
    article: dict[str, Any],
) -> base.PublishResult:
    """Edit the account's existing article in place (``PUT /api/articles/{id}``, as often as
    a retry needs: the same request leaves the same article)."""
    await ctx.progress(60, "update")
    await ctx.checkpoint("draft_id", article_id)  # the final check looks here
    await ctx.checkpoint(base.PUBLISH_SUBMITTED, True)
    payload = {"article": {**article, "published": True}}
    answer = await _call(client, account, "PUT", f"/api/articles/{article_id}", json=payload)
    await ctx.checkpoint("url", str(answer["url"]))
    return base.PublishResult(url=str(answer["url"]), post_id=article_id, updated=True)


async def _ensure_published(
    ctx: base.PublishContext,
    client: httpx.AsyncClient,
    account: base.AccountAccess,
    article_id: str,
) -> str:
    async def submit() -> str:
        payload = {"article": {"published": True}}
        path = f"/api/articles/{article_id}"
        return str((await _call(client, account, "PUT", path, json=payload))["url"])

    return await base.publish_once(
        ctx, look_up=lambda: _published_url(client, account, article_id), submit=submit
    )
