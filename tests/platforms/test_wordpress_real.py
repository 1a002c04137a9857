"""End to end against a real WordPress (Debian's package, served by ``php -S`` on loopback).

The site comes from ``tests/support/wordpress_site.py`` (packages: ``scripts/install-test-deps``).
With CI=true a missing piece (PHP, the package, MariaDB, our adapter) fails the run; elsewhere
the tests skip with the reason. They run once, on a SQLite database of their own, not once per
database backend: what they test is the WordPress side.
"""

from __future__ import annotations

import html
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from harness import start_worker, wait_until, worker_env
from wordpress_site import (
    FileServer,
    WordPressSite,
    WordPressUnavailable,
    png_bytes,
    serve_files,
    wordpress_site,
)

from contenthub import storage
from contenthub.api.routers.tasks import task_out
from contenthub.platforms.registry import known_platforms
from contenthub.secrets_box import SecretBox
from contenthub.storage import NewTask, migrate, task_enqueue
from contenthub.storage.db import Database
from tests.factories import T0, make_account, make_user

BODY_PNG = png_bytes(24, 16, (200, 60, 30))
COVER_PNG = png_bytes(32, 20, (30, 90, 200))
FINAL = ("succeeded", "failed", "cancelled")


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"WordPress end-to-end test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def wordpress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPressSite]:
    with ExitStack() as stack:
        try:
            site = stack.enter_context(wordpress_site(tmp_path_factory.mktemp("wordpress")))
        except WordPressUnavailable as error:
            missing = str(error)
        else:
            missing = ""
        if missing:
            _unavailable(missing)
        print(
            f"\nWordPress {site.version} at {site.base_url} ready in {site.startup_seconds:.2f} s "
            f"{site.timings}"
        )
        yield site


@pytest.fixture
def images() -> Iterator[FileServer]:
    files = {"/body.png": (BODY_PNG, "image/png"), "/cover.png": (COVER_PNG, "image/png")}
    with serve_files(files) as server:
        yield server


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'contenthub.db'}"
    database = Database.connect(url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def _image_sources(rendered: str) -> list[str]:
    return [html.unescape(s) for s in re.findall(r"<img\b[^>]*?\bsrc=\"([^\"]+)\"", rendered)]


def _media_by_url(site: WordPressSite, url: str) -> dict[str, Any]:
    found = [m for m in site.media(per_page=100) if m["source_url"] == url]
    assert found, f"{url} is not in WordPress's media library"
    return found[0]


def _download(url: str) -> bytes:
    with httpx.Client(timeout=30, trust_env=False) as client:
        response = client.get(url)
    assert response.status_code == 200, f"GET {url}: HTTP {response.status_code}"
    return response.content


def _assert_public_page(site: WordPressSite, link: str, title: str, *must_show: str) -> None:
    assert link.startswith(f"{site.base_url}/"), link
    page = site.public_page(link)
    assert page.status_code == 200, f"GET {link}: HTTP {page.status_code}"
    assert html.escape(title, quote=False) in page.text or title in page.text
    for text in must_show:
        assert text in page.text, f"the public page at {link} does not show {text!r}"


def test_publish_through_a_worker_to_real_wordpress(
    wordpress: WordPressSite,
    images: FileServer,
    sqlite_db: Database,
    processes,
    tmp_path: Path,
) -> None:
    try:
        from contenthub.platforms.wordpress import WordPressPublisher
    except ImportError as error:
        _unavailable(f"the WordPress adapter contenthub.platforms.wordpress is missing: {error}")
    assert WordPressPublisher.platform == "wordpress"
    assert "wordpress" in known_platforms(), (
        "contenthub.platforms.registry does not map platform 'wordpress' to the adapter, so a "
        "worker cannot publish there"
    )

    site, db = wordpress, sqlite_db
    data_dir = tmp_path / "data"
    sealed = SecretBox.from_env(data_dir).seal(site.credentials)
    user = make_user(db, "ann")
    account = make_account(
        db, user, "blog", platform="wordpress", options=site.options, credentials=sealed
    )
    title = f"Real WordPress {uuid.uuid4().hex[:8]}"
    body = (
        "An intro with **bold words** and a [link](https://example.com/docs).\n\n"
        f"![A red square]({images.url}/body.png)\n\n"
        "- first point\n- second point\n"
    )
    tags = ["contenthub", "Real WordPress"]
    new = NewTask(
        user_id=user,
        account_id=account,
        title=title,
        body=body,
        tags=tags,
        cover=f"{images.url}/cover.png",
    )
    [public_id] = db.write(lambda s: task_enqueue(s, [new], now=T0))

    log = tmp_path / "worker.log"
    start_worker(
        processes,
        worker_env(db.engine.url.render_as_string(hide_password=False), data_dir),
        slots=1,
        log=log,
    )

    def finished() -> dict[str, Any] | None:
        row = db.read(lambda s: storage.task_get(s, public_id, user_id=None))
        return row if row["status"] in FINAL else None

    task = wait_until(finished, timeout=120, what="the publish to WordPress to finish")
    assert task["status"] == "succeeded", (
        f"publish {task['status']}: {task['error_class']}: {task['error_message']}\n"
        f"worker log:\n{log.read_text(errors='replace')[-3000:]}"
    )

    # The post, as WordPress's own REST API has it: exactly one, published.
    found = site.posts(search=title, status="any")
    assert [p["title"]["raw"] for p in found] == [title]
    post = found[0]
    assert task["post_id"] == str(post["id"]), "the task's post_id is not WordPress's post id"
    assert post["status"] == "publish"
    assert post["title"]["rendered"] == html.escape(title, quote=False)

    rendered = post["content"]["rendered"]
    assert "<strong>bold words</strong>" in rendered
    assert 'href="https://example.com/docs"' in rendered
    assert "<li>first point</li>" in rendered and "<li>second point</li>" in rendered

    # The body's image was downloaded, uploaded to the media library, and the body points at it.
    assert images.hits.get("/body.png"), "the adapter never downloaded the body's image"
    [src] = _image_sources(rendered)
    assert src.startswith(f"{site.base_url}/wp-content/uploads/"), src
    body_media = _media_by_url(site, src)
    assert body_media["mime_type"] == "image/png"
    assert _download(src) == BODY_PNG

    # Tags by name, and the cover as the featured image.
    assert sorted(t["name"] for t in site.tags(post["tags"])) == sorted(tags)
    assert post["featured_media"], "the post has no featured image"
    cover = site.media(post["featured_media"])
    assert cover["mime_type"] == "image/png"
    assert cover["id"] != body_media["id"]
    assert _download(cover["source_url"]) == COVER_PNG

    # The public page at the returned link shows the article, its image and its cover.
    _assert_public_page(
        site,
        task["result_url"],
        title,
        "bold words",
        src,
        Path(cover["source_url"]).stem,
    )


def test_site_takes_a_post_with_tag_image_and_featured_media_over_rest(
    wordpress: WordPressSite,
) -> None:
    """The fixture on its own, with httpx and the application password: what the adapter does."""
    site = wordpress
    with site.client() as client:
        upload = client.post(
            f"{site.api}/media",
            content=BODY_PNG,
            headers={
                "Content-Type": "image/png",
                "Content-Disposition": 'attachment; filename="square.png"',
            },
        )
        assert upload.status_code == 201, upload.text
        media = upload.json()
        tag = client.post(f"{site.api}/tags", json={"name": f"fixture {uuid.uuid4().hex[:6]}"})
        assert tag.status_code == 201, tag.text
        title = f"Fixture check {uuid.uuid4().hex[:8]}"
        created = client.post(
            f"{site.api}/posts",
            json={
                "title": title,
                "content": f'<p>Hello <em>there</em></p><figure><img src="{media["source_url"]}"'
                ' alt="square"></figure>',
                "status": "publish",
                "tags": [tag.json()["id"]],
                "featured_media": media["id"],
            },
        )
        assert created.status_code == 201, created.text
    post = site.post(created.json()["id"])
    assert post["title"]["raw"] == title
    assert "<em>there</em>" in post["content"]["rendered"]
    assert _image_sources(post["content"]["rendered"]) == [media["source_url"]]
    assert [t["name"] for t in site.tags(post["tags"])] == [tag.json()["name"]]
    assert post["featured_media"] == media["id"]
    assert site.media(media["id"])["mime_type"] == "image/png"
    assert _download(media["source_url"]) == BODY_PNG
    _assert_public_page(
        site,
        post["link"],
        title,
        "<em>there</em>",
        media["source_url"],
        Path(media["source_url"]).stem,
    )
    # Pretty permalinks: the link is /<slug>/, served through the router.
    assert post["link"] == f"{site.base_url}/{post['slug']}/"


def test_metaweblog_publishes_to_real_wordpress_xmlrpc(
    wordpress: WordPressSite, images: FileServer
) -> None:
    """The MetaWeblog adapter against WordPress's own xmlrpc.php (application password as the
    XML-RPC password): the body's image through newMediaObject, the cover as the post
    thumbnail, tags as mt_keywords; a rerun from the checkpoints posts nothing twice."""
    import asyncio
    from dataclasses import replace

    from contenthub.platforms.content import PriorPost, TaskContent
    from contenthub.platforms.registry import publisher_for
    from tests.platforms.conftest import RecordingContext

    site = wordpress
    title = f"Over XML-RPC {uuid.uuid4().hex[:8]}"
    task = TaskContent(
        public_id=str(uuid.uuid4()),
        title=title,
        body=f"Some **strong words**.\n\n![square]({images.url}/body.png)\n",
        tags=["xmlrpc", "MetaWeblog"],
        cover=f"{images.url}/cover.png",
        account_name="blog-xmlrpc",
        options={"base_url": site.base_url, "engine": "wordpress"},
        credentials={"username": site.username, "password": site.app_password},
    )
    ctx = RecordingContext()
    publisher = publisher_for("metaweblog")
    result = asyncio.run(publisher.publish(ctx, task))
    again = asyncio.run(publisher.publish(RecordingContext(ctx.checkpoints), task))

    assert again == result
    [post] = site.posts(search=title, status="any")
    assert str(post["id"]) == result.post_id and post["status"] == "publish"
    assert "<strong>strong words</strong>" in post["content"]["rendered"]
    [src] = _image_sources(post["content"]["rendered"])
    assert src.startswith(f"{site.base_url}/wp-content/uploads/")
    assert _download(src) == BODY_PNG
    assert sorted(t["name"] for t in site.tags(post["tags"])) == ["MetaWeblog", "xmlrpc"]
    assert _download(site.media(post["featured_media"])["source_url"]) == COVER_PNG
    _assert_public_page(site, result.url or "", title, "strong words", src)

    # Published again, edited: metaWeblog.editPost changes the one post in place.
    prior = PriorPost(str(result.post_id), result.url, dict(ctx.checkpoints))
    edited = replace(
        task, public_id=str(uuid.uuid4()), title=f"{title} v2", update_of=prior,
        body=f"{task.body}\nA sentence added later.\n",
    )  # fmt: skip
    updated = asyncio.run(publisher.publish(RecordingContext(), edited))

    assert updated.updated and updated.post_id == result.post_id
    [post] = site.posts(search=title, status="any")
    assert post["title"]["rendered"] == f"{title} v2" and post["status"] == "publish"
    assert "A sentence added later." in post["content"]["rendered"]
    _assert_public_page(site, updated.url or "", f"{title} v2", "added later")


def test_a_contributors_post_over_xml_rpc_waits_for_review_then_goes_live(
    wordpress: WordPressSite,
) -> None:
    """A contributor may write but not publish: WordPress refuses editPost(publish=true) with
    fault 401, so the adapter submits the post for review ("pending"), and the publish ends
    in review; once an editor publishes it, ``review_state`` says it is live."""
    import asyncio

    from contenthub.platforms.content import TaskContent
    from contenthub.platforms.registry import publisher_for
    from tests.platforms.conftest import RecordingContext

    site = wordpress
    name = f"contrib{uuid.uuid4().hex[:6]}"
    made = site.rest(
        "POST", "/users", json={
            "username": name, "email": f"{name}@example.com", "roles": ["contributor"],
            "password": uuid.uuid4().hex,
        },
    )  # fmt: skip
    assert made.status_code == 201, made.text
    user_id = made.json()["id"]
    issued = site.rest("POST", f"/users/{user_id}/application-passwords", json={"name": "ch"})
    assert issued.status_code == 201, issued.text
    title = f"Needs an editor {uuid.uuid4().hex[:8]}"
    task = TaskContent(
        public_id=str(uuid.uuid4()),
        title=title,
        body="Written by a contributor, published by an editor.\n",
        tags=[],
        cover=None,
        account_name="blog-contributor",
        options={"base_url": site.base_url, "engine": "wordpress"},
        credentials={"username": name, "password": issued.json()["password"]},
    )
    publisher = publisher_for("metaweblog")

    result = asyncio.run(publisher.publish(RecordingContext(), task))

    assert result.in_review and result.post_id
    assert site.post(result.post_id)["status"] == "pending"
    assert site.public_page(result.url or "").status_code == 404
    account = task.account
    assert asyncio.run(publisher.review_state(account, result)).state == "in_review"
    approved = site.rest("POST", f"/posts/{result.post_id}", json={"status": "publish"})
    assert approved.status_code == 200, approved.text
    assert asyncio.run(publisher.review_state(account, result)).state == "live"


WIDE_PNG = png_bytes(1600, 240, (40, 160, 90))
HOSTILE_TITLE = "Why <script> tags block rendering (and how async & defer help): Queue<T>"
WRITER_BODY = (
    "Show `<img src=x onerror=window.__pwned=1>` in code: the excerpt starts with it.\n\n"
    "- [x] written\n- [ ] reviewed\n\n"
    "A claim with a footnote[^1] and a bare link https://example.com/bare in the text.\n\n"
    "| Left | Centre | Right |\n|:-----|:------:|------:|\n| a | b | c |\n\n"
    "![A wide green picture]({images}/wide.png)\n\n"
    "> Quoted wisdom.\n\n"
    "```python\nqueue: Queue[T] = Queue()\n```\n\n"
    "<details><summary>More</summary>Hidden text.</details>\n\n"
    '<iframe src="https://example.com/widget"></iframe>\n\n'
    "[^1]: The footnote's text.\n"
)


@pytest.fixture
def writer_images() -> Iterator[FileServer]:
    with serve_files({"/wide.png": (WIDE_PNG, "image/png")}) as server:
        yield server


def _publish_all(db: Database, user: int, account: int, tasks: list[dict[str, Any]]) -> list[str]:
    new = [NewTask(user_id=user, account_id=account, **fields) for fields in tasks]
    return db.write(lambda s: task_enqueue(s, new, now=T0))


def _finished(db: Database, public_id: str) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        row = db.read(lambda s: storage.task_get(s, public_id, user_id=None))
        return row if row["status"] in FINAL else None

    return wait_until(final, timeout=120, what=f"task {public_id} to finish")


def _our_uploads(site: WordPressSite) -> list[dict[str, Any]]:
    return [m for m in site.media(per_page=100) if m["media_type"] == "image"]


def test_a_writers_post_on_real_wordpress_looks_as_written(
    wordpress: WordPressSite,
    writer_images: FileServer,
    sqlite_db: Database,
    processes,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    site, db = wordpress, sqlite_db
    data_dir = tmp_path / "data"
    sealed = SecretBox.from_env(data_dir).seal(site.credentials)
    user = make_user(db, "wren")
    account = make_account(
        db, user, "realwp", platform="wordpress", options=site.options, credentials=sealed
    )
    title = f"{HOSTILE_TITLE} {uuid.uuid4().hex[:6]}"
    body = WRITER_BODY.format(images=writer_images.url)
    missing = f"{writer_images.url}/gone.png"
    start_worker(
        processes,
        worker_env(db.engine.url.render_as_string(hide_password=False), data_dir),
        slots=1,
        log=tmp_path / "worker.log",
    )

    # A 404 image: the task fails naming it, and nothing reaches the media library.
    before = len(_our_uploads(site))
    [broken_id] = _publish_all(db, user, account, [{"title": "Broken", "body": f"![x]({missing})"}])
    broken = _finished(db, broken_id)
    assert broken["status"] == "failed" and missing in (broken["error_message"] or "")
    assert len(_our_uploads(site)) == before

    [post_id] = _publish_all(
        db, user, account, [{"title": title, "body": body, "tags": ["Queue<T>"]}]
    )
    task = _finished(db, post_id)
    assert task["status"] == "succeeded", f"{task['error_class']}: {task['error_message']}"
    assert any("<iframe>" in w for w in task["warnings"]), task["warnings"]
    assert task_out(task).warnings == task["warnings"]  # the API's answer names them too

    [post] = [p for p in site.posts(status="any", per_page=100) if str(p["id"]) == task["post_id"]]
    raw = post["content"]["raw"]
    for block in ("paragraph", "list", "table", "image", "quote", "code"):
        assert f"<!-- wp:{block}" in raw, f"no {block} block in the post"
    [wide] = [m for m in _our_uploads(site) if m["post"] == post["id"]]  # attached to its post
    assert f"wp-image-{wide['id']}" in raw
    assert [t["name"] for t in site.tags(post["tags"])] in (["Queue&lt;T&gt;"], ["Queue<T>"])

    # Published again (another article, the same picture): the upload is reused.
    uploads = len(_our_uploads(site))
    [again_id] = _publish_all(db, user, account, [{"title": f"Again {title[-6:]}", "body": body}])
    assert _finished(db, again_id)["status"] == "succeeded"
    assert len(_our_uploads(site)) == uploads

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.set_default_timeout(8000)
        page.goto(task["result_url"])
        shot = tmp_path / "real-wordpress-post.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the post: {shot}")
        assert page.evaluate("window.__pwned") is None, "the excerpt's code ran on the post page"
        assert page.locator("h1").first.inner_text().strip() == title
        assert page.locator("table td.has-text-align-center").first.inner_text() == "b"
        tasks = page.locator("li.task-list-item")
        assert [t.inner_text() for t in tasks.all()] == ["☑\ufe0e written", "☐\ufe0e reviewed"]
        assert tasks.locator("img").count() == 0, "a task's box became an (offline) emoji image"
        assert page.locator("#fn1").count() == 1
        image = page.locator(f"img.wp-image-{wide['id']}")
        column = page.locator(".wp-block-post-content, .entry-content").first
        assert image.bounding_box()["width"] <= column.bounding_box()["width"] + 1
        # WordPress sized it: the "large" copy, with width, height and a srcset it printed.
        assert "-1024x" in (image.get_attribute("src") or "")
        assert image.get_attribute("srcset") and image.get_attribute("width") == "1024"
        page.goto(f"{site.base_url}/")  # the home page lists the title and the excerpt
        page.screenshot(path=str(tmp_path / "real-wordpress-home.png"), full_page=True)
        assert page.evaluate("window.__pwned") is None, "the excerpt's code ran on the home page"
        assert title in page.locator("body").inner_text()
        browser.close()


def test_a_republish_updates_the_one_real_post_with_an_attached_image(
    wordpress: WordPressSite, sqlite_db: Database, processes, tmp_path: Path
) -> None:
    """The article published, then edited (a paragraph, an image beside its Markdown file) and
    published again through the one publish use case: one post on WordPress, updated in place,
    showing the attached image from its media library."""
    from contenthub.services import articles
    from contenthub.services.publishing import Target, publish
    from contenthub.services.users import Principal

    site, db = wordpress, sqlite_db
    data_dir = tmp_path / "data"
    sealed = SecretBox.from_env(data_dir).seal(site.credentials)
    user = make_user(db, "bea")
    me = Principal(user, "bea", False)
    account = make_account(
        db, user, "blog", platform="wordpress", options=site.options, credentials=sealed
    )
    title = f"Updated in place {uuid.uuid4().hex[:8]}"
    article = db.write(
        lambda s: articles.article_create(
            s, me, title=title, body="The first version.\n", tags=["contenthub"], now=T0
        )
    ).id
    start_worker(
        processes,
        worker_env(db.engine.url.render_as_string(hide_password=False), data_dir),
        slots=1,
        log=tmp_path / "worker.log",
    )

    def published() -> dict[str, Any]:
        [row] = publish(
            db,
            me,
            [Target(article, [account])],
            priority=5,
            scheduled_at=None,
            per_minute=20,
            now=T0,
        ).tasks

        def finished() -> dict[str, Any] | None:
            got = db.read(lambda s: storage.task_get(s, row["public_id"], user_id=None))
            return got if got["status"] in FINAL else None

        done = wait_until(finished, timeout=120, what="the publish to WordPress to finish")
        assert done["status"] == "succeeded", done["error_message"]
        return done

    first = published()
    edited = "The first version.\n\nA second paragraph.\n\n![A red square](img/red.png)\n"
    db.write(lambda s: articles.article_update(s, article, scope=None, now=T0, body=edited))
    image = [articles.AttachmentFile("img/red.png", BODY_PNG)]
    db.write(lambda s: articles.attachments_store(s, article, image, scope=None, now=T0))
    second = published()

    assert second["outcome"] == "updated" and second["updates"] == first["post_id"]
    assert second["post_id"] == first["post_id"] and second["result_url"] == first["result_url"]
    [post] = site.posts(search=title, status="any")  # one post, not "…-2"
    assert str(post["id"]) == first["post_id"] and post["status"] == "publish"
    [src] = _image_sources(post["content"]["rendered"])
    assert src.startswith(f"{site.base_url}/wp-content/uploads/")
    assert _download(src) == BODY_PNG
    _assert_public_page(site, second["result_url"], title, "A second paragraph", src)
