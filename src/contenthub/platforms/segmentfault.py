"""SegmentFault 思否 through its web editor's gateway, with the account's browser cookies.

Credentials: a browser session (``platforms.session``: ``PHPSESSID`` … on
``.segmentfault.com``). Options: ``base_url`` sends every host ``H`` to ``{base_url}/H`` (the
sandbox's ``/segmentfault``), ``timeout_seconds``.

Steps and where each comes from ([W] Wechatsync ``packages/core/src/adapters/platforms/
segmentfault.ts``, in the fork chenwenbo/dzj-sync, which adds the publish step; [F]
AndrewAndrea/FreeOpenWrite ``app_doc/spider/segfault_publish.py``; [I] inferred, no reference
found):

* login check: ``GET /user/settings``, the page's ``href="/u/{slug}"`` names the user [W];
* the editor's token: ``GET /write``, ``"serverData":{"Token":"…"}`` in the page, sent as the
  ``token`` header on every gateway call [W]. [F] (2021) sends the ``PHPSESSID`` cookie's value
  as the token and calls ``gateway.segmentfault.com``; followed: [W], the newer, which reads
  what the editor itself uses and calls ``segmentfault.com/gateway``;
* images: ``POST /gateway/image`` (multipart ``image``) → ``{url, result}``, ``result`` the
  absolute URL [W]; the cover goes the same way and into the article's ``cover`` [W-fork];
* tags: ``GET /gateway/tags?query=search&q=…`` → ``{rows: [{id, name}]}``, the same name
  (case-insensitive) taken [W-fork, F]; at least one is needed to publish [W-fork];
* draft: ``POST /gateway/draft`` ``{title, tags, text, object_id: "", type: "article"}`` →
  ``{id}`` (checkpointed) [W, F];
* publish: ``POST /gateway/article`` ``{tags, title, text, draft_id, blog_id: "0", type: 1,
  url: "", cover, license: 1, log: ""}`` → HTTP 201 ``{id}`` (or ``{data: {id}}``), public at
  ``/a/{id}`` [W-fork, F] (checkpointed before and after);
* lost answers: ``GET /gateway/draft/{id}`` shows the article a draft became
  (``object_id``) [I]; ``GET /gateway/drafts`` lists drafts, ``DELETE /gateway/draft/{id}``
  removes a double [I];
* errors: a body of ``Unauthorized`` (HTTP 401) is a lost login, ``禁言``/``锁定`` (the account
  muted or locked) and ``[1, message]`` are refusals [W]; 429 and 5xx as everywhere.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from contenthub.errors import AuthExpired, Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import ImageFile, ImagePolicy, localize_images
from contenthub.platforms.render import normalize_tags, sanitize_markdown
from contenthub.platforms.session import CookieCredentials
from contenthub.platforms.transport import CookieSession, host_url, json_body, send

PLATFORM = "segmentfault"
WEB = "segmentfault.com"
IMAGE_HOST = "image-static.segmentfault.com"
MAX_TAGS = 5
_USER_LINK = re.compile(r'href="/u/([^"/?#]+)"')
_EDITOR_TOKEN = re.compile(r'serverData"\s*:\s*\{\s*"Token"\s*:\s*"([^"]+)"')
_BANNED = ("禁言", "锁定")


class SegmentFaultCredentials(CookieCredentials):
    cookie_domain = ".segmentfault.com"


class SegmentFaultPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="web login (cookies)",
        scheduled=False,
        review=False,
        note="needs at least one existing tag",
    )
    requires = base.Requirements(tags_min=1, tags_max=MAX_TAGS)  # existing tags only
    options_model = base.PlatformOptions
    credentials_model = SegmentFaultCredentials
    login_page = base.LoginPage(host=WEB, path="/user/login", session_cookie="PHPSESSID")

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _Gateway(account) as gateway:
            return await gateway.me()

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        async def article_of(draft_id: str) -> str | None:
            async with _Gateway(task.account) as gateway:
                await gateway.fetch_token()
                return await gateway.article_of_draft(draft_id)

        page = lambda article_id: host_url(task.account.options, WEB, f"/a/{article_id}")  # noqa: E731
        return await base.published_from_draft(ctx, article_of, page)

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        names = normalize_tags(task.tags, limit=MAX_TAGS)
        if not names:
            raise Rejected("SegmentFault publishes only articles with at least one tag")
        async with _Gateway(account) as gateway:
            await ctx.progress(5, "login")
            await gateway.me()
            await gateway.fetch_token()

            await ctx.progress(15, "images")
            policy = ImagePolicy(is_hosted=gateway.is_hosted, upload=gateway.upload_image)
            body, cover = await localize_images(
                ctx, task.body, task.cover, policy, task.attachments
            )
            text = sanitize_markdown(body)

            await ctx.progress(40, "draft")
            tag_ids = [await gateway.tag_id(name) for name in names]
            if not ctx.checkpoints.get("draft_id"):
                await gateway.recover_lost_draft(ctx, task)
            if not ctx.checkpoints.get("draft_id"):
                await base.note_draft_request(ctx)
                draft = {
                    "title": task.title,
                    "tags": [],
                    "text": text,
                    "object_id": "",
                    "type": "article",
                }
                created = await gateway.call("POST", "/gateway/draft", json=draft)
                await ctx.checkpoint("draft_id", str(_id_of(created)))
            draft_id = str(ctx.checkpoints["draft_id"])

            await ctx.progress(60, "publish")
            article = {
                "tags": tag_ids,
                "title": task.title,
                "text": text,
                "draft_id": draft_id,
                "blog_id": "0",
                "type": 1,  # original work
                "url": "",
                "cover": cover or "",
                "license": 1,
                "log": "",
            }
            article_id = await _ensure_published(ctx, gateway, article)

        url = host_url(account.options, WEB, f"/a/{article_id}")
        result = base.PublishResult(url=url, post_id=article_id)
        return await self.confirm_public(ctx, account, result)


async def _ensure_published(
    ctx: base.PublishContext, gateway: _Gateway, article: dict[str, Any]
) -> str:
    async def submit() -> str:
        return str(_id_of(await gateway.call("POST", "/gateway/article", json=article)))

    draft_id = str(article["draft_id"])
    return await base.publish_once(
        ctx, look_up=lambda: gateway.article_of_draft(draft_id), submit=submit, key="post_id"
    )


def _id_of(answer: Any) -> str:
    """The id in a gateway answer: ``{id}``, ``{data: {id}}`` or ``[0, {id}]`` [W]."""
    if isinstance(answer, list) and len(answer) > 1 and isinstance(answer[1], dict):
        answer = answer[1]
    if isinstance(answer, dict):
        found = answer.get("id") or (answer.get("data") or {}).get("id")
        if found:
            return str(found)
    raise Transient("SegmentFault's answer carried no id")


class _Gateway(CookieSession):
    """One session with SegmentFault's editor: cookies, the editor token, the answers."""

    platform_name = "SegmentFault"
    cookie_domain = SegmentFaultCredentials.cookie_domain
    origin = "https://segmentfault.com"

    def __init__(self, account: base.AccountAccess) -> None:
        super().__init__(account)
        self.token = ""

    def is_hosted(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return host == IMAGE_HOST or url.startswith(host_url(self.options, IMAGE_HOST, "/"))

    async def page(self, path: str) -> str:
        response = await send(self.client, "GET", host_url(self.options, WEB, path), PLATFORM)
        # Logged out, the site redirects its pages to /user/login.
        if response.status_code in (301, 302, 303, 401, 403):
            raise self.login_expired()
        return response.text

    async def me(self) -> base.Identity:
        found = _USER_LINK.search(await self.page("/user/settings"))
        if not found:
            raise self.login_expired()
        return base.Identity(user_id=found[1], name=found[1])

    async def fetch_token(self) -> None:
        found = _EDITOR_TOKEN.search(await self.page("/write"))
        if not found:
            raise AuthExpired("SegmentFault's editor gave no token: log in to SegmentFault again")
        self.token = found[1]

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One gateway call with the editor's token; SegmentFault's error answers mapped."""
        headers = {"token": self.token, "Accept": "*/*"}
        url = host_url(self.options, WEB, path)
        response = await send(self.client, method, url, PLATFORM, headers=headers, **kwargs)
        _raise_for_answer(response)
        if response.status_code == 204:
            return {}
        answer = json_body(response, PLATFORM)
        if isinstance(answer, list) and answer and answer[0] == 1:
            raise Rejected(f"SegmentFault refused the request: {answer[1] if answer[1:] else ''}")
        return answer

    async def tag_id(self, name: str) -> str:
        found = await self.call("GET", f"/gateway/tags?query=search&q={quote(name)}")
        rows = found.get("rows") or [] if isinstance(found, dict) else []
        match = next((r for r in rows if str(r.get("name", "")).lower() == name.lower()), None)
        if match is None:
            raise Rejected(f"SegmentFault has no tag named {name!r}")
        return str(match["id"])

    async def upload_image(self, image: ImageFile) -> str:
        files = {"image": (image.filename, image.data, image.content_type)}
        answer = await self.call("POST", "/gateway/image", files=files)
        url = answer.get("result") if isinstance(answer, dict) else None
        if not url:
            raise Transient("SegmentFault gave no URL for an uploaded image")
        return str(url)

    async def article_of_draft(self, draft_id: str) -> str | None:
        """The article a draft became, if it was published already (an answer lost) [I]."""
        draft = await self.call("GET", f"/gateway/draft/{draft_id}")
        article_id = str((draft or {}).get("object_id") or "")
        return article_id if article_id not in ("", "0") else None

    async def recover_lost_draft(self, ctx: base.PublishContext, task: base.TaskContent) -> None:
        """A draft an earlier attempt created without learning its id, found by title and
        creation time in the draft list, is taken over; doubles are deleted [I]."""

        async def listed() -> list[base.FoundDraft]:
            found = await self.call("GET", "/gateway/drafts?page=1")
            return [
                base.FoundDraft(
                    str(d["id"]), str(d.get("title", "")), base.unix_time(d.get("created"))
                )
                for d in (found.get("rows") or [] if isinstance(found, dict) else [])
            ]

        async def delete(draft_id: str) -> None:
            await self.call("DELETE", f"/gateway/draft/{draft_id}")

        await base.recover_lost_draft(
            ctx,
            task,
            listed=listed,
            delete=delete,
            describe=lambda i: (
                "SegmentFault draft " + host_url(self.options, WEB, f"/write?draftId={i}")
            ),
        )


def _raise_for_answer(response: httpx.Response) -> None:
    text = response.text.strip()
    if response.status_code == 401 or text == "Unauthorized":
        raise AuthExpired("SegmentFault login expired: log in to SegmentFault again")
    if any(word in text for word in _BANNED) and response.status_code >= 400:
        raise Rejected(f"SegmentFault refused the account: {text[:200]}")
    if response.status_code >= 400:
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        message = answer.get("message") or answer.get("msg") if isinstance(answer, dict) else ""
        status = response.status_code
        raise Rejected(f"SegmentFault refused the request (HTTP {status}): {message or text[:200]}")
