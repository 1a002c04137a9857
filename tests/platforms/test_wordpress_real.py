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
