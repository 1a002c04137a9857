"""MetaWeblog over XML-RPC: one adapter for every blog engine that speaks it.

Engines (option ``engine``) and where each one's endpoint is (option ``xmlrpc_path`` overrides):

- ``cnblogs`` (博客园): ``https://rpc.cnblogs.com/metaweblog/<blog_name>`` (``base_url``
  replaces the origin). Reference: https://rpc.cnblogs.com/metaweblog/<blog_name> (the
  service's own method list) and the Wechatsync extension's cnblogs adapter.
- ``wordpress``: ``<base_url>/xmlrpc.php``. Reference: WordPress
  ``wp-includes/class-wp-xmlrpc-server.php`` (``mw_newPost`` …),
  https://codex.wordpress.org/XML-RPC_MetaWeblog_API.
- ``typecho``: ``<base_url>/action/xmlrpc``. Reference: typecho/typecho
  ``var/Widget/XmlRpc.php`` (``mwNewPost`` …).
- ``zblog``: ``<base_url>/zb_system/xml-rpc/index.php``. Reference: zblogcn/zblogphp
  ``zb_system/xml-rpc/index.php``.
- ``custom``: ``<base_url><xmlrpc_path>``.

Methods (the MetaWeblog spec, http://xmlrpc.com/metaWeblogApi.html, plus Blogger 1.0's two):

- login check: ``blogger.getUsersBlogs(appkey, username, password)`` → the blog id and name;
- images: ``metaWeblog.newMediaObject(blogid, username, password, {name, type, bits})`` →
  ``{url}`` (WordPress adds the attachment ``id``);
- draft: ``metaWeblog.newPost(blogid, username, password, struct, publish=false)`` → post id;
  the struct is ``title``, ``description`` (HTML), ``mt_keywords`` (tags, comma separated),
  ``mt_excerpt``, and on WordPress ``wp_post_thumbnail`` (the cover's attachment id);
- publish: ``metaWeblog.editPost(postid, username, password, struct, publish=true)``; the same
  call on the earlier post is a republish that updates it in place (``TaskContent.update_of``);
  a post the engine keeps ``pending`` (a WordPress contributor's) ends ``in_review``;
- lookup: ``metaWeblog.getPost(postid, …)`` (its ``post_status`` where the engine gives one,
  WordPress and Typecho do; otherwise whether its ``link`` is served to the public [I]);
  ``metaWeblog.getRecentPosts(blogid, …, 20)`` finds a draft whose creation answer was lost
  (by title, time and the task's marker, an HTML comment in ``description``);
  ``blogger.deletePost(appkey, postid, …)`` removes doubles.

Credentials: ``{"username", "password"}``: the account password, or where the engine offers one
an access token (cnblogs: the MetaWeblog token from 设置 → 其他设置; WordPress: an application
password). Faults: WordPress answers a bad login with fault 403 ("Incorrect username or
password."), cnblogs and Typecho with their own words; a fault whose code is 403 or whose text
speaks of the password or login is AuthExpired, any other fault is Rejected with its text.

The cover: WordPress takes it as ``wp_post_thumbnail``; the other engines have no cover field,
so the cover is uploaded and put at the top of the body (their themes show the first image).

XML is built and read by ``xmlrpc.client.dumps``/``loads``; an answer declaring a DOCTYPE or
an entity (which XML-RPC never does: it is how an entity-expansion bomb or an external entity
comes in) is refused before it is parsed, and a fault's text is shown without the password
(some engines echo the request). It travels through our own httpx client
(``transport.new_client``), so the outbound policy applies as to every other adapter.
"""

from __future__ import annotations

import re
import xmlrpc.client
from typing import Any, Literal
from xml.parsers.expat import ExpatError

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contenthub.errors import AuthExpired, Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import (
    Attachments,
    ImageFile,
    ImagePolicy,
    localize_images,
    upload_once,
)
from contenthub.platforms.render import markdown_to_html, normalize_tags, summary
from contenthub.platforms.transport import new_client, send

PLATFORM = "metaweblog"
Engine = Literal["cnblogs", "wordpress", "typecho", "zblog", "custom"]
ENDPOINTS: dict[str, str] = {
    "wordpress": "/xmlrpc.php",
    "typecho": "/action/xmlrpc",
    "zblog": "/zb_system/xml-rpc/index.php",
}
CNBLOGS_ORIGIN = "https://rpc.cnblogs.com"
APP_KEY = "contenthub"  # Blogger's appkey: ignored by every engine listed
MAX_TAGS = 20
RECENT_POSTS = 20
# XML-RPC answers have neither; parsers expand what they declare.
_DECLARATIONS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_AUTH_WORDS = ("password", "login", "username", "密码", "登录", "用户名", "unauthor")


class MetaWeblogOptions(base.PlatformOptions):
    engine: Engine = Field(default="wordpress", description="The blog engine (its endpoint).")
    blog_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="cnblogs: the blog's name, as in https://www.cnblogs.com/<blog_name>.",
    )
    xmlrpc_path: str | None = Field(
        default=None,
        max_length=300,
        pattern=r"^/[^\s?#]*$",
        description="The endpoint's path on the site, when it is not the engine's usual one.",
    )
    blog_id: str | None = Field(
        default=None, max_length=100, description="Which of the user's blogs (default: the first)."
    )

    @model_validator(mode="after")
    def _endpoint_known(self) -> MetaWeblogOptions:
        if self.engine == "cnblogs" and not self.blog_name and not self.xmlrpc_path:
            raise ValueError("a cnblogs account needs 'blog_name'")
        if self.engine != "cnblogs" and not self.base_url:
            raise ValueError(f"a {self.engine} account needs 'base_url' (the site's address)")
        if self.engine == "custom" and not self.xmlrpc_path:
            raise ValueError("a custom engine needs 'xmlrpc_path'")
        return self


class MetaWeblogCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=200, description="The blog's user name.")
    password: base.Secret = Field(
        description="The password or the engine's access token (cnblogs: MetaWeblog token; "
        "WordPress: an application password)."
    )


def endpoint_of(options: dict[str, Any] | Any) -> str:
    """The XML-RPC address an account's options name."""
    engine = str(options.get("engine") or "wordpress")
    path = options.get("xmlrpc_path")
    if engine == "cnblogs":
        origin = str(options.get("base_url") or CNBLOGS_ORIGIN).rstrip("/")
        return f"{origin}{path or '/metaweblog/' + str(options.get('blog_name') or '')}"
    site = str(options.get("base_url") or "").rstrip("/")
    if not site:
        raise Rejected(f"the {engine} account needs a 'base_url' option (the site's address)")
    return f"{site}{path or ENDPOINTS.get(engine, '')}"


class MetaWeblogPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="user + password or token",
        scheduled=False,
        review=True,
        note="cnblogs, WordPress, Typecho, Z-Blog; cover: thumbnail or atop body",
    )
    requires = base.Requirements(tags_max=MAX_TAGS, edits_posts=True)  # metaWeblog.editPost
    # WordPress keeps a contributor's post "pending" until an editor publishes it.
    holds_for_review = True
    base_url_use = "site"  # self-hosted engines name their own site
    options_model = MetaWeblogOptions
    credentials_model = MetaWeblogCredentials

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _Blog(account) as blog:
            blog_id, name = await blog.login()
        return base.Identity(user_id=blog_id, name=name)

    async def review_state(
        self, account: base.AccountAccess, result: base.PublishResult
    ) -> base.ReviewState:
        """The engine's own word where it gives one (``post_status``: WordPress, Typecho):
        "pending" waits for an editor, "publish" is live, a post sent back to draft or trashed
        was refused. Otherwise from the public page."""
        if not result.post_id:
            return await super().review_state(account, result)
        try:
            async with _Blog(account) as blog:
                post = await blog.call("metaWeblog.getPost", result.post_id, *blog.login_pair)
        except _NotAllowed:  # a contributor may not read it: the public page tells
            return await super().review_state(account, result)
        status = post.get("post_status")
        link = str(post.get("link") or post.get("permaLink") or "") or result.url
        if status is None:
            return await super().review_state(account, result)
        if status == "publish":
            return base.ReviewState("live", link)
        if status in ("pending", "future"):
            return base.ReviewState("in_review", link)
        return base.ReviewState("refused", link, f"the blog set the post to {status!r}")

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        post_id = ctx.checkpoints.get("draft_id")
        if not post_id:
            return None
        url = ctx.checkpoints.get("url")
        if not url:
            async with _Blog(task.account) as blog:
                url = await blog.published_link(str(post_id))
        return base.PublishResult(url=str(url), post_id=str(post_id)) if url else None

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        async with _Blog(account) as blog:
            await ctx.progress(5, "login")
            blog.blog_id, _ = await blog.login()

            await ctx.progress(15, "images")
            policy = ImagePolicy(is_hosted=blog.is_hosted, upload=blog.upload_url)
            body, _ = await localize_images(ctx, task.body, None, policy, task.attachments)
            cover_field = await _cover(ctx, blog, task.cover, policy, task.attachments)
            if isinstance(cover_field, str):  # no cover field: the cover heads the body
                body = f"![]({cover_field})\n\n{body}"
            struct: dict[str, Any] = {
                "title": task.title,
                "description": f"{markdown_to_html(body)}\n{base.task_marker(task.public_id)}",
                "mt_keywords": ",".join(normalize_tags(task.tags, limit=MAX_TAGS)),
                "mt_excerpt": summary(body, max_chars=200),
            }
            if isinstance(cover_field, int):
                struct["wp_post_thumbnail"] = cover_field

            if task.update_of:
                await ctx.progress(60, "publish")
                updated = await _update(blog, task.update_of.post_id, struct)
                return await self.confirm_public(ctx, account, updated, noun="post")

            await ctx.progress(40, "draft")
            if not ctx.checkpoints.get("draft_id"):
                await blog.recover_lost_draft(ctx, task)
            if not ctx.checkpoints.get("draft_id"):
                await base.note_draft_request(ctx)
                post_id = await blog.call(
                    "metaWeblog.newPost", blog.blog_id, *blog.login_pair, struct, False
                )
                await ctx.checkpoint("draft_id", str(post_id))
            post_id = str(ctx.checkpoints["draft_id"])

            await ctx.progress(60, "publish")
            url = await _ensure_published(ctx, blog, post_id, struct)

        result = base.PublishResult(url=url, post_id=post_id)
        return await self.confirm_public(ctx, account, result, noun="post")


async def _cover(
    ctx: base.PublishContext,
    blog: _Blog,
    cover: str | None,
    policy: ImagePolicy,
    attachments: Attachments,
) -> int | str | None:
    """WordPress: the cover's attachment id (``wp_post_thumbnail``); other engines: its URL."""
    if not cover:
        return None
    if blog.engine != "wordpress":
        return await upload_once(ctx, "cover_url", cover, policy, attachments)
    thumbnail = ImagePolicy(is_hosted=lambda _: False, upload=blog.upload_id)
    return int(await upload_once(ctx, "cover_media_id", cover, thumbnail, attachments))


async def _update(blog: _Blog, post_id: str, struct: dict[str, Any]) -> base.PublishResult:
    """Edit the account's post in place (``metaWeblog.editPost``, publish=true); idempotent,
    so a rerun edits again. A post the engine keeps for review is handed back ``in_review``."""
    if not await _submit(blog, post_id, struct):
        return base.PublishResult(blog.waiting_link(post_id), post_id, updated=True)
    post = await blog.call("metaWeblog.getPost", post_id, *blog.login_pair)
    link = str(post.get("link") or post.get("permaLink") or "")
    return base.PublishResult(url=link or None, post_id=post_id, updated=True)


async def _submit(blog: _Blog, post_id: str, struct: dict[str, Any]) -> bool:
    """``editPost(…, publish=true)``; False when the post was submitted for review instead. A
    WordPress user who may write but not publish (a contributor) is refused the publish (fault
    401, "not allowed to publish"), so the post goes ``post_status: "pending"``, as WordPress's
    own editor sends it for them, and the publish ends ``in_review``. (Such a user may not read
    the post back either while it waits: ``getPost`` is refused too.)"""
    try:
        await blog.call("metaWeblog.editPost", post_id, *blog.login_pair, struct, True)
        return True
    except _NotAllowed:
        if blog.engine != "wordpress":
            raise
    pending = {**struct, "post_status": "pending"}
    await blog.call("metaWeblog.editPost", post_id, *blog.login_pair, pending, False)
    return False


async def _ensure_published(
    ctx: base.PublishContext, blog: _Blog, post_id: str, struct: dict[str, Any]
) -> str:
    if ctx.checkpoints.get("url"):
        return str(ctx.checkpoints["url"])
    if ctx.checkpoints.get("publish_submitted"):
        url = await blog.published_link(post_id)
        if url:
            await ctx.checkpoint("url", url)
            return url
    await ctx.progress(65, "publish")  # the last point where a cancel still applies
    await ctx.checkpoint("publish_submitted", True)
    # The thumbnail was set with the draft: WordPress refuses to set the same one again
    # ("Invalid attachment ID.": set_post_thumbnail reports an unchanged value as a failure).
    edit = {k: v for k, v in struct.items() if k != "wp_post_thumbnail"}
    if not await _submit(blog, post_id, edit):
        await ctx.checkpoint("url", blog.waiting_link(post_id))
        return blog.waiting_link(post_id)
    post = await blog.call("metaWeblog.getPost", post_id, *blog.login_pair)
    status = post.get("post_status")
    if status not in (None, "publish", "pending"):
        raise Rejected(f"the blog kept the post as {status!r}, not published")
    # "pending" (a WordPress contributor): the post waits for an editor; ``confirm_public``
    # asks ``review_state`` and the task ends in review.
    link = str(post.get("link") or post.get("permaLink") or "")
    if not link:
        raise Rejected("the blog published the post but gave no link to it")
    await ctx.checkpoint("url", link)
    return link


class _Blog:
    """One account's XML-RPC endpoint."""

    def __init__(self, account: base.AccountAccess) -> None:
        self.endpoint = endpoint_of(account.options)
        self.engine = str(account.options.get("engine") or "wordpress")
        username = str(account.credentials.get("username") or "")
        password = str(account.credentials.get("password") or "")
        if not username or not password:
            raise AuthExpired("the MetaWeblog account needs a username and a password or token")
        self.login_pair = (username, password)
        self.blog_id = str(account.options.get("blog_id") or "")
        self.site = str(httpx.URL(self.endpoint).copy_with(path="/", query=None))
        # Where the engine keeps uploads: under the site (cnblogs: its own image hosts).
        self.hosted_prefix = str(account.options.get("base_url") or "").rstrip("/") + "/"
        self.options = account.options
        self.client = new_client(account.options)

    async def __aenter__(self) -> _Blog:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()

    async def call(self, method: str, *params: Any) -> Any:
        """One XML-RPC call; faults become error classes, and no message carries the password."""
        request = xmlrpc.client.dumps(_xml_safe(params), method, encoding="utf-8")
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        response = await send(
            self.client, "POST", self.endpoint, PLATFORM, content=request.encode(), headers=headers
        )
        if response.status_code in (401, 403):
            raise AuthExpired(f"the blog refused the login (HTTP {response.status_code})")
        if response.status_code in (404, 405):
            raise self._not_xml_rpc(response)
        if response.status_code >= 400:
            raise Rejected(f"{self.endpoint} answered {method} with HTTP {response.status_code}")
        if _DECLARATIONS.search(response.content):
            raise Rejected(f"{self.endpoint} answered {method} with a DOCTYPE or entity: refused")
        try:
            (value,), _ = xmlrpc.client.loads(response.content, use_builtin_types=True)
        except xmlrpc.client.Fault as fault:
            raise _fault_error(method, fault, secret=self.login_pair[1]) from None
        except (ExpatError, ValueError, xmlrpc.client.ResponseError):
            raise self._not_xml_rpc(response) from None
        return value

    def _not_xml_rpc(self, response: httpx.Response) -> Rejected:
        kind = response.headers.get("content-type", "no content type")
        return Rejected(
            f"{self.endpoint} is not an XML-RPC endpoint (HTTP {response.status_code}, "
            f"{kind}): check the account's engine and xmlrpc_path"
        )

    async def login(self) -> tuple[str, str]:
        """The blog this account publishes to: its id and name."""
        blogs = await self.call("blogger.getUsersBlogs", APP_KEY, *self.login_pair)
        if not blogs:
            raise AuthExpired("the blog user has no blog to publish to")
        chosen = next((b for b in blogs if str(b.get("blogid")) == self.blog_id), None)
        if self.blog_id and chosen is None:
            raise Rejected(f"the user has no blog with id {self.blog_id!r}")
        chosen = chosen or blogs[0]
        return str(chosen["blogid"]), str(chosen.get("blogName") or self.login_pair[0])

    def waiting_link(self, post_id: str) -> str:
        """Where a WordPress post waiting for review will be: ``/?p=<id>`` (404 to visitors
        until it is published, then a redirect to its permalink)."""
        return f"{self.hosted_prefix}?p={post_id}"

    def is_hosted(self, url: str) -> bool:
        if self.engine == "cnblogs":
            return (httpx.URL(url).host or "").endswith(".cnblogs.com")
        return url.startswith(self.hosted_prefix)

    async def _upload(self, image: ImageFile) -> dict[str, Any]:
        media = {"name": image.filename, "type": image.content_type, "bits": image.data}
        return await self.call("metaWeblog.newMediaObject", self.blog_id, *self.login_pair, media)

    async def upload_url(self, image: ImageFile) -> str:
        uploaded = await self._upload(image)
        if not uploaded.get("url"):
            raise Rejected("the blog took the image but gave no URL for it")
        return str(uploaded["url"])

    async def upload_id(self, image: ImageFile) -> str:
        uploaded = await self._upload(image)
        return str(uploaded.get("id") or uploaded.get("attachment_id") or "")

    async def published_link(self, post_id: str) -> str | None:
        """The post's public link when it is published, else None."""
        post = await self.call("metaWeblog.getPost", post_id, *self.login_pair)
        link = str(post.get("link") or post.get("permaLink") or "")
        status = post.get("post_status")
        if status is not None:
            return link if status == "publish" and link else None
        if not link:
            return None
        async with new_client(self.options, follow_redirects=True) as client:
            response = await send(client, "GET", link, PLATFORM)
        return link if response.status_code == 200 else None

    async def recover_lost_draft(self, ctx: base.PublishContext, task: base.TaskContent) -> None:
        """A draft whose creation answer was lost: found among the recent posts by title, time
        and marker and taken over; doubles are deleted (``blogger.deletePost``)."""

        async def listed() -> list[base.FoundDraft]:
            recent = await self.call(
                "metaWeblog.getRecentPosts", self.blog_id, *self.login_pair, RECENT_POSTS
            )
            return [
                base.FoundDraft(
                    str(p.get("postid")),
                    str(p.get("title", "")),
                    base.unix_time(p.get("date_created_gmt") or p.get("dateCreated")),
                    str(p.get("description", "")),
                )
                for p in recent
                if p.get("post_status") in (None, "draft")
            ]

        async def delete(post_id: str) -> None:
            await self.call("blogger.deletePost", APP_KEY, post_id, *self.login_pair, True)

        await base.recover_lost_draft(
            ctx,
            task,
            listed=listed,
            delete=delete,
            describe=lambda i: f"draft post {i} on {self.site}",
            marker=base.task_marker(task.public_id),
        )


_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(value: Any) -> Any:
    """``value`` without the control characters XML 1.0 cannot carry (a pasted form feed would
    make the whole request unreadable to the engine: fault -32700)."""
    if isinstance(value, str):
        return _NOT_IN_XML.sub("", value)
    if isinstance(value, dict):
        return {k: _xml_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_xml_safe(v) for v in value)
    return value


class _NotAllowed(Rejected):
    """Fault 401: the user may not do this (WordPress: a contributor publishing)."""


def _fault_error(method: str, fault: xmlrpc.client.Fault, *, secret: str) -> Exception:
    text = str(fault.faultString).replace(secret, "[password]")
    if fault.faultCode == 401 and "not allowed" in text.lower():
        return _NotAllowed(f"the blog refused {method} ({fault.faultCode}): {text}")
    if fault.faultCode == 403 or any(word in text.lower() for word in _AUTH_WORDS):
        return AuthExpired(f"the blog refused the login ({fault.faultCode}): {text}")
    if fault.faultCode in (429, 503):
        return Transient(f"the blog is busy ({fault.faultCode}): {text}")
    return Rejected(f"the blog refused {method} ({fault.faultCode}): {text}")
