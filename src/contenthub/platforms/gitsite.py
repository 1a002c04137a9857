"""A static site in a git repository (Hugo, Jekyll, Hexo): the article is written as Markdown
with the generator's front matter, its images beside it, committed, and pushed to the site's
remote, whose build (GitHub Pages, a CI job, a hook) publishes it.

Options: ``remote`` (an ``https://`` address, or an absolute folder on the server holding a
bare repository — only under the folders the local platform may use: ``CONTENTHUB_LOCAL_ROOTS``
or the user's ``<data dir>/sites/<user>/``), ``branch`` (``main``), ``generator``,
``content_dir`` (the generator's usual one by default), ``base_url`` (the site's public address:
the post's link is made from it, it is never fetched), ``author_name``/``author_email``.
Credentials: none for a folder; for https an access token (``token``, sent as HTTP Basic with
``username``, ``x-access-token`` by default: GitHub; GitLab takes ``oauth2``).

Where each generator wants a post (references: Hugo https://gohugo.io/content-management/
page-bundles/ and /front-matter/; Jekyll https://jekyllrb.com/docs/posts/ and /permalinks/
(the default ``date`` style); Hexo https://hexo.io/docs/writing and /permalinks):

- Hugo: ``content/posts/<slug>/index.md``, a leaf bundle: images beside it, linked relatively;
  front matter ``title, date, draft: false, tags, images`` (the cover: Hugo's own OpenGraph
  template reads ``images``); the page is ``/posts/<slug>/``.
- Jekyll: ``_posts/<yyyy-mm-dd>-<slug>.md``, images in ``assets/<slug>/``; ``layout: post,
  title, date, tags, image`` (jekyll-seo-tag's cover); the page is ``/yyyy/mm/dd/<slug>.html``.
- Hexo: ``source/_posts/<slug>.md``, images in ``source/images/<slug>/``; ``title, date, tags,
  cover``; the page is ``/yyyy/mm/dd/<slug>/``.

The git CLI is run as a subprocess (not GitPython, which wraps the same CLI with blocking calls
and one more dependency): asyncio runs it without a thread, a cancel or a timeout kills it, and
its environment is ours alone — no user or system configuration, no prompts, only the ``https``
and ``file`` transports (``GIT_ALLOW_PROTOCOL``), the token in an environment variable (never
on a command line, never in a URL, so never in a message), no http redirects followed and an
https host connected only at the addresses the outbound policy approved (``GIT_CONFIG_*``:
``http.followRedirects=false``, ``http.curloptResolve``).

Steps, each attempt in a fresh shallow clone (50 commits): login (``git ls-remote``) → lookup:
a commit of this task already on the branch (its ``Contenthub-Task: <task id>`` trailer,
``git log --grep``) ends the publish → images (downloaded through the outbound policy, named
by their content) → commit (checkpointed: ``commit``) → push (``publish_submitted`` first; a
push refused because the branch moved on is Transient: the retry clones again) → verify: the
branch holds the commit. A retry after a crash therefore never commits twice, whatever the
crash's moment: the lookup finds what was pushed, and what was not pushed is made again.
A republish (``TaskContent.update_of``) rewrites the earlier post's file (its date and slug
carried over, so its page keeps its address) in a new commit with this task's trailer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from contenthub.errors import AuthExpired, Rejected, Transient
from contenthub.platforms import base
from contenthub.platforms.images import (
    download_client,
    fetch_image,
    image_urls,
    replace_image_urls,
)
from contenthub.platforms.local import _runtime_roots, site_root_for
from contenthub.platforms.outbound import OutboundRefused, current_policy
from contenthub.platforms.render import normalize_tags, sanitize_markdown

PLATFORM = "gitsite"
TRAILER = "Contenthub-Task"
CLONE_DEPTH = 50
DEFAULT_TIMEOUT_SECONDS = 60.0
MAX_IMAGE_BYTES = 20 * 1024 * 1024
Generator = Literal["hugo", "jekyll", "hexo"]
CONTENT_DIRS = {"hugo": "content/posts", "jekyll": "_posts", "hexo": "source/_posts"}
_SAFE_DIR = r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$"


class GitSiteOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remote: str = Field(
        min_length=1,
        max_length=2000,
        description="Where to push: an https:// address, or a bare repository's folder on the "
        "server (under the folders an administrator allowed).",
    )
    branch: str = Field(default="main", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,99}$")
    generator: Generator = "hugo"
    content_dir: str | None = Field(default=None, pattern=_SAFE_DIR)
    base_url: base.WebAddress = Field(description="The site's public address, for links.")
    author_name: str = Field(default="contenthub", min_length=1, max_length=100)
    author_email: str = Field(default="contenthub@localhost", pattern=r"^[^\s<>@]+@[^\s<>]+$")
    timeout_seconds: float | None = Field(default=None, gt=0, le=600)

    @field_validator("content_dir")
    @classmethod
    def _inside_repository(cls, value: str | None) -> str | None:
        if value and ".." in PurePosixPath(value).parts:
            raise ValueError("must stay inside the repository (no '..')")
        return value.strip("/") if value else value

    @field_validator("remote", mode="after")
    @classmethod
    def _allowed_remote(cls, remote: str, info: ValidationInfo) -> str:
        if remote.startswith("https://"):
            parts = urlsplit(remote)
            if not parts.hostname:
                raise ValueError(f"{remote!r} names no host")
            if parts.username or parts.password:
                raise ValueError("put the access token in the credentials, not in the address")
            return remote
        if not remote.startswith("/"):
            raise ValueError("must be an https:// address or an absolute folder on the server")
        scope = info.context
        if not isinstance(scope, base.AccountScope):
            return remote  # shape only; the service checks it with the user's folders
        return str(site_root_for(remote, scope))


class GitSiteCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: base.Secret | None = Field(default=None, description="An access token (https).")
    username: str = Field(default="x-access-token", min_length=1, max_length=100)


@dataclass(frozen=True)
class PostFiles:
    """Where one post goes in the repository, and where the site will serve it."""

    markdown: str  # the Markdown file, relative to the repository
    image_dir: str  # where its images are written
    image_link: str  # how the Markdown links an image: this prefix + the file name
    page: str  # the page's path on the site


def post_files(generator: str, content_dir: str | None, slug: str, day: datetime, site: str):
    """The files of a post and its page, as the generator lays them out."""
    folder = content_dir or CONTENT_DIRS[generator]
    root = urlsplit(site).path.rstrip("/")
    if generator == "hugo":
        section = folder.removeprefix("content").strip("/")
        page = f"{root}/{section}/{slug}/" if section else f"{root}/{slug}/"
        return PostFiles(f"{folder}/{slug}/index.md", f"{folder}/{slug}", "", page)
    if generator == "jekyll":
        name = f"{day:%Y-%m-%d}-{slug}"
        page = f"{root}/{day:%Y/%m/%d}/{slug}.html"
        return PostFiles(f"{folder}/{name}.md", f"assets/{slug}", f"{root}/assets/{slug}/", page)
    page = f"{root}/{day:%Y/%m/%d}/{slug}/"
    images = f"{root}/images/{slug}/"
    return PostFiles(f"{folder}/{slug}.md", f"source/images/{slug}", images, page)


def slug_for(title: str, public_id: str) -> str:
    """An ASCII slug from the title (Chinese titles give none), with the task's id for
    uniqueness: two posts of the same title never share a folder."""
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-")
    return f"{words}-{public_id[:8]}" if words else f"post-{public_id[:8]}"


def front_matter(generator: str, task: base.TaskContent, day: datetime, cover: str | None) -> str:
    """YAML front matter; strings and lists are written as JSON, which YAML reads as is."""
    fields: dict[str, Any] = {"title": task.title}
    if generator == "jekyll":
        fields = {"layout": "post", **fields, "date": f"{day:%Y-%m-%d %H:%M:%S +0000}"}
    elif generator == "hexo":
        fields["date"] = f"{day:%Y-%m-%d %H:%M:%S}"
    else:
        fields["date"] = day.isoformat()
        fields["draft"] = False
    fields["tags"] = normalize_tags(task.tags, limit=20)
    if cover:
        fields[{"hugo": "images", "jekyll": "image", "hexo": "cover"}[generator]] = (
            [cover] if generator == "hugo" else cover
        )
    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n\n"


class GitSitePublisher(base.Publisher):
    platform = PLATFORM
    features = base.Features(
        login="none, or an https token",
        scheduled=True,
        review=False,
        note="Hugo, Jekyll, Hexo; scheduled: a future date waits for a rebuild",
    )
    # A republish rewrites the post's file in a new commit.
    requires = base.Requirements(image_max_bytes=MAX_IMAGE_BYTES, edits_posts=True)
    base_url_use = "display"  # the site's address is only written into links
    options_model = GitSiteOptions
    credentials_model = GitSiteCredentials

    async def check_login(self, account: base.AccountAccess) -> base.Identity:
        git = await _Git.open(account)
        await git.branch_head()
        return base.Identity(user_id=git.remote, name=account.name)

    async def find_published(
        self, ctx: base.PublishContext, task: base.TaskContent
    ) -> base.PublishResult | None:
        if not base.may_have_published(ctx.checkpoints) and not ctx.checkpoints.get("url"):
            return None
        git = await _Git.open(task.account)
        with tempfile.TemporaryDirectory(prefix="contenthub-git-") as work:
            if not await git.clone(Path(work)):
                return None
            found = await git.commit_of(Path(work), task.public_id)
        url = ctx.checkpoints.get("url")
        return base.PublishResult(url=str(url), post_id=found) if found and url else None

    async def publish(self, ctx: base.PublishContext, task: base.TaskContent) -> base.PublishResult:
        account = task.account
        options = GitSiteOptions.model_validate(dict(account.options))
        day, slug = await _where(ctx, task)
        files = post_files(options.generator, options.content_dir, slug, day, options.base_url)
        site = urlsplit(options.base_url)
        url = f"{site.scheme}://{site.netloc}{files.page}"
        if ctx.checkpoints.get("url") != url:
            await ctx.checkpoint("url", url)

        await ctx.progress(5, "login")
        git = await _Git.open(account)
        with tempfile.TemporaryDirectory(prefix="contenthub-git-") as work:
            tree = Path(work)
            has_branch = await git.clone(tree)
            found = await git.commit_of(tree, task.public_id) if has_branch else None
            if found is None:
                await ctx.progress(15, "images")
                body, cover = await _write_images(tree, files, task)
                await ctx.progress(40, "draft")
                text = front_matter(options.generator, task, day, cover) + body
                found = await git.commit_post(tree, files.markdown, text, task)
                await ctx.checkpoint("commit", found)
                await ctx.progress(60, "publish")
                await ctx.progress(65, "publish")  # the last point where a cancel still applies
                await ctx.checkpoint(base.PUBLISH_SUBMITTED, True)
                await git.push(tree)
            elif ctx.checkpoints.get("commit") != found:
                await ctx.checkpoint("commit", found)
        result = base.PublishResult(url=url, post_id=found, updated=task.update_of is not None)
        return await self.confirm_public(ctx, account, result, noun="commit")

    async def verify(
        self, account: base.AccountAccess, result: base.PublishResult
    ) -> base.Verification:
        """Pushed is as public as this adapter can see: the site's own build takes it from there."""
        git = await _Git.open(account)
        holds = bool(result.post_id) and await git.branch_head() == result.post_id
        if not holds:  # the branch moved on since: is the commit among its last ones?
            with tempfile.TemporaryDirectory(prefix="contenthub-git-") as work:
                holds = await git.clone(Path(work)) and await git.holds(Path(work), result.post_id)
        detail = f"{'on' if holds else 'not on'} branch {git.branch} of {git.remote}"
        return base.Verification(public=holds, url=result.url, detail=detail)


async def _where(ctx: base.PublishContext, task: base.TaskContent) -> tuple[datetime, str]:
    """The post's date and slug, checkpointed: a new post's from now and its title; an update
    keeps the earlier post's (so the same file is rewritten and its page stays where it is)."""
    if not ctx.checkpoints.get("date"):
        prior = task.update_of.checkpoints if task.update_of else {}
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        await ctx.checkpoint("slug", prior.get("slug") or _slug_of(task))
        await ctx.checkpoint("date", str(prior.get("date") or now))
    slug = str(ctx.checkpoints.get("slug") or slug_for(task.title, task.public_id))
    return datetime.fromisoformat(str(ctx.checkpoints["date"])), slug


def _slug_of(task: base.TaskContent) -> str:
    """A new post's slug; an update's, for a post published before slugs were checkpointed,
    read from its page's address (the last part of the path, on every generator's layout)."""
    if task.update_of and task.update_of.url:
        last = PurePosixPath(urlsplit(task.update_of.url).path).name
        return last.removesuffix(".html")
    return slug_for(task.title, task.public_id)


async def _write_images(
    tree: Path, files: PostFiles, task: base.TaskContent
) -> tuple[str, str | None]:
    """Each image downloaded once and written beside the post, named by its content; the body
    and the cover point at those files. Written again on every attempt: nothing is kept
    between attempts but what was pushed."""
    body = sanitize_markdown(task.body)
    sources = [u for u in [*image_urls(body), task.cover] if u and not u.startswith("/")]
    links: dict[str, str] = {}
    if sources:
        folder = tree / files.image_dir
        folder.mkdir(parents=True, exist_ok=True)
        async with download_client() as downloads:
            for url in dict.fromkeys(sources):
                image = await fetch_image(downloads, url, max_bytes=MAX_IMAGE_BYTES)
                if not image.content_type.startswith("image/"):
                    raise Rejected(f"image {url} is {image.content_type}, not an image")
                (folder / image.filename).write_bytes(image.data)
                links[url] = files.image_link + image.filename
    cover = links.get(task.cover, task.cover) if task.cover else None
    return replace_image_urls(body, links), cover


class _Git:
    """The git CLI for one account: its remote, branch, identity and token."""

    def __init__(
        self,
        options: GitSiteOptions,
        credentials: GitSiteCredentials,
        addresses: list[str] | None = None,
    ) -> None:
        """``addresses``: where the outbound policy approved git may connect for an https
        remote; git is held to them."""
        self.remote = options.remote
        self.branch = options.branch
        self.timeout = options.timeout_seconds or DEFAULT_TIMEOUT_SECONDS
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ALLOW_PROTOCOL": "https:file",
            "GIT_AUTHOR_NAME": options.author_name,
            "GIT_AUTHOR_EMAIL": options.author_email,
            "GIT_COMMITTER_NAME": options.author_name,
            "GIT_COMMITTER_EMAIL": options.author_email,
        }
        self.env.update(_git_config(options.remote, addresses, credentials))

    @classmethod
    async def open(cls, account: base.AccountAccess) -> _Git:
        if shutil.which("git") is None:
            raise Rejected("git is not installed on this server")
        try:
            options = GitSiteOptions.model_validate(dict(account.options))
            credentials = GitSiteCredentials.model_validate(dict(account.credentials))
        except ValueError as error:
            raise Rejected(f"the git site account is not set up right: {error}") from None
        return cls(options, credentials, await _check_remote(options.remote))

    async def run(self, *args: str, cwd: Path | None = None) -> str:
        """One git command; its failure becomes an error class, in git's own words."""
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout)
        except (TimeoutError, asyncio.CancelledError) as stop:
            proc.kill()
            await proc.wait()
            if isinstance(stop, asyncio.CancelledError):
                raise
            raise Transient(f"git {args[0]} did not finish in {self.timeout:g} s") from None
        if proc.returncode:
            raise _git_error(args[0], err.decode(errors="replace"))
        return out.decode(errors="replace")

    async def branch_head(self) -> str | None:
        """The branch's commit on the remote; None when the repository has no commit at all.
        Also the login check: the remote answers, and the token (if any) is accepted."""
        listed = await self.run("ls-remote", "--heads", self.remote)
        heads = dict(reversed(line.split("\t")) for line in listed.splitlines() if "\t" in line)
        head = heads.get(f"refs/heads/{self.branch}")
        if head is None and heads:
            raise Rejected(f"the repository has no branch {self.branch!r}")
        return head

    async def clone(self, tree: Path) -> bool:
        """A shallow clone of the branch into ``tree``; False (and an empty repository set up
        to push the branch) when the remote has no commit yet."""
        if await self.branch_head() is None:
            await self.run("init", "--quiet", f"--initial-branch={self.branch}", str(tree))
            await self.run("remote", "add", "origin", self.remote, cwd=tree)
            return False
        await self.run(
            "clone", "--quiet", "--no-tags", "--single-branch", f"--depth={CLONE_DEPTH}",
            f"--branch={self.branch}", "--", self.remote, str(tree),
        )  # fmt: skip
        return True

    async def commit_of(self, tree: Path, public_id: str) -> str | None:
        """The commit on the branch that carries this task's trailer (the lost-answer lookup)."""
        grep = f"--grep=^{TRAILER}: {re.escape(public_id)}$"
        found = await self.run("log", "-n1", "--format=%H", grep, "HEAD", cwd=tree)
        return found.strip() or None

    async def holds(self, tree: Path, commit: str | None) -> bool:
        if not commit or not re.fullmatch(r"[0-9a-f]{40,64}", commit):
            return False
        listed = await self.run("rev-list", f"--max-count={CLONE_DEPTH}", "HEAD", cwd=tree)
        return commit in listed.split()

    async def commit_post(self, tree: Path, markdown: str, text: str, task: base.TaskContent):
        path = tree / markdown
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        await self.run("add", "--all", "--", ".", cwd=tree)
        verb = "Update" if task.update_of else "Publish"
        message = f"{verb}: {task.title}\n\n{TRAILER}: {task.public_id}\n"
        # --allow-empty: an update that changes nothing still gets its commit (its trailer).
        await self.run("commit", "--quiet", "--no-verify", "--allow-empty", "-m", message, cwd=tree)
        return (await self.run("rev-parse", "HEAD", cwd=tree)).strip()

    async def push(self, tree: Path) -> None:
        await self.run("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}", cwd=tree)


def _git_config(
    remote: str, addresses: list[str] | None, credentials: GitSiteCredentials
) -> dict[str, str]:
    """git's settings for one account, as GIT_CONFIG_* variables: never follow an http
    redirect (it could lead to an internal address), connect an https host only to the
    addresses the outbound policy approved (a second DNS answer could differ), and the
    token if there is one."""
    entries = [("http.followRedirects", "false")]
    parts = urlsplit(remote)
    if addresses and parts.hostname:
        pinned = ",".join(f"[{a}]" if ":" in a else a for a in addresses)
        entries.append(("http.curloptResolve", f"{parts.hostname}:{parts.port or 443}:{pinned}"))
    if credentials.token:
        basic = base64.b64encode(f"{credentials.username}:{credentials.token}".encode())
        entries.append(("http.extraHeader", f"Authorization: Basic {basic.decode()}"))
    env = {"GIT_CONFIG_COUNT": str(len(entries))}
    for number, (key, value) in enumerate(entries):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    return env


async def _check_remote(remote: str) -> list[str]:
    """At every publish: a folder must still be one a site may be in; an https host must be
    one the outbound policy lets the server reach (git connects by itself, so it is asked
    here, before git runs). The approved addresses of an https host; none for a folder."""
    if remote.startswith("/"):
        resolved = Path(os.path.realpath(remote))
        if not any(resolved == r or r in resolved.parents for r in _runtime_roots()):
            raise Rejected(f"{remote} is outside the folders this server allows for sites")
        return []
    parts = urlsplit(remote)
    try:
        return await current_policy().resolve(parts.hostname or "", parts.port or 443)
    except OSError as error:
        raise Transient(f"cannot resolve the git host {parts.hostname}: {error}") from None
    except Exception as error:  # the policy's refusal (a private address) or a DNS failure
        if "cannot resolve" in str(error):
            raise Transient(f"cannot reach the git host: {error}") from None
        raise OutboundRefused(remote, str(error)) from None


_AUTH = ("authentication failed", "could not read username", "403", "401", "permission denied")
_GONE = ("does not appear to be a git repository", "repository not found", "not found")
_MOVED = ("fetch first", "non-fast-forward", "[rejected]", "cannot lock ref")
_NETWORK = ("could not resolve host", "connection refused", "timed out", "unable to access")


def _git_error(command: str, stderr: str) -> Exception:
    text = " ".join(stderr.split())[-400:]
    lowered = text.lower()
    if any(word in lowered for word in _MOVED):
        return Transient(f"the branch moved on while publishing (git {command}): {text}")
    if any(word in lowered for word in _AUTH):
        return AuthExpired(f"the git remote refused the login (git {command}): {text}")
    if "remote rejected" in lowered or "pre-receive hook declined" in lowered:
        return Rejected(f"the git remote refused the push: {text}")
    if any(word in lowered for word in _NETWORK):
        return Transient(f"cannot reach the git remote (git {command}): {text}")
    if any(word in lowered for word in _GONE):
        return Rejected(f"the git remote is not a repository this account can use: {text}")
    return Rejected(f"git {command} failed: {text}")
