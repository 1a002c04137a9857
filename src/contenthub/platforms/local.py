"""The ``local`` platform: publishes into a static HTML site in a folder.

Options: ``root`` (the site's folder), ``base_url`` (how the site is served; a ``file://``
URL by default), ``write_delay_seconds`` (a rehearsal knob: how slow the "platform" is).
Steps: the page is written as a draft (checkpointed), then moved into the site and listed
(checkpointed). A rerun resumes from the checkpoints, so a post never goes live twice; a
cancel before the second step leaves only the recorded draft.
"""

from __future__ import annotations

import asyncio
import fcntl
import html
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contenthub.errors import Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.render import markdown_to_html

JOURNAL = "published.jsonl"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _page(title: str, body_html: str, tags: list[str]) -> str:
    tag_line = " ".join(f"<span class='tag'>#{html.escape(t)}</span>" for t in tags)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><article>"
        f"<h1>{html.escape(title)}</h1><p>{tag_line}</p>{body_html}</article></body></html>\n"
    )


def _site_root(options: Mapping[str, Any]) -> Path:
    root = Path(str(options.get("root") or "")).expanduser()
    if not str(options.get("root") or "") or not root.is_absolute():
        raise Rejected("the local account needs an absolute 'root' folder option")
    return root


class LocalPublisher(base.Publisher):
    platform = "local"
    base_url_use = "display"  # only written into links; never fetched

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        root = _site_root(task.options)
        delay = float(task.options.get("write_delay_seconds", 0) or 0)
        try:
            (root / "posts").mkdir(parents=True, exist_ok=True)
            (root / "drafts").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise Transient(f"cannot create the site folder: {error.strerror}") from None
        name = f"{task.public_id}.html"
        draft_path, post_path = root / "drafts" / name, root / "posts" / name

        await ctx.progress(10, "render")
        page = _page(task.title, markdown_to_html(task.body), task.tags)

        await ctx.progress(30, "draft")
        if "draft_path" not in ctx.checkpoints:
            await asyncio.to_thread(_write_atomic, draft_path, page)
            await ctx.checkpoint("draft_path", str(draft_path))

        await ctx.progress(50, "publish")
        if delay:
            await asyncio.sleep(delay)
        if "post_path" not in ctx.checkpoints:
            await ctx.progress(60, "publish")  # the last point where a cancel still applies
            await asyncio.to_thread(self._go_live, root, draft_path, post_path, task)
            await ctx.checkpoint("post_path", str(post_path))

        await ctx.progress(90, "verify")
        if not post_path.is_file() or html.escape(task.title) not in post_path.read_text("utf-8"):
            raise Transient("the post is missing from the site after publishing")
        site_url = str(task.options.get("base_url") or root.as_uri()).rstrip("/")
        return base.PublishResult(url=f"{site_url}/posts/{name}", post_id=task.public_id)

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
        return base.Verification(public=post.is_file(), url=result.url)

    def _go_live(self, root: Path, draft: Path, post: Path, task: base.TaskContent) -> None:
        """Move the draft into the site, list it, and journal the publication (once)."""
        already_live = post.exists() and not draft.exists()  # an earlier attempt's answer was lost
        if draft.exists():
            os.replace(draft, post)
        self._rebuild_index(root)
        if already_live:
            return
        entry: dict[str, Any] = {"post_id": task.public_id, "title": task.title}
        with (root / JOURNAL).open("a", encoding="utf-8") as journal:
            journal.write(json.dumps(entry, ensure_ascii=False) + "\n")

    @staticmethod
    def _rebuild_index(root: Path) -> None:
        with (root / ".index.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            items = []
            for post in sorted((root / "posts").glob("*.html"), key=lambda p: p.stat().st_mtime):
                text = post.read_text("utf-8")
                start, end = text.find("<title>") + 7, text.find("</title>")
                items.append(f"<li><a href='posts/{post.name}'>{text[start:end]}</a></li>")
            _write_atomic(
                root / "index.html",
                "<!doctype html><html><head><meta charset='utf-8'><title>Posts</title></head>"
                f"<body><h1>Posts</h1><ul>{''.join(reversed(items))}</ul></body></html>\n",
            )
