"""The ``local`` platform: publishes into a static HTML site in a folder.

Options: ``root`` (the site's folder), ``base_url`` (how the site is served; a ``file://``
URL by default), ``write_delay_seconds`` (a rehearsal knob: how slow the "platform" is).

The folder is on the server, so a user may only name one an administrator allowed:
``CONTENTHUB_LOCAL_ROOTS`` (folders separated by ``:``), or by default the user's own
``<data dir>/sites/<user name>/`` (an account without ``root`` gets ``…/<account name>``
there). The path is resolved (symbolic links, ``..``) before it is checked, and the resolved
path is what is stored. Every publish checks it again: a folder that now leads elsewhere
through a symbolic link, or a link planted inside the site, is refused (Rejected), and every
file is opened without following links.
Steps: images stored with the article (and ``data:`` ones) are copied into
``posts/<post id>.files/``, the page is written as a draft (checkpointed), then moved into the
site and listed (checkpointed): ``index.html`` (newest first, dates and tags), ``feed.xml``
(Atom) and ``style.css``, rebuilt from the journal ``published.jsonl``. A rerun resumes from
the checkpoints, so a post never goes live twice; a cancel before the second step leaves only
the recorded draft. A publish that updates (``TaskContent.update_of``) replaces the post's
page under its own id and keeps its first publication date.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import fcntl
import html
import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from contenthub.errors import Rejected, Transient
from contenthub.platforms import base, images, site_pages
from contenthub.platforms.render import markdown_to_html, summary
from contenthub.platforms.requirements import attachment_name

JOURNAL = "published.jsonl"
SITES = "sites"  # <data dir>/sites/<user name>/: each user's own folder, by default
LEGACY_SITE = "site"  # <data dir>/site: the default user's site before per-user folders
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_NO_FOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def allowed_roots(scope: base.AccountScope) -> list[Path]:
    """Where this user's local sites may be: the administrator's folders, or the user's own."""
    if scope.local_roots:
        return [Path(os.path.realpath(r)) for r in scope.local_roots]
    return [Path(os.path.realpath(scope.data_dir / SITES / _segment(scope.user, "user name")))]


def _segment(name: str, what: str) -> str:
    if not _SEGMENT.match(name):
        raise ValueError(f"the {what} {name!r} cannot name a folder")
    return name


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def site_root_for(root: str | None, scope: base.AccountScope) -> Path:
    """The resolved folder an account of ``scope.user`` may publish into; ValueError (said to
    the user) when it is not an allowed one."""
    roots = allowed_roots(scope)
    if not root:
        if scope.local_roots:
            raise ValueError("give the site's folder, under " + ", ".join(map(str, roots)))
        try:
            return roots[0] / _segment(scope.account, "account name")
        except ValueError as error:
            raise ValueError(f"{error}: give the site's folder, under {roots[0]}") from None
    if "\x00" in root or not Path(root).is_absolute():
        raise ValueError(f"must be an absolute folder, under {', '.join(map(str, roots))}")
    resolved = Path(os.path.realpath(root))
    if not _inside(resolved, roots):
        raise ValueError(
            f"{root} is outside the folders this server allows for your sites "
            f"({', '.join(map(str, roots))}); an administrator sets them (CONTENTHUB_LOCAL_ROOTS)"
        )
    return resolved


class LocalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str | None = Field(
        default=None,
        validate_default=True,
        max_length=4096,
        description="The site's folder on the server: under a folder the administrator allowed "
        "(by default your own <data dir>/sites/<user>/; omitted: <that>/<account name>).",
    )
    base_url: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^(https?|file)://\S+$",
        description="How the site is served (links in results); a file:// URL by default.",
    )
    write_delay_seconds: float = Field(default=0, ge=0, le=3600)

    @field_validator("root", mode="after")
    @classmethod
    def _allowed_folder(cls, root: str | None, info: ValidationInfo) -> str | None:
        scope = info.context
        if not isinstance(scope, base.AccountScope):
            return root  # shape only (the API's body); the service checks with the scope
        if root and root == scope.current_root:
            return root  # kept as it is; every publish checks it again
        return str(site_root_for(root, scope))


def _runtime_roots() -> list[Path]:
    """Every folder a site may be in when it is published (the owner is not known here): the
    administrator's folders, or every user's own folder and the legacy default site."""
    from contenthub.config import Settings

    settings = Settings.from_env()
    if settings.local_roots:
        return [Path(os.path.realpath(r)) for r in settings.local_roots]
    data_dir = Path(os.path.realpath(settings.data_dir))
    return [data_dir / SITES, data_dir / LEGACY_SITE]


def _open_no_follow(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags | _NO_FOLLOW, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:  # the name is a symbolic link
            raise Rejected(
                f"{path} is a symbolic link; the local site refuses to follow it"
            ) from None
        raise


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    if tmp.is_symlink():
        tmp.unlink()
    fd = _open_no_follow(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)  # replaces a link itself, never what it points at


def _page(task: base.TaskContent, body_html: str, cover: str | None, when: datetime) -> str:
    return site_pages.post_page(
        title=task.title,
        body_html=body_html,
        tags=task.tags,
        cover=cover,
        published=when,
    )


def _site_root(options: Mapping[str, Any]) -> Path:
    """The account's folder, checked again now: still allowed, and reached through no link."""
    text = str(options.get("root") or "")
    root = Path(text)
    if not text or "\x00" in text or not root.is_absolute():
        raise Rejected("the local account needs an absolute 'root' folder option")
    resolved = Path(os.path.realpath(root))
    if resolved != Path(os.path.normpath(root)):
        raise Rejected(f"the site folder {root} leads elsewhere through a symbolic link; refused")
    if not _inside(resolved, _runtime_roots()):
        raise Rejected(f"the site folder {root} is outside the folders this server allows")
    return resolved


def _site_folders(root: Path) -> None:
    """``posts/`` and ``drafts/`` made, and neither one a link out of the site."""
    try:
        for sub in ("posts", "drafts"):
            (root / sub).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise Transient(f"cannot create the site folder: {error.strerror}") from None
    for sub in ("posts", "drafts"):
        if (root / sub).is_symlink() or Path(os.path.realpath(root / sub)) != root / sub:
            raise Rejected(f"{root / sub} is a symbolic link; the local site refuses to follow it")


def _post_name(task: base.TaskContent) -> str:
    """The post's id: the task's own, or for an update the post it updates."""
    return task.update_of.post_id if task.update_of else task.public_id


def _copy_images(
    root: Path, post_id: str, body: str, cover: str | None, attachments: images.Attachments
) -> tuple[str, str | None]:
    """Images stored with the article (and ``data:`` ones) copied into ``posts/<id>.files/``,
    the body and cover pointing at the copies; web addresses stay as they are. An attachment
    that is missing fails the publish, naming it: the page would show it broken."""
    folder = root / "posts" / f"{post_id}.files"
    sources = [*images.image_urls(body), *([cover] if cover else [])]
    local = [s for s in dict.fromkeys(sources) if not s.startswith(("http://", "https://"))]
    if not local:
        return body, cover
    if folder.is_symlink():
        raise Rejected(f"{folder} is a symbolic link; the local site refuses to follow it")
    folder.mkdir(exist_ok=True)
    copies: dict[str, str] = {}
    for source in local:
        image = _image_bytes(source, attachments)
        _write_bytes(folder / image.filename, image.data)
        copies[source] = f"{folder.name}/{image.filename}"
    cover_copy = f"{copies[cover]}" if cover in copies else cover
    return images.replace_image_urls(body, copies), cover_copy


def _image_bytes(source: str, attachments: images.Attachments) -> images.ImageFile:
    if source.startswith("data:"):
        payload = source.partition(",")[2]
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise Rejected("an inline data: image is not valid base64") from None
    else:
        stored = attachments.get(attachment_name(source))
        if stored is None:
            raise Rejected(f"image {source} is not stored with the article (attach the file)")
        data = stored[1]
    kind = images.image_type(data)
    if kind is None:
        raise Rejected(f"image {source[:60]} is not a PNG, JPEG, GIF or WebP image")
    return images.ImageFile(data, kind, {"image/jpeg": "jpg"}.get(kind, kind.split("/")[1]))


def _write_bytes(path: Path, data: bytes) -> None:
    fd = _open_no_follow(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


class LocalPublisher(base.Publisher):
    platform = "local"
    features = base.Features(
        login="none (a server folder)",
        scheduled=False,
        review=False,
        note="files are copied beside the page; web images stay where they are",
    )
    base_url_use = "display"  # only written into the links of the site, never fetched
    options_model = LocalOptions
    credentials_model = base.NoCredentials
    requires = base.Requirements(edits_posts=True)

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        root = _site_root(task.options)
        delay = float(task.options.get("write_delay_seconds", 0) or 0)
        await asyncio.to_thread(_site_folders, root)
        post_id = _post_name(task)
        draft_path = root / "drafts" / f"{task.public_id}.html"
        post_path = root / "posts" / f"{post_id}.html"

        await ctx.progress(10, "render")
        body, cover = await asyncio.to_thread(
            _copy_images, root, post_id, task.body, task.cover, task.attachments
        )
        when = datetime.now(UTC)
        page = _page(task, markdown_to_html(body), cover, when)

        await ctx.progress(30, "draft")
        if "draft_path" not in ctx.checkpoints:
            await asyncio.to_thread(_write_atomic, draft_path, page)
            await ctx.checkpoint("draft_path", str(draft_path))

        await ctx.progress(50, "publish")
        if delay:
            await asyncio.sleep(delay)
        if "post_path" not in ctx.checkpoints:
            await ctx.progress(60, "publish")  # the last point where a cancel still applies
            await ctx.checkpoint(base.PUBLISH_SUBMITTED, True)
            await asyncio.to_thread(self._go_live, root, draft_path, post_path, task, when)
            await ctx.checkpoint("post_path", str(post_path))

        await ctx.progress(90, "verify")
        result = self._live_post(root, task)
        if result is None:
            raise Transient("the post is missing from the site after publishing")
        return result

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        return self._live_post(_site_root(task.options), task)

    @staticmethod
    def _live_post(root: Path, task: base.TaskContent) -> base.PublishResult | None:
        """The task's post if it is in the site (its page is named by the post's id)."""
        post_id = _post_name(task)
        name = f"{post_id}.html"
        post_path = root / "posts" / name
        if post_path.is_symlink() or not post_path.is_file():
            return None
        if html.escape(task.title) not in post_path.read_text("utf-8"):
            return None
        site_url = str(task.options.get("base_url") or root.as_uri()).rstrip("/")
        return base.PublishResult(
            url=f"{site_url}/posts/{name}", post_id=post_id, updated=task.update_of is not None
        )

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        """A folder needs no login; the account is usable when its root can be written."""
        root = _site_root(account.options)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise Transient(f"cannot create the site folder: {error.strerror}") from None
        return base.Identity(user_id=str(root), name=account.name)

    async def verify(
        self, account: base.AccountAccess, result: base.PublishResult
    ) -> base.Verification:
        root = _site_root(account.options)
        post = root / "posts" / f"{result.post_id}.html"
        return base.Verification(public=post.is_file() and not post.is_symlink(), url=result.url)

    def _go_live(
        self, root: Path, draft: Path, post: Path, task: base.TaskContent, when: datetime
    ) -> None:
        """Move the draft into the site, journal the publication (once), and list it."""
        already_live = not draft.exists() and post.exists()  # an earlier answer was lost
        if draft.exists():
            os.replace(draft, post)
        if not already_live:
            entry: dict[str, Any] = {
                "post_id": _post_name(task),
                "title": task.title,
                "tags": list(task.tags),
                "summary": summary(task.body, max_chars=200),
                "at": when.isoformat(),
                "task": task.public_id,
            }
            fd = _open_no_follow(root / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            with os.fdopen(fd, "a", encoding="utf-8") as journal:
                journal.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._rebuild_index(root, str(task.options.get("base_url") or root.as_uri()))

    @staticmethod
    def _rebuild_index(root: Path, site_url: str) -> None:
        """The index, the feed and the stylesheet, from the journal: each post once (its last
        title, tags and summary; first published, last updated), newest first."""
        with os.fdopen(
            _open_no_follow(root / ".index.lock", os.O_WRONLY | os.O_CREAT), "w"
        ) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            posts = _listed_posts(root)
            _write_atomic(root / "index.html", site_pages.index_page(posts))
            _write_atomic(root / site_pages.FEED, site_pages.atom_feed(posts, site_url.rstrip("/")))
            _write_atomic(root / site_pages.STYLESHEET, site_pages.CSS)


def _listed_posts(root: Path) -> list[site_pages.Listed]:
    merged: dict[str, site_pages.Listed] = {}
    journal = root / JOURNAL
    lines = journal.read_text("utf-8").splitlines() if journal.is_file() else []
    for line in lines:
        try:
            entry = json.loads(line)
            post_id = str(entry["post_id"])
        except (ValueError, KeyError, TypeError):
            continue
        page = root / "posts" / f"{post_id}.html"
        if page.is_symlink() or not page.is_file():
            continue
        at = _when(entry.get("at"), page)
        first = merged.get(post_id)
        merged[post_id] = site_pages.Listed(
            post_id=post_id,
            title=str(entry.get("title") or post_id),
            tags=[str(t) for t in entry.get("tags") or []],
            summary=str(entry.get("summary") or ""),
            published=first.published if first else at,
            updated=at,
        )
    return sorted(merged.values(), key=lambda p: p.published, reverse=True)


def _when(text: Any, page: Path) -> datetime:
    """The journal's time; an entry from before times were kept: the page's file time."""
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return datetime.fromtimestamp(page.stat().st_mtime, UTC)
