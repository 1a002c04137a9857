"""简书 Jianshu through its writer's web API, with the account's browser cookies.

Credentials: a browser session (``platforms.session``: ``remember_user_token``,
``_m7e_session_core`` … on ``.jianshu.com``). Options: ``notebook`` (the 文集 to write into, by
name; default the first), ``base_url`` sends every host ``H`` to ``{base_url}/H`` (the
sandbox's ``/jianshu``), ``timeout_seconds``.

Steps and where each comes from ([W] Wechatsync ``packages/core/src/adapters/platforms/
jianshu.ts``; [F] AndrewAndrea/FreeOpenWrite ``app_doc/spider/jianshu_publish.py``; [M] thepoy's
``mbs/blogs/jianshu.py`` (a Markdown blog syncer); [I] inferred, no reference found):

* login check: ``GET /settings/basic.json`` → ``{data: {nickname, avatar}}`` [W];
* notebook: ``GET /author/notebooks`` → ``[{id, name}]`` [W, F, M];
* images: ``GET /upload_images/token.json?filename=…`` → ``{token, key}``, then a multipart
  POST of ``file``, ``token``, ``key``, ``x:protocol=https`` to Qiniu's
  ``upload.qiniup.com`` → ``{url}`` [F]. [W] posts to a ``url`` the token answer names
  and builds the address from ``key``; followed: [F] (and the Java JianShuClawer, which
  uses the same host and field), two against one; the answer's ``url`` is used either way;
* draft: ``POST /author/notes`` ``{notebook_id, title, at_bottom: false}`` → ``{id, slug}``
  (checkpointed) [W, F, M];
* content: ``PUT /author/notes/{id}`` ``{id, autosave_control, title, content}``, where
  ``autosave_control`` is the note's version, one more than the note list shows [M] (and
  its ``content_size_status`` must be ``fine``). The content is HTML, as [W] sends it for the
  rich-text editor; [F] and [M] send Markdown, which only accounts set to the Markdown editor
  render. Followed: [W], because HTML reads right in either editor;
* publish: ``POST /author/notes/{id}/publicize`` ``{}`` (checkpointed before and after) [F, M];
  the post is public at ``/p/{slug}`` [F];
* lost answers: ``GET /author/notebooks/{id}/notes`` lists a notebook's notes with ``title``,
  ``autosave_control`` [M] and ``shared`` (published) [I]; ``POST
  /author/notes/{id}/soft_destroy`` deletes a double [F, M];
* errors: ``{"error": [{code, message}]}`` on a non-200 answer [M]; 401 is a lost login [I].
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import Field

from contenthub.errors import Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import ImageFile, ImagePolicy, localize_images
from contenthub.platforms.render import markdown_to_html
from contenthub.platforms.session import CookieCredentials
from contenthub.platforms.transport import CookieSession, host_url, json_body, new_client, send

PLATFORM = "jianshu"
WEB, QINIU, CDN = "www.jianshu.com", "upload.qiniup.com", "upload-images.jianshu.io"


class JianshuOptions(base.PlatformOptions):
    notebook: str | None = Field(
        default=None, max_length=100, description="The 文集 (notebook) to write into, by name."
    )


class JianshuCredentials(CookieCredentials):
    cookie_domain = ".jianshu.com"


class JianshuPublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="web login (cookies)",
        scheduled=False,
        review=False,
        note="notebooks (文集) instead of tags",
    )
    requires = base.Requirements(tags_max=0, takes_cover=False)  # notebooks, no cover
    options_model = JianshuOptions
    credentials_model = JianshuCredentials
    login_page = base.LoginPage(host=WEB, path="/sign_in", session_cookie="remember_user_token")

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        async with _Writer(account) as writer:
            return await writer.me()

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        if ctx.checkpoints.get("url"):
            return base.PublishResult(str(ctx.checkpoints["url"]), str(ctx.checkpoints["draft_id"]))
        note_id, notebook_id = ctx.checkpoints.get("draft_id"), ctx.checkpoints.get("notebook_id")
        if not note_id or not notebook_id:
            return None
        async with _Writer(task.account) as writer:
            note = await writer.note(str(notebook_id), str(note_id))
        if not note or not note.get("shared"):
            return None
        return base.PublishResult(writer.public_url(str(note["slug"])), str(note_id))

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        async with _Writer(account) as writer:
            await ctx.progress(5, "login")
            await writer.me()
            if not ctx.checkpoints.get("notebook_id"):
                await ctx.checkpoint("notebook_id", await writer.notebook_id())
            notebook_id = str(ctx.checkpoints["notebook_id"])

            await ctx.progress(15, "images")
            policy = ImagePolicy(is_hosted=writer.is_hosted, upload=writer.upload_image)
            body, _ = await localize_images(  # no covers on Jianshu
                ctx, task.body, None, policy, task.attachments
            )
            content = markdown_to_html(body)

            await ctx.progress(40, "draft")
            if not ctx.checkpoints.get("draft_id"):
                await writer.recover_lost_draft(ctx, task, notebook_id)
            if not ctx.checkpoints.get("draft_id"):
                await base.note_draft_request(ctx)
                payload = {"notebook_id": notebook_id, "title": task.title, "at_bottom": False}
                created = await writer.call("POST", "/author/notes", json=payload)
                await ctx.checkpoint("draft_id", str(created["id"]))
            note_id = str(ctx.checkpoints["draft_id"])

            await ctx.progress(60, "publish")
            url = await _ensure_published(ctx, writer, notebook_id, note_id, task.title, content)

        result = base.PublishResult(url=url, post_id=note_id)
        return await self.confirm_public(ctx, account, result)


async def _ensure_published(
    ctx: base.PublishContext,
    writer: _Writer,
    notebook_id: str,
    note_id: str,
    title: str,
    content: str,
) -> str:
    if ctx.checkpoints.get("url"):
        return str(ctx.checkpoints["url"])
    note = await writer.note(notebook_id, note_id)
    if note is None:
        raise Rejected(f"Jianshu has no note {note_id} in the notebook any more")
    url = writer.public_url(str(note["slug"]))
    if not (ctx.checkpoints.get(base.PUBLISH_SUBMITTED) and note.get("shared")):
        version = int(note.get("autosave_control") or 0) + 1
        saved = await writer.call(
            "PUT",
            f"/author/notes/{note_id}",
            json={"id": note_id, "autosave_control": version, "title": title, "content": content},
        )
        if saved.get("content_size_status", "fine") != "fine":
            raise Rejected(f"Jianshu refused the content: {saved['content_size_status']}")
        await ctx.progress(65, "publish")  # the last point where a cancel still applies
        await ctx.checkpoint(base.PUBLISH_SUBMITTED, True)
        await writer.call("POST", f"/author/notes/{note_id}/publicize", json={})
    await ctx.checkpoint("url", url)
    return url


class _Writer(CookieSession):
    """One session with Jianshu's writer: cookies, the JSON answers and their errors."""

    platform_name = "Jianshu"
    cookie_domain = JianshuCredentials.cookie_domain
    origin = "https://www.jianshu.com"

    def public_url(self, slug: str) -> str:
        return host_url(self.options, WEB, f"/p/{slug}")

    def is_hosted(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return host == CDN or url.startswith(host_url(self.options, CDN, "/"))

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = host_url(self.options, WEB, path)
        headers = {"Accept": "application/json"}
        response = await send(self.client, method, url, PLATFORM, headers=headers, **kwargs)
        if response.status_code == 401:
            raise self.login_expired()
        answer = json_body(response, PLATFORM) if response.content else {}
        if response.status_code >= 400:
            errors = answer.get("error") if isinstance(answer, dict) else None
            first = errors[0] if isinstance(errors, list) and errors else {}
            message = first.get("message") if isinstance(first, dict) else None
            raise Rejected(
                f"Jianshu refused the request (HTTP {response.status_code}): {message or ''}"
            )
        return answer

    async def me(self) -> base.Identity:
        answer = await self.call("GET", "/settings/basic.json")
        user = (answer or {}).get("data") or {}
        if not user.get("nickname"):
            raise self.login_expired()
        name = str(user["nickname"])
        return base.Identity(user_id=str(user.get("id") or name), name=name)

    async def notebook_id(self) -> str:
        notebooks = await self.call("GET", "/author/notebooks") or []
        wanted = self.options.get("notebook")
        for notebook in notebooks:
            if not wanted or notebook.get("name") == wanted:
                return str(notebook["id"])
        if wanted:
            raise Rejected(f"Jianshu has no notebook (文集) named {wanted!r}")
        raise Rejected("the Jianshu account has no notebook (文集): create one first")

    async def notes(self, notebook_id: str) -> list[dict[str, Any]]:
        return list(await self.call("GET", f"/author/notebooks/{notebook_id}/notes") or [])

    async def note(self, notebook_id: str, note_id: str) -> dict[str, Any] | None:
        return next((n for n in await self.notes(notebook_id) if str(n["id"]) == note_id), None)

    async def upload_image(self, image: ImageFile) -> str:
        grant = await self.call(
            "GET", f"/upload_images/token.json?filename={quote(image.filename)}"
        )
        if not grant.get("token") or not grant.get("key"):
            raise Transient("Jianshu gave no upload token for an image")
        fields = {"token": grant["token"], "key": grant["key"], "x:protocol": "https"}
        files = {"file": (image.filename, image.data, image.content_type)}
        # Qiniu gets only the upload token, never the Jianshu cookies.
        async with new_client(self.options) as qiniu:
            url = host_url(self.options, QINIU, "/")
            response = await send(qiniu, "POST", url, PLATFORM, data=fields, files=files)
        answer = json_body(response, PLATFORM)
        if response.status_code != 200 or not isinstance(answer, dict) or not answer.get("url"):
            raise Transient(
                f"Jianshu's image store refused the upload (HTTP {response.status_code})"
            )
        return str(answer["url"])

    async def recover_lost_draft(
        self, ctx: base.PublishContext, task: base.TaskContent, notebook_id: str
    ) -> None:
        """A note an earlier attempt created without learning its id, found by title and time
        in the notebook, is taken over; doubles are deleted [I]."""

        async def listed() -> list[base.FoundDraft]:
            return [
                base.FoundDraft(str(n["id"]), str(n.get("title", "")), n.get("content_updated_at"))
                for n in await self.notes(notebook_id)
                if not n.get("shared")
            ]

        async def delete(note_id: str) -> None:
            await self.call("POST", f"/author/notes/{note_id}/soft_destroy")

        await base.recover_lost_draft(
            ctx,
            task,
            listed=listed,
            delete=delete,
            describe=lambda i: (
                "Jianshu draft "
                + host_url(self.options, WEB, f"/writer#/notebooks/{notebook_id}/notes/{i}")
            ),
        )
