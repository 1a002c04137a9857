"""The git static-site adapter against a local bare repository holding a Hugo site: the pushed
post builds with Debian's ``hugo`` into a page showing the article and its image; a rerun, a
lost push answer and a refused push never leave two commits; Jekyll's and Hexo's layouts."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from contenthub.errors import Rejected
from contenthub.platforms.content import AccountAccess, PriorPost, TaskContent
from contenthub.platforms.gitsite import TRAILER, _Git, front_matter, post_files, slug_for
from contenthub.platforms.outbound import OutboundRefused, allowing
from contenthub.platforms.registry import publisher_for
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, png

SITE = "https://blog.example.org"
HUGO_FILES = {
    "hugo.toml": f'baseURL = "{SITE}/"\ntitle = "Test site"\n',
    "layouts/_default/single.html": "<html><body><h1>{{ .Title }}</h1>{{ .Content }}"
    "<p class='tags'>{{ delimit .Params.tags \", \" }}</p></body></html>\n",
    "layouts/_default/list.html": "<html><body>{{ range .Pages }}{{ .Title }}{{ end }}\n",
    "layouts/index.html": "<html><body>{{ range .Site.RegularPages }}{{ .Title }}{{ end }}\n",
}
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "site owner",
    "GIT_AUTHOR_EMAIL": "owner@example.org",
    "GIT_COMMITTER_NAME": "site owner",
    "GIT_COMMITTER_EMAIL": "owner@example.org",
}


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def hugo_repository(root: Path) -> Path:
    """A bare repository holding a minimal Hugo site on ``main``."""
    bare, seed = root / "site.git", root / "seed"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git("init", "--quiet", "--initial-branch=main", str(seed))
    for name, text in HUGO_FILES.items():
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(text)
    git("add", ".", cwd=seed)
    git("commit", "--quiet", "-m", "A Hugo site", cwd=seed)
    git("push", "--quiet", str(bare), "main", cwd=seed)
    return bare


@pytest.fixture
def bare_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CONTENTHUB_LOCAL_ROOTS", str(tmp_path))  # as an administrator allows
    yield hugo_repository(tmp_path)


def account_for(bare: Path, **options: object) -> dict:
    return {
        "name": "site",
        "options": {"remote": str(bare), "base_url": SITE, **options},
        "credentials": {},
    }


def commits_of(bare: Path, public_id: str) -> list[str]:
    grep = f"--grep=^{TRAILER}: {public_id}$"
    return git("log", "--format=%H", grep, "main", cwd=bare).split()


def run(task: TaskContent, ctx: RecordingContext):
    return asyncio.run(publisher_for("gitsite").publish(ctx, task))


def test_the_pushed_post_builds_with_hugo(
    bare_repo: Path, sandbox: SandboxServer, tmp_path: Path
) -> None:
    hugo = shutil.which("hugo")
    if hugo is None:
        pytest.fail("hugo is not installed: run scripts/install-test-deps", pytrace=False)
    image = sandbox.client.put_web_file("git-body.png", png(5, 5, shade=9), "image/png")
    cover = sandbox.client.put_web_file("git-cover.png", png(6, 6, shade=8), "image/png")
    body = f"Intro with **bold words**.\n\n![a square]({image})\n\n- one\n- two\n"
    task = content(account_for(bare_repo), title="Static 静态 site", body=body, cover=cover)
    ctx = RecordingContext()

    result = run(task, ctx)
    again = run(task, RecordingContext(ctx.checkpoints))

    assert again == result
    assert commits_of(bare_repo, task.public_id) == [result.post_id]
    slug = slug_for(task.title, task.public_id)
    assert result.url == f"{SITE}/posts/{slug}/"
    assert [s for s in ("login", "images", "draft", "publish", "verify") if s in ctx.stages] == [
        "login", "images", "draft", "publish", "verify",
    ]  # fmt: skip

    checkout = tmp_path / "checkout"
    git("clone", "--quiet", str(bare_repo), str(checkout))
    built = subprocess.run(
        [hugo, "--quiet", "--source", str(checkout), "--destination", str(tmp_path / "public")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    page_dir = tmp_path / "public" / "posts" / slug
    page = (page_dir / "index.html").read_text()
    assert "Static 静态 site" in page and "<strong>bold words</strong>" in page
    assert "Python, 测试" in page  # the tags, from the front matter
    [source] = [f for f in os.listdir(page_dir) if f.endswith(".png") and f in page]
    assert (page_dir / source).read_bytes() == png(5, 5, shade=9)
    matter = (checkout / "content/posts" / slug / "index.md").read_text().split("---")[1]
    assert yaml.safe_load(matter)["images"] == [
        next(f for f in os.listdir(page_dir) if f.endswith(".png") and f != source)
    ]


def test_a_lost_push_answer_is_found_by_its_trailer(bare_repo: Path, tmp_path: Path) -> None:
    """The branch is updated but the answer never comes (the hook holds it): the attempt is
    stopped there, and the next one finds the commit instead of pushing a second."""
    fifo, holding = tmp_path / "hold", tmp_path / "holding"
    os.mkfifo(fifo)
    held: int | None = os.open(fifo, os.O_RDWR)  # while it is open the hook's read waits
    hook = bare_repo / "hooks" / "post-receive"
    hook.write_text(f'#!/bin/sh\nexec 3<"{fifo}"\ntouch "{holding}"\ncat <&3 >/dev/null\n')
    hook.chmod(0o755)
    task = content(account_for(bare_repo))
    ctx = RecordingContext()

    async def push_whose_answer_is_lost() -> None:
        publishing = asyncio.ensure_future(publisher_for("gitsite").publish(ctx, task))
        while not holding.exists():  # the ref is updated, the hook holds the answer
            if publishing.done():
                publishing.result()  # its failure, if it ended early
                raise AssertionError("the publish ended before the hook held its answer")
            await asyncio.sleep(0.02)
        assert ctx.checkpoints["publish_submitted"]
        assert len(commits_of(bare_repo, task.public_id)) == 1
        publishing.cancel()  # the worker gives up on the answer (as on a stop or a timeout)
        release()
        with pytest.raises(asyncio.CancelledError):
            await publishing

    def release() -> None:
        nonlocal held
        if held is not None:
            os.close(held)  # the hook reads the end and exits
            held = None

    try:
        asyncio.run(push_whose_answer_is_lost())
    finally:
        release()
        hook.unlink()

    found = asyncio.run(publisher_for("gitsite").find_published(ctx, task))
    result = run(task, RecordingContext(ctx.checkpoints))

    assert commits_of(bare_repo, task.public_id) == [result.post_id]
    assert found is not None and found.post_id == result.post_id


def test_a_refused_push_is_rejected_in_the_remote_s_words(bare_repo: Path) -> None:
    hook = bare_repo / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'posts need a review first' >&2\nexit 1\n")
    hook.chmod(0o755)
    task = content(account_for(bare_repo))
    with pytest.raises(Rejected, match="posts need a review first"):
        run(task, RecordingContext())
    assert commits_of(bare_repo, task.public_id) == []


def test_a_remote_outside_the_allowed_folders_or_missing(bare_repo: Path, tmp_path: Path) -> None:
    elsewhere = content(account_for(Path("/usr/share")))
    with pytest.raises(Rejected, match="outside the folders"):
        run(elsewhere, RecordingContext())
    internal = content(account_for(Path("/x"), remote="https://10.1.2.3/site.git"))
    with pytest.raises(OutboundRefused, match=r"10\.1\.2\.3"):
        run(internal, RecordingContext())  # git is never asked to reach the internal network
    missing = AccountAccess("site", account_for(tmp_path / "nothing.git")["options"], {})
    with pytest.raises(Rejected, match="not a repository"):
        asyncio.run(publisher_for("gitsite").check_login(missing))


def test_git_follows_no_redirect_and_connects_only_where_the_policy_approved() -> None:
    """What git itself reads from the environment the adapter gives it (git connects on its
    own, so the approved addresses are pinned and redirects, which could lead inside, are
    refused); the token travels as a header, never in the remote."""
    remote = "https://localhost:4443/site.git"
    account = account_for(Path("/x"), remote=remote)
    access = AccountAccess("site", account["options"], {"token": "tok-123"})

    async def settings() -> tuple[str, str, str]:
        with allowing("localhost:4443"):
            site = await _Git.open(access)
        get = lambda key: site.run("config", "--get-all", key)  # noqa: E731
        return (
            await get("http.followRedirects"),
            await get("http.curloptResolve"),
            await get("http.extraHeader"),
        )

    redirects, resolve, header = asyncio.run(settings())
    assert redirects.strip() == "false"
    host, port, addresses = resolve.strip().split(":", 2)
    assert (host, port) == ("localhost", "4443")
    assert "127.0.0.1" in addresses.split(",")
    assert header.startswith("Authorization: Basic ") and "tok-123" not in remote


@pytest.mark.parametrize(
    ("generator", "markdown", "page", "cover_key"),
    [
        ("hugo", "content/posts/{slug}/index.md", "/blog/posts/{slug}/", "images"),
        ("jekyll", "_posts/2026-03-04-{slug}.md", "/blog/2026/03/04/{slug}.html", "image"),
        ("hexo", "source/_posts/{slug}.md", "/blog/2026/03/04/{slug}/", "cover"),
    ],
)
def test_each_generator_s_layout_and_front_matter(
    generator: str, markdown: str, page: str, cover_key: str
) -> None:
    day = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    files = post_files(generator, None, "a-post", day, "https://x.org/blog/")
    assert files.markdown == markdown.format(slug="a-post")
    assert files.page == page.format(slug="a-post")
    task = content({"name": "s", "options": {}, "credentials": {}}, title='Quote " and: colon')
    matter = yaml.safe_load(front_matter(generator, task, day, "c.png").split("---")[1])
    assert matter["title"] == 'Quote " and: colon' and matter["tags"] == ["Python", "测试"]
    assert matter[cover_key] in ("c.png", ["c.png"])


def test_verify_finds_the_commit_after_the_branch_moved_on(bare_repo: Path, tmp_path: Path) -> None:
    account = account_for(bare_repo)
    task = content(account)
    result = run(task, RecordingContext())
    later = tmp_path / "later"
    git("clone", "--quiet", str(bare_repo), str(later))
    (later / "about.md").write_text("---\ntitle: About\n---\n")
    git("add", ".", cwd=later)
    git("commit", "--quiet", "-m", "Someone else's page", cwd=later)
    git("push", "--quiet", "origin", "main", cwd=later)

    access = AccountAccess("site", account["options"], {})
    verification = asyncio.run(publisher_for("gitsite").verify(access, result))
    gone = asyncio.run(publisher_for("gitsite").verify(access, replace(result, post_id="0" * 40)))

    assert verification.public and not gone.public


def test_the_first_post_of_an_empty_repository(bare_repo: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(empty))
    task = content(account_for(empty, generator="jekyll"))

    ctx = RecordingContext()
    result = run(task, ctx)

    assert commits_of(empty, task.public_id) == [result.post_id]
    files = git("ls-tree", "-r", "--name-only", "main", cwd=empty).split()
    day = datetime.fromisoformat(ctx.checkpoints["date"])
    assert [f for f in files if f.startswith("_posts/")] == [
        f"_posts/{day:%Y-%m-%d}-{slug_for(task.title, task.public_id)}.md"
    ]


def test_a_republish_rewrites_the_same_file_in_a_new_commit(bare_repo: Path, tmp_path: Path):
    """An update (``TaskContent.update_of``): the post's file is rewritten where it is, in a
    new commit; the page keeps its address, the site holds one post."""
    task = content(account_for(bare_repo), title="Kept where it is", body="First words.\n")
    first_ctx = RecordingContext()
    first = run(task, first_ctx)
    prior = PriorPost(str(first.post_id), first.url, dict(first_ctx.checkpoints))
    edited = replace(
        task, public_id=str(uuid.uuid4()), title="Kept, retitled", body="Edited words.\n",
        update_of=prior,
    )  # fmt: skip

    again = run(edited, RecordingContext())

    assert again.updated and again.url == first.url and again.post_id != first.post_id
    assert commits_of(bare_repo, edited.public_id) == [again.post_id]
    checkout = tmp_path / "after-update"
    git("clone", "--quiet", str(bare_repo), str(checkout))
    [post] = list((checkout / "content/posts").glob("*/index.md"))
    text = post.read_text()
    assert "Edited words." in text and "First words." not in text and "Kept, retitled" in text
    assert post.parent.name == slug_for(task.title, task.public_id)
