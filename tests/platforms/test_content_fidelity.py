"""What a reader sees: hostile titles and excerpts stay text on every adapter's sandbox twin,
images that cannot be had fail the publish before anything is uploaded, and WordPress gets
block markup whose images are uploaded once and attached to the post."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from contenthub.errors import Rejected
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, png, posts_of, publish

PLATFORMS = ["zhihu", "wordpress", "devto", "juejin", "wechat", "csdn"]
UPLOADS_IMAGES = ["zhihu", "wordpress", "juejin", "wechat", "csdn"]
HOSTILE_TITLE = "Why <script> tags block rendering (and how async & defer help) Queue<T>"
SHORT_HOSTILE_TITLE = "<script> & async: Queue<T>"  # WeChat's titles: 32 characters at most
HOSTILE_TAG = "<b onmouseover=alert(3)>bold</b>"
HOSTILE_CODE = "<img src=x onerror=alert(1)>"
HOSTILE_BODY = (
    f"Show `{HOSTILE_CODE}` in a sentence, and `<script>alert(2)</script>` too, so that the "
    "summary every platform builds starts with code that must stay text.\n\n"
    "A second paragraph long enough for the platforms that want a longer summary.\n"
)


class _Page(HTMLParser):
    """The elements a browser would build from a page, and the text of its h1 and summary."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, str] = {"h1": "", "summary": ""}
        self._in: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "h1" or (tag == "p" and dict(attrs).get("class") == "summary"):
            self._in = "h1" if tag == "h1" else "summary"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "p"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.texts[self._in] += data

    def live_markup(self) -> list[str]:
        """Scripts and event handlers: what must never come from an article's text."""
        found = [tag for tag, _ in self.elements if tag == "script"]
        found += [
            f"{tag}[{name}]"
            for tag, attrs in self.elements
            for name in attrs
            if name.lower().startswith("on")
        ]
        return found


def _task(sandbox: SandboxServer, platform: str, account: dict[str, Any], **overrides: Any):
    if platform == "wechat" and "cover" not in overrides:
        overrides["cover"] = sandbox.client.put_web_file(
            "fidelity-cover.png", png(4, 4), "image/png"
        )
    return content(account, **overrides)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_hostile_title_and_excerpt_stay_text(sandbox: SandboxServer, platform: str) -> None:
    account = new_account(sandbox, platform)
    title = SHORT_HOSTILE_TITLE if platform == "wechat" else HOSTILE_TITLE
    tags = ["Python", HOSTILE_TAG]
    task = _task(sandbox, platform, account, title=title, body=HOSTILE_BODY, tags=tags)

    result = publish(task, platform, RecordingContext())

    page = _Page(httpx.get(result.url or "", timeout=10).text)
    assert page.live_markup() == [], f"{platform}'s public page runs the article's text"
    assert page.texts["h1"] == title  # shown as written: not cut, not double-escaped
    if page.texts["summary"]:  # the platforms that show the summary: the code, as text
        assert HOSTILE_CODE in page.texts["summary"]
    [post] = posts_of(sandbox, platform, account)
    assert post["status"] == "published"


def test_wordpress_gets_blocks_with_media_uploaded_once_and_attached(
    sandbox: SandboxServer,
) -> None:
    account = new_account(sandbox, "wordpress")
    picture = sandbox.client.put_web_file("fidelity-block.png", png(5, 5, shade=7), "image/png")
    body = (
        f"Intro with a task list:\n\n- [x] done\n- [ ] todo\n\n![A picture]({picture})\n\n"
        "| left | centre | right |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n\n> A quote.\n\n"
        "```python\nprint('hi')\n```\n\nA claim[^1] and https://example.com/bare\n\n"
        "[^1]: The footnote.\n"
    )
    first = publish(content(account, body=body), "wordpress", RecordingContext())
    second = publish(content(account, body=body + "\nEdited.\n"), "wordpress", RecordingContext())

    posts = {p["id"]: p for p in posts_of(sandbox, "wordpress", account)}
    markup = posts[first.post_id]["body"]
    for block in ("paragraph", "list", "image", "table", "quote", "code"):
        assert f"<!-- wp:{block}" in markup, f"no {block} block"
    assert "☑\ufe0e done" in markup and "☐\ufe0e todo" in markup
    assert 'class="has-text-align-center" data-align="center"' in markup
    assert 'href="https://example.com/bare"' in markup and 'id="fn1"' in markup
    auth = httpx.BasicAuth(
        account["credentials"]["username"], account["credentials"]["app_password"]
    )
    api = f"{account['options']['base_url']}/wp-json/wp/v2"
    library = httpx.get(f"{api}/media", auth=auth, timeout=10).json()
    assert len(library) == 1, "the same picture was uploaded again by the second publish"
    [media] = library
    assert f'"id":{media["id"]}' in markup and f"wp-image-{media['id']}" in markup
    assert f"wp-image-{media['id']}" in posts[second.post_id]["body"]
    assert media["post"] == int(first.post_id), "the upload is not attached to its post"


def _image_uploads(sandbox: SandboxServer, platform: str, account: dict[str, Any]) -> int:
    return sum(
        1
        for _, name, operation in sandbox.client.operations(platform)
        if name == account["name"] and operation == "image"
    )


@pytest.mark.parametrize("platform", [*UPLOADS_IMAGES, "devto"])
def test_a_missing_image_fails_the_publish_naming_it(sandbox: SandboxServer, platform: str) -> None:
    account = new_account(sandbox, platform)
    working = sandbox.client.put_web_file(f"{platform}-ok.png", png(3, 3, shade=9), "image/png")
    missing = working.replace(f"{platform}-ok.png", f"{platform}-gone.png")
    body = f"![fine]({working})\n\n![gone]({missing})\n\nText enough for a summary of the post."

    with pytest.raises(Rejected, match=f"image {missing} cannot be downloaded .HTTP 404"):
        publish(_task(sandbox, platform, account, body=body), platform, RecordingContext())
    assert _image_uploads(sandbox, platform, account) == 0, "media was left behind"
    assert posts_of(sandbox, platform, account) == []


@pytest.mark.parametrize("platform", UPLOADS_IMAGES)
def test_a_missing_cover_fails_before_any_body_image_is_uploaded(
    sandbox: SandboxServer, platform: str
) -> None:
    account = new_account(sandbox, platform)
    working = sandbox.client.put_web_file(f"{platform}-b.png", png(3, 3, shade=11), "image/png")
    cover = working.replace(f"{platform}-b.png", f"{platform}-no-cover.png")
    task = content(account, body=f"![body]({working})\n\nEnough words for a summary.", cover=cover)

    with pytest.raises(Rejected, match=f"image {cover} cannot be downloaded"):
        publish(task, platform, RecordingContext())
    assert _image_uploads(sandbox, platform, account) == 0, "body images were uploaded first"


def test_an_image_address_with_spaces_is_uploaded_whole(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "wordpress")
    spaced = sandbox.client.put_web_file("my picture 1.png", png(4, 3, shade=5), "image/png")
    assert " " in spaced
    ctx = RecordingContext()

    publish(content(account, body=f"![spaces](<{spaced}>)\n\nSome words."), "wordpress", ctx)

    [post] = posts_of(sandbox, "wordpress", account)
    assert list(ctx.checkpoints["images"]) == [spaced]
    assert spaced not in post["body"] and "/wp-content/uploads/" in post["body"]


def test_the_local_site_keeps_a_hostile_title_and_tag_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTENTHUB_LOCAL_ROOTS", str(tmp_path))  # as an administrator allows it
    account = {"name": "site", "options": {"root": str(tmp_path / "site")}, "credentials": {}}
    task = content(account, title=HOSTILE_TITLE, body=HOSTILE_BODY, tags=[HOSTILE_TAG])

    result = publish(task, "local", RecordingContext())

    post = Path((result.url or "").removeprefix("file://"))
    page = _Page(post.read_text(encoding="utf-8"))
    assert page.live_markup() == [] and page.texts["h1"] == HOSTILE_TITLE
    for listing in post.parent.rglob("*.html"):  # the index and any other page of the site
        assert _Page(listing.read_text(encoding="utf-8")).live_markup() == [], listing


def test_a_wordpress_cover_already_on_the_site_is_its_library_entry(
    sandbox: SandboxServer,
) -> None:
    account = new_account(sandbox, "wordpress")
    picture = sandbox.client.put_web_file("fidelity-hosted.png", png(6, 4, shade=3), "image/png")
    publish(content(account, body=f"![p]({picture})\n\nWords."), "wordpress", RecordingContext())
    [first] = posts_of(sandbox, "wordpress", account)
    hosted = first["body"].split('src="', 1)[1].split('"', 1)[0]  # its URL on the site

    publish(content(account, body="Words.", cover=hosted), "wordpress", RecordingContext())

    auth = httpx.BasicAuth(
        account["credentials"]["username"], account["credentials"]["app_password"]
    )
    api = f"{account['options']['base_url']}/wp-json/wp/v2"
    [media] = httpx.get(f"{api}/media", auth=auth, timeout=10).json()  # nothing new uploaded
    second = next(p for p in posts_of(sandbox, "wordpress", account) if p["id"] != first["id"])
    assert second["cover"] == media["source_url"]


def test_an_image_that_is_no_image_fails_naming_it(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "wordpress")
    page = sandbox.client.put_web_file("not-a-picture.png", b"<html>moved</html>", "text/html")

    with pytest.raises(Rejected, match=f"image {page} is text/html, which the platform refuses"):
        publish(content(account, body=f"![x]({page})\n\nWords."), "wordpress", RecordingContext())
    assert _image_uploads(sandbox, "wordpress", account) == 0
